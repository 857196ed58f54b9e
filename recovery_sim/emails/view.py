"""The variables a template sees: the context's facts, formatted for the reader's locale and time zone.

Templates get ready-made strings (money, dates) so a user's own template cannot get the formats wrong;
the raw facts stay available under `facts` for custom needs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from recovery_sim.domain import rules
from recovery_sim.domain.enums import CollectionMethod, EmailType
from recovery_sim.emails import boleto
from recovery_sim.emails.branding import Branding
from recovery_sim.emails.context import EmailContext
from recovery_sim.emails.formats import format_day, format_moment, format_money, format_month, local_time
from recovery_sim.emails.i18n import html_lang
from recovery_sim.emails.plan import LinkPlan


def due_state(context: EmailContext, timezone: str) -> str | None:
    """Whether the due date is ahead, today or past, by calendar day where the reader is."""
    if context.due_date is None:
        return None
    due = local_time(context.due_date, timezone).date()
    sent = local_time(context.sent_at, timezone).date()
    return "upcoming" if due > sent else "today" if due == sent else "overdue"


def _card(context: EmailContext) -> dict[str, str] | None:
    if not (context.card_brand and context.card_last4):
        return None
    return {
        "brand": context.card_brand,
        "last4": context.card_last4,
        "summary": f"{context.card_brand} •••• {context.card_last4}",
    }


def _invoice_shown(context: EmailContext) -> str:
    """The invoice as the customer knows it: its number; never the billing system's object id."""
    return context.invoice_number or ""


def _boleto_line(context: EmailContext) -> str | None:
    return boleto.grouped(context.boleto_line) if context.boleto_line else None


def build_view(
    email_type: EmailType,
    context: EmailContext,
    locale: str,
    branding: Branding,
    links: LinkPlan,
    plan_label: str = "",
) -> dict[str, Any]:
    """Everything the templates may reference (see docs/emails.md for the list); `plan_label` is the
    plan's name in the reader's language."""
    timezone = rules.display_timezone(context.customer_timezone, branding.timezone)  # R7b

    def day(moment: Any) -> str | None:
        return format_day(moment, timezone, locale) if moment is not None else None

    def moment(value: Any) -> str | None:
        return format_moment(value, timezone, locale) if value is not None else None

    expiry_month = (
        format_month(context.card_exp_year, context.card_exp_month, locale)
        if context.card_exp_year and context.card_exp_month
        else None
    )
    return {
        "email_type": email_type.value,
        "locale": locale,
        "html_lang": html_lang(locale),
        "timezone": timezone,
        "brand": {
            "name": branding.name,
            "logo": branding.logo,
            "logo_dark": branding.logo_dark,
            "logo_width": branding.logo_width,
            "support_email": branding.support_email,
            "support_url": branding.support_url,
            "legal_address": branding.legal_address,
            "colors": dataclasses.asdict(branding.palette()),
        },
        "customer": {"name": context.customer_name, "email": context.customer_email},
        "amount": format_money(context.amount, context.currency, locale),
        "plan": plan_label or context.plan_name,
        "plan_interval": context.plan_interval.value if context.plan_interval else "",
        "invoice": _invoice_shown(context),
        "credit_note_id": context.credit_note_id or "",
        "subscription_id": context.subscription_id,
        "collection_method": context.collection_method.value,
        "send_invoice": context.collection_method is CollectionMethod.SEND_INVOICE,
        "payment_method": context.payment_method.value,
        "card": _card(context),
        "card_expiry_month": expiry_month,
        "decline_code": context.decline_code or "",
        "attempt": context.attempt,
        "attempts_allowed": context.attempts_allowed,
        "is_last_attempt": bool(context.is_last_attempt),
        "end_action": context.end_action.value if context.end_action else "",
        "dunning_ends": moment(context.dunning_ends_at),
        "dunning_ends_date": day(context.dunning_ends_at),
        "boleto_line": _boleto_line(context),
        "had_payment_method": context.had_payment_method,
        "cancellation_reason": context.cancellation_reason or "",
        "sent_date": day(context.sent_at),
        "due_date": day(context.due_date),
        "due_state": due_state(context, timezone),
        "renewal_date": day(context.period_end),
        "trial_end_date": day(context.trial_end),
        "next_attempt_date": day(context.next_attempt_at),
        "payment_expires": moment(context.payment_expires_at),
        "payment_expires_date": day(context.payment_expires_at),
        "update_url": links.update_url,
        "link_expires": moment(links.live_until) if links.update_url else None,
        "link_ends_with_payment": bool(
            links.update_url and context.payment_expires_at and links.live_until == context.payment_expires_at
        ),
        "invoice_url": links.invoice_url,
        "link_withheld": links.link_withheld,
        "management_url": links.management_url,
        "facts": context.model_dump(),
    }
