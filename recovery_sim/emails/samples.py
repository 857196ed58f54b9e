"""Realistic facts for previews, goldens and docs: one believable customer per locale, one case per type.

Every locale tells the same story on the same dates with the same plan and amounts, so emails can be
reviewed side by side: only the language, the customer's time zone and (in Brazil) the currency differ.
Everything is fixed (no clock, no randomness) so previews and golden files are reproducible. The people
are fictional; the invoice numbers follow the brand's own numbering.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from recovery_sim.domain.enums import (
    CollectionMethod,
    DunningAction,
    EmailType,
    PaymentMethodKind,
    PlanInterval,
    SubscriptionStatus,
)
from recovery_sim.emails import boleto
from recovery_sim.emails.branding import Branding, resolve_branding
from recovery_sim.emails.context import EmailContext
from recovery_sim.emails.i18n import check_locale

SAMPLE_SENT_AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
"""When sample emails are sent: a Monday morning in early March 2026."""

DAY = dt.timedelta(days=1)
MONTHLY_PRICE, ANNUAL_PRICE = 4900, 49000
"""The same prices in every locale, in the customer's currency's minor units."""
RETRY_DAYS = (3, 8, 15)
"""The samples' retry schedule: days after the first failure (the `fixed` retry default)."""
RENEWAL_INVOICE, ONE_OFF_INVOICE = 12, 9
"""Sequence numbers of the sample invoices in the brand's numbering (`NW-4F2A-0012`)."""

PERSONAS: dict[str, dict[str, Any]] = {
    "en": {
        "customer_name": "Alex Morgan",
        "customer_email": "alex.morgan@example.co.uk",
        "customer_timezone": "Europe/London",
        "currency": "EUR",
        "card_brand": "Visa",
    },
    "fr": {
        "customer_name": "Camille Dubois",
        "customer_email": "camille.dubois@example.fr",
        "customer_timezone": "Europe/Paris",
        "currency": "EUR",
        "card_brand": "Visa",
    },
    "de": {
        "customer_name": "Jonas Becker",
        "customer_email": "jonas.becker@example.de",
        "customer_timezone": "Europe/Berlin",
        "currency": "EUR",
        "card_brand": "Mastercard",
    },
    "es": {
        "customer_name": "Lucía García",
        "customer_email": "lucia.garcia@example.es",
        "customer_timezone": "Europe/Madrid",
        "currency": "EUR",
        "card_brand": "Mastercard",
    },
    "pt_BR": {
        "customer_name": "João Silva",
        "customer_email": "joao.silva@example.com.br",
        "customer_timezone": "America/Sao_Paulo",
        "currency": "BRL",
        "card_brand": "Elo",
    },
}
"""Fictional customers, one per locale, in the markets the default scenario sells to."""


def _dunning(sent: dt.datetime, days_since_first_failure: int) -> dict[str, Any]:
    """Where a renewal's dunning stands `days_since_first_failure` after the first failed attempt."""
    first = sent - days_since_first_failure * DAY
    attempt = 1 + sum(1 for d in RETRY_DAYS if d <= days_since_first_failure)
    following = [d for d in RETRY_DAYS if d > days_since_first_failure]
    return {
        "decline_code": "insufficient_funds",
        "attempt": attempt,
        "attempts_allowed": 1 + len(RETRY_DAYS),
        "is_last_attempt": not following,
        "next_attempt_at": first + following[0] * DAY if following else None,
        "dunning_ends_at": first + RETRY_DAYS[-1] * DAY,
        "end_action": DunningAction.CANCEL,
    }


def _confirmation(email_type: EmailType, locale: str, sent: dt.datetime) -> dict[str, Any]:
    """R8: 3-D Secure, or in Brazil a Boleto with its typable line."""
    requested = sent - (DAY if email_type is EmailType.PAYMENT_ACTION_REMINDER else dt.timedelta(0))
    if locale != "pt_BR":
        return {"payment_expires_at": requested + 7 * DAY}
    expires = requested + 3 * DAY
    return {
        "payment_method": PaymentMethodKind.BOLETO,
        "payment_expires_at": expires,
        "boleto_line": boleto.placeholder_line(RENEWAL_INVOICE, expires.date(), MONTHLY_PRICE),
    }


def _case(email_type: EmailType, locale: str, sent: dt.datetime) -> dict[str, Any]:
    """The facts that make each email type's story plausible; a plain monthly subscription by default."""
    monthly = {
        "plan_name": "Team monthly",
        "plan_interval": PlanInterval.MONTH,
        "amount": MONTHLY_PRICE,
        "period_end": sent + 28 * DAY,
    }
    e = EmailType
    if email_type is e.PAYMENT_FAILED:  # R4: the first failure of the renewal invoice
        return {**monthly, **_dunning(sent, 0)}
    if email_type is e.FINAL_NOTICE:  # three failures in, three days before the end action
        return {**monthly, **_dunning(sent, RETRY_DAYS[-1] - 3)}
    if email_type in (e.PAYMENT_ACTION_REQUIRED, e.PAYMENT_ACTION_REMINDER):
        return {**monthly, **_confirmation(email_type, locale, sent)}
    if email_type is e.INVOICE_REMINDER:  # R5: send_invoice, three days before the due date
        return {
            **monthly,
            "collection_method": CollectionMethod.SEND_INVOICE,
            "payment_method": PaymentMethodKind.SEPA_DEBIT,
            "due_date": sent + 3 * DAY,
        }
    if email_type is e.TRIAL_WILL_END:  # R6a: seven days before the trial ends, no card yet
        return {
            **monthly,
            "trial_end": sent + 7 * DAY,
            "period_end": sent + 7 * DAY,
            "had_payment_method": False,
        }
    if email_type is e.TRIAL_ENDED_PAUSED:  # R6b
        return {
            **monthly,
            "trial_end": sent - dt.timedelta(minutes=30),
            "period_end": sent + 30 * DAY,
            "had_payment_method": False,
            "subscription_status": SubscriptionStatus.PAUSED,
        }
    if email_type is e.UPCOMING_RENEWAL:  # R7: annual plan, seven days ahead
        return {
            "plan_name": "Team annual",
            "plan_interval": PlanInterval.YEAR,
            "amount": ANNUAL_PRICE,
            "period_end": sent + 7 * DAY,
        }
    if email_type is e.CARD_EXPIRING:  # R9: the card is valid through the end of this month
        return {**monthly, "card_exp_month": sent.month, "card_exp_year": sent.year}
    if email_type is e.INVOICE_FINALIZED:
        return {**monthly, "due_date": sent}
    if email_type is e.ONE_OFF_INVOICE_UNPAID:
        return {
            "plan_name": "",
            "amount": 15000,
            "collection_method": CollectionMethod.SEND_INVOICE,
            "payment_method": PaymentMethodKind.SEPA_DEBIT,
            "due_date": sent - 5 * DAY,
        }
    if email_type is e.CREDIT_NOTE_CREATED:
        return {**monthly, "amount": 1500, "credit_note_id": "CN-0007"}
    if email_type is e.REFUND_ISSUED:
        return {**monthly, "amount": 1500}
    if email_type is e.SUBSCRIPTION_CANCELED:
        return {
            **monthly,
            "decline_code": "insufficient_funds",
            "subscription_status": SubscriptionStatus.CANCELED,
            "cancellation_reason": "payment_failed",
        }
    return monthly  # a receipt, or a new type until it needs facts of its own (its required_facts say)


def sample_context(
    email_type: EmailType | str,
    locale: str = "en",
    sent_at: dt.datetime | None = None,
    *,
    branding: Branding | str | None = None,
    **facts: Any,
) -> EmailContext:
    """Believable facts for `email_type` as sent to the `locale` persona; the invoice is numbered the
    way `branding` numbers invoices (default: the default brand); `facts` override any field."""
    locale = check_locale(locale)
    kind = EmailType(str(email_type))
    sent = sent_at or SAMPLE_SENT_AT
    persona = PERSONAS[locale]
    brand = resolve_branding(branding)
    one_off = kind is EmailType.ONE_OFF_INVOICE_UNPAID
    base: dict[str, Any] = {
        "customer_name": persona["customer_name"],
        "customer_email": persona["customer_email"],
        "customer_timezone": persona["customer_timezone"],
        "currency": persona["currency"],
        "subscription_id": "sub_1Q8SAMPLE0042",
        "invoice_id": "in_1Q8ONBOARD" if one_off else "in_1Q8RENEW0311",
        "invoice_number": brand.invoice_number(ONE_OFF_INVOICE if one_off else RENEWAL_INVOICE),
        "sent_at": sent,
        "card_brand": persona["card_brand"],
        "card_last4": "4242",
        "card_exp_month": 8,
        "card_exp_year": 2028,
    }
    return EmailContext.coerce({**base, **_case(kind, locale, sent), **facts})
