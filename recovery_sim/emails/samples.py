"""Realistic facts for previews, goldens and docs: one believable customer per locale, one case per type.

Everything is fixed (no clock, no randomness) so previews and golden files are reproducible.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from recovery_sim.domain.enums import CollectionMethod, EmailType, PaymentMethodKind, SubscriptionStatus
from recovery_sim.emails.context import EmailContext
from recovery_sim.emails.i18n import check_locale

SAMPLE_SENT_AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
"""When sample emails are sent: a Monday morning in early March 2026."""

DAY = dt.timedelta(days=1)

PERSONAS: dict[str, dict[str, Any]] = {
    "en": {
        "customer_name": "Alex Morgan",
        "customer_email": "alex.morgan@example.com",
        "customer_timezone": "America/Chicago",
        "currency": "USD",
        "price": 4900,
        "annual": 49000,
        "card_brand": "Visa",
    },
    "fr": {
        "customer_name": "Camille Dubois",
        "customer_email": "camille.dubois@example.fr",
        "customer_timezone": "Europe/Paris",
        "currency": "EUR",
        "price": 4900,
        "annual": 49000,
        "card_brand": "Visa",
    },
    "de": {
        "customer_name": "Jonas Becker",
        "customer_email": "jonas.becker@example.de",
        "customer_timezone": "Europe/Berlin",
        "currency": "EUR",
        "price": 4900,
        "annual": 49000,
        "card_brand": "Mastercard",
    },
    "es": {
        "customer_name": "Lucía García",
        "customer_email": "lucia.garcia@example.es",
        "customer_timezone": "Europe/Madrid",
        "currency": "EUR",
        "price": 1900,
        "annual": 19000,
        "card_brand": "Mastercard",
    },
    "pt_BR": {
        "customer_name": "João Silva",
        "customer_email": "joao.silva@example.com.br",
        "customer_timezone": "America/Sao_Paulo",
        "currency": "BRL",
        "price": 9900,
        "annual": 99000,
        "card_brand": "Elo",
    },
}


def _case(email_type: EmailType, locale: str, sent: dt.datetime) -> dict[str, Any]:
    """The facts that make each email type's story plausible; a plain monthly subscription by default."""
    persona = PERSONAS[locale]
    monthly = {"plan_name": "Team monthly", "amount": persona["price"], "period_end": sent + 28 * DAY}
    e = EmailType
    if email_type is e.PAYMENT_FAILED:  # R4: first failure of the renewal invoice
        return {
            **monthly,
            "decline_code": "insufficient_funds",
            "attempt": 1,
            "next_attempt_at": sent + 3 * DAY,
        }
    if email_type in (
        e.PAYMENT_ACTION_REQUIRED,
        e.PAYMENT_ACTION_REMINDER,
    ):  # R8: 3-D Secure, Boleto in Brazil
        boleto = locale == "pt_BR"
        requested = sent - (DAY if email_type is e.PAYMENT_ACTION_REMINDER else dt.timedelta(0))
        return {
            **monthly,
            "payment_method": PaymentMethodKind.BOLETO if boleto else PaymentMethodKind.CARD,
            "payment_expires_at": requested + (3 if boleto else 7) * DAY,
        }
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
        return {"plan_name": "Team annual", "amount": persona["annual"], "period_end": sent + 7 * DAY}
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
            "invoice_id": "in_1Q8ONBOARD",
            "due_date": sent - 5 * DAY,
        }
    if email_type is e.CREDIT_NOTE_CREATED:
        return {**monthly, "amount": 1500, "credit_note_id": "cn_1Q8CREDIT07"}
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
    email_type: EmailType | str, locale: str = "en", sent_at: dt.datetime | None = None, **facts: Any
) -> EmailContext:
    """Believable facts for `email_type` as sent to the `locale` persona; `facts` override any field."""
    locale = check_locale(locale)
    kind = EmailType(str(email_type))
    sent = sent_at or SAMPLE_SENT_AT
    persona = PERSONAS[locale]
    base: dict[str, Any] = {
        "customer_name": persona["customer_name"],
        "customer_email": persona["customer_email"],
        "customer_timezone": persona["customer_timezone"],
        "currency": persona["currency"],
        "subscription_id": "sub_1Q8SAMPLE0042",
        "invoice_id": "in_1Q8RENEW0311",
        "sent_at": sent,
        "card_brand": persona["card_brand"],
        "card_last4": "4242",
        "card_exp_month": 8,
        "card_exp_year": 2028,
    }
    return EmailContext.coerce({**base, **_case(kind, locale, sent), **facts})
