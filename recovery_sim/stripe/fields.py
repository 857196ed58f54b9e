"""The Stripe fields read per object type: one typed-row column each, from one or more Stripe paths.

Why a table: the reader's schema, the flattening, the required-field check and docs/stripe.md all come
from it, so a field is added in one place. The paths are the shapes of API versions before 2025-03-31
(`invoice.subscription`, `charge.invoice`); where a field only moved in 2025-03-31 ("basil"), the new
location follows as a fallback (first non-null wins). Objects that exist only in the newer versions
(`invoice_payments`) need a table of their own beside this one, producing the same typed rows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import polars as pl


class Field(NamedTuple):
    """A typed-row column, the Stripe paths it is read from (`[0]` = first list element), its dtype."""

    column: str
    paths: tuple[str, ...]
    dtype: Any
    required: bool


STR, INT, BOOL = pl.String, pl.Int64, pl.Boolean

FIELDS: dict[str, list[Field]] = {
    # column, Stripe paths (first non-null wins), dtype, required
    "customers": [
        Field("id", ("id",), STR, True),
        Field("created", ("created",), INT, False),
        Field("email", ("email",), STR, False),
        Field("currency", ("currency",), STR, False),
        Field("country", ("address.country",), STR, False),
        Field("locales", ("preferred_locales",), pl.List(STR), False),
        Field("default_pm", ("invoice_settings.default_payment_method",), STR, False),
        Field("timezone", ("metadata.timezone",), STR, False),
        Field("livemode", ("livemode",), BOOL, False),
    ],
    "subscriptions": [
        Field("id", ("id",), STR, True),
        Field("customer", ("customer",), STR, True),
        Field("status", ("status",), STR, True),
        Field("collection_method", ("collection_method",), STR, False),
        Field("created", ("created",), INT, False),
        Field("start_date", ("start_date",), INT, False),
        Field("trial_start", ("trial_start",), INT, False),
        Field("trial_end", ("trial_end",), INT, False),
        Field(
            "current_period_start", ("current_period_start", "items.data[0].current_period_start"), INT, False
        ),
        Field("current_period_end", ("current_period_end", "items.data[0].current_period_end"), INT, False),
        Field("cancel_at_period_end", ("cancel_at_period_end",), BOOL, False),
        Field("canceled_at", ("canceled_at",), INT, False),
        Field("ended_at", ("ended_at",), INT, False),
        Field("cancel_reason", ("cancellation_details.reason",), STR, False),
        Field("days_until_due", ("days_until_due",), INT, False),
        Field("price_id", ("items.data[0].price.id",), STR, False),
        Field("plan", ("items.data[0].price.nickname",), STR, False),
        Field("unit_amount", ("items.data[0].price.unit_amount",), INT, True),
        Field("price_currency", ("items.data[0].price.currency",), STR, True),
        Field("interval", ("items.data[0].price.recurring.interval",), STR, True),
        Field("interval_count", ("items.data[0].price.recurring.interval_count",), INT, False),
        Field("livemode", ("livemode",), BOOL, False),
    ],
    "invoices": [
        Field("id", ("id",), STR, True),
        Field("customer", ("customer",), STR, True),
        Field("subscription", ("subscription", "parent.subscription_details.subscription"), STR, False),
        Field("status", ("status",), STR, True),
        Field("amount_due", ("amount_due",), INT, True),
        Field("amount_paid", ("amount_paid",), INT, False),
        Field("currency", ("currency",), STR, True),
        Field("collection_method", ("collection_method",), STR, False),
        Field("billing_reason", ("billing_reason",), STR, False),
        Field("attempt_count", ("attempt_count",), INT, False),
        Field("next_payment_attempt", ("next_payment_attempt",), INT, False),
        Field("due_date", ("due_date",), INT, False),
        Field("created", ("created",), INT, True),
        Field("period_start", ("period_start",), INT, False),
        Field("period_end", ("period_end",), INT, False),
        Field("line_start", ("lines.data[0].period.start",), INT, False),
        Field("line_end", ("lines.data[0].period.end",), INT, False),
        Field("finalized_at", ("status_transitions.finalized_at",), INT, False),
        Field("paid_at", ("status_transitions.paid_at",), INT, False),
        Field("voided_at", ("status_transitions.voided_at",), INT, False),
        Field("uncollectible_at", ("status_transitions.marked_uncollectible_at",), INT, False),
        Field("livemode", ("livemode",), BOOL, False),
    ],
    "charges": [
        Field("id", ("id",), STR, True),
        Field("customer", ("customer",), STR, False),
        Field("invoice", ("invoice",), STR, False),
        Field("amount", ("amount",), INT, True),
        Field("currency", ("currency",), STR, True),
        Field("status", ("status",), STR, True),
        Field("failure_code", ("failure_code",), STR, False),
        Field("outcome_type", ("outcome.type",), STR, False),
        Field("outcome_reason", ("outcome.reason",), STR, False),
        Field("created", ("created",), INT, True),
        Field("payment_method", ("payment_method",), STR, False),
        Field("method_type", ("payment_method_details.type",), STR, False),
        Field("livemode", ("livemode",), BOOL, False),
    ],
    "payment_methods": [
        Field("id", ("id",), STR, True),
        Field("type", ("type",), STR, True),
        Field("customer", ("customer",), STR, False),
        Field("created", ("created",), INT, False),
        Field("exp_month", ("card.exp_month",), INT, False),
        Field("exp_year", ("card.exp_year",), INT, False),
        Field("livemode", ("livemode",), BOOL, False),
    ],
}
OBJECT_TYPES = tuple(FIELDS)


def row_schema(kind: str) -> dict[str, Any]:
    """The typed row of one object type: every reader of it, whatever the source, yields these columns."""
    return {"_row": pl.Int64, **{f.column: f.dtype for f in FIELDS[kind]}}
