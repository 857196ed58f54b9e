"""Enums shared by the engine, the rules, the importer and the emails.

Each enum's member order is its integer code in the engine's column buffers, so never reorder members;
append new ones at the end.
"""

from __future__ import annotations

from enum import StrEnum


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    PAUSED = "paused"


LINK_KILLING_STATUSES = frozenset(
    {SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED, SubscriptionStatus.UNPAID}
)
"""SPEC R11b: a hosted link dies as soon as the subscription reaches one of these."""


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class CollectionMethod(StrEnum):
    CHARGE_AUTOMATICALLY = "charge_automatically"
    SEND_INVOICE = "send_invoice"


class PaymentMethodKind(StrEnum):
    CARD = "card"
    BOLETO = "boleto"
    SEPA_DEBIT = "sepa_debit"


class PlanInterval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class DunningAction(StrEnum):
    """What happens when retries are exhausted (sibling page on payment retries)."""

    CANCEL = "cancel"
    MARK_UNPAID = "mark_unpaid"
    LEAVE_PAST_DUE = "leave_past_due"


class EmailType(StrEnum):
    """Every customer email the toolkit knows (SPEC, "Email types the toolkit must know")."""

    PAYMENT_FAILED = "payment_failed"  # R4
    PAYMENT_ACTION_REQUIRED = "payment_action_required"  # R8(1)
    PAYMENT_ACTION_REMINDER = "payment_action_reminder"  # R8(2)
    INVOICE_REMINDER = "invoice_reminder"  # R5
    TRIAL_WILL_END = "trial_will_end"  # R6a
    TRIAL_ENDED_PAUSED = "trial_ended_paused"  # R6b
    UPCOMING_RENEWAL = "upcoming_renewal"  # R7
    CARD_EXPIRING = "card_expiring"  # R9
    INVOICE_FINALIZED = "invoice_finalized"
    INVOICE_PAID = "invoice_paid"
    ONE_OFF_INVOICE_UNPAID = "one_off_invoice_unpaid"
    CREDIT_NOTE_CREATED = "credit_note_created"
    REFUND_ISSUED = "refund_issued"
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    FINAL_NOTICE = "final_notice"  # R4 escalation: the last notice before the end-of-dunning action


class EventKind(StrEnum):
    """What happened, one row per occurrence in the event log (docs/events.md)."""

    SUBSCRIPTION_CREATED = "subscription_created"
    TRIAL_ENDED = "trial_ended"
    SUBSCRIPTION_PAUSED = "subscription_paused"
    SUBSCRIPTION_ACTIVATED = "subscription_activated"
    INVOICE_CREATED = "invoice_created"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_ACTION_REQUIRED = "payment_action_required"
    PAYMENT_EXPIRED = "payment_expired"
    INVOICE_PAID = "invoice_paid"
    INVOICE_UNCOLLECTIBLE = "invoice_uncollectible"
    INVOICE_VOIDED = "invoice_voided"
    CARD_EXPIRED = "card_expired"
    CARD_UPDATED = "card_updated"
    PAYMENT_METHOD_UPDATED = "payment_method_updated"
    EMAIL_SENT = "email_sent"
    LINK_FOLLOWED = "link_followed"
    LINK_DEAD = "link_dead"
    SUBSCRIPTION_PAST_DUE = "subscription_past_due"
    SUBSCRIPTION_UNPAID = "subscription_unpaid"
    SUBSCRIPTION_CANCELED = "subscription_canceled"


class Actor(StrEnum):
    """Who caused an event: the enum in the event log's `actor` column."""

    SYSTEM = "system"
    RETRY = "retry"
    CUSTOMER_LINK = "customer_link"
    CUSTOMER_SELF = "customer_self"
    CARD_UPDATER = "card_updater"
    CUSTOMER = "customer"


class RecipientKind(StrEnum):
    """SPEC R12: in test mode only verified-domain and team-member addresses receive email."""

    EXTERNAL = "external"
    VERIFIED_DOMAIN = "verified_domain"
    TEAM_MEMBER = "team_member"
