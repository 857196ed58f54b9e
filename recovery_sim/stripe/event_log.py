"""The event log as the simulator writes it, rebuilt from what Stripe kept (docs/stripe.md, "Events")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from recovery_sim.domain.enums import CollectionMethod
from recovery_sim.simulation.events import ActorEnum, DeclineEnum, EventKindEnum
from recovery_sim.stripe.clock import Clock

_EVENT_ORDER = (
    "subscription_created",
    "trial_ended",
    "subscription_paused",
    "invoice_created",
    "payment_action_required",
    "payment_failed",
    "payment_succeeded",
    "invoice_paid",
    "subscription_activated",
    "payment_expired",
    "invoice_voided",
    "invoice_uncollectible",
    "card_updated",
    "payment_method_updated",
    "subscription_unpaid",
    "subscription_canceled",
)
"""Order of events at the same instant for one customer (the engine's recording order)."""


class _Events:
    """Collects the event log's rows kind by kind, typed as the simulator types them, inside the horizon."""

    def __init__(self, end: float) -> None:
        self.end = end
        self.parts: list[pl.DataFrame] = []

    def add(
        self,
        frame: pl.DataFrame,
        time: str,
        kind: str,
        amount: str | None = None,
        decline: str | pl.Expr | None = None,
        actor: pl.Expr | None = None,
        attempt: str | pl.Expr | None = None,
    ) -> None:
        def col(value: Any, default: Any) -> pl.Expr:
            if value is None:
                return pl.lit(default)
            return pl.col(value) if isinstance(value, str) else value

        invoice = pl.col("invoice_id") if "invoice_id" in frame.columns else pl.lit(None, dtype=pl.Int64)
        self.parts.append(
            frame.filter((pl.col(time) >= 0) & (pl.col(time) < self.end)).select(
                pl.col(time).alias("time"),
                pl.col("customer_id").cast(pl.Int64),
                invoice.alias("invoice_id"),
                pl.lit(kind).cast(EventKindEnum).alias("kind"),
                pl.lit(_EVENT_ORDER.index(kind), pl.Int8).alias("_order"),
                col(amount, 0).cast(pl.Int64).alias("amount"),
                col(decline, "").cast(DeclineEnum).alias("decline_code"),
                col(actor, "system").cast(ActorEnum).alias("actor"),
                col(attempt, 0).cast(pl.Int8).alias("attempt"),
            )
        )


def _with_write_off(subs: pl.DataFrame, details: pl.DataFrame) -> pl.DataFrame:
    """Each customer's last write-off time, to tell a dunning cancellation when no reason was exported."""
    written_off = (
        details.filter(pl.col("status_inv") == "uncollectible")
        .group_by("customer_id")
        .agg(pl.col("closed_at").max().alias("_written_off"))
    )
    return subs.join(written_off, on="customer_id", how="left")


_CANCEL_ACTOR = (
    pl.when(pl.col("cancel_reason") == "payment_failed")
    .then(pl.lit("system"))
    .when(
        pl.col("cancel_reason").is_null()
        & ((pl.col("_written_off") - pl.col("canceled_at")).abs() < 1 / 1440)
    )
    .then(pl.lit("system"))
    .otherwise(pl.lit("customer"))
)
"""`payment_failed` cancellations are involuntary (system); so is one with no reason beside a write-off."""


def event_log(invoices, details, charges, subs, customers, pms, clock: Clock) -> pl.DataFrame:
    """Every event inside the horizon, ordered as the engine records them, with the customer's currency."""
    d = details.select(
        "invoice_id",
        "customer_id",
        "created_at",
        "collection_method",
        "method_type",
        "needs_action",
        "paid_at",
        "closed_at",
        "paused_trial",
    ).join(invoices.select("invoice_id", "amount", pl.col("status").alias("status_inv")), on="invoice_id")
    ev = _Events(clock.end)
    _payment_events(ev, d, charges)
    _lifecycle_events(ev, d, subs, pms)
    origin = dt.datetime.combine(clock.start, dt.time(), tzinfo=dt.UTC)
    micros = (pl.col("time") * 86_400_000_000).round(0).cast(pl.Int64)
    currency = customers.select("customer_id", pl.col("currency").cast(pl.Categorical))
    return (
        pl.concat(ev.parts)
        .sort("time", "customer_id", "_order", "invoice_id", nulls_last=False)
        .join(currency, on="customer_id", how="left", maintain_order="left")
        .select(
            "time",
            (pl.lit(origin) + pl.duration(microseconds=micros)).dt.cast_time_unit("us").alias("at"),
            "customer_id",
            "invoice_id",
            "kind",
            "amount",
            "currency",
            "decline_code",
            "actor",
            "attempt",
        )
    )


_CHARGE_AUTO = pl.col("collection_method") == CollectionMethod.CHARGE_AUTOMATICALLY.value


def _payment_events(ev: _Events, d: pl.DataFrame, charges: pl.DataFrame) -> None:
    """Invoices created, charges failed, confirmed or succeeded, invoices paid, voided or written off."""
    ch = charges.select(
        "invoice_id", "customer_id", "time", "status", "needs_action", "decline_code", "rank"
    ).join(
        d.filter(_CHARGE_AUTO).select("invoice_id", pl.col("amount").alias("amount_invoice")),
        on="invoice_id",
    )
    retry = pl.when(pl.col("rank") > 1).then(pl.lit("retry")).otherwise(pl.lit("system"))
    ev.add(d, "created_at", "invoice_created", amount="amount")
    ev.add(
        ch.filter(pl.col("status") == "failed", ~pl.col("needs_action")),
        "time",
        "payment_failed",
        amount="amount_invoice",
        decline="decline_code",
        actor=retry,
        attempt="rank",
    )
    ev.add(ch.filter(pl.col("needs_action")), "time", "payment_action_required", amount="amount_invoice")
    ev.add(
        d.filter(_CHARGE_AUTO, pl.col("method_type") == "boleto", pl.col("needs_action")),
        "created_at",
        "payment_action_required",
        amount="amount",
    )
    ev.add(
        ch.filter(pl.col("status") == "succeeded"),
        "time",
        "payment_succeeded",
        amount="amount_invoice",
        actor=retry,
        attempt="rank",
    )
    ev.add(
        d.filter(~_CHARGE_AUTO, pl.col("paid_at").is_not_null()),
        "paid_at",
        "invoice_paid",
        amount="amount",
        actor=pl.lit("customer"),
        attempt=pl.lit(1),
    )
    ev.add(d.filter(pl.col("status_inv") == "void"), "closed_at", "invoice_voided", amount="amount")
    ev.add(
        d.filter(pl.col("status_inv") == "uncollectible"),
        "closed_at",
        "invoice_uncollectible",
        amount="amount",
    )
    ev.add(
        d.filter(pl.col("needs_action"), pl.col("paid_at").is_null(), pl.col("closed_at").is_not_null()),
        "closed_at",
        "payment_expired",
        amount="amount",
        decline=pl.lit("authentication_expired"),
    )


def _lifecycle_events(ev: _Events, d: pl.DataFrame, subs: pl.DataFrame, pms: pl.DataFrame) -> None:
    """Signups, trials, pauses and activations (R6b), payment method changes, unpaid and canceled."""
    ev.add(subs.filter(pl.col("signup_at") >= 0), "signup_at", "subscription_created")
    ev.add(subs.filter(pl.col("trial_end").is_not_null()), "trial_end", "trial_ended")
    ev.add(subs.filter(pl.col("paused_at_trial_end")), "trial_end", "subscription_paused")
    ev.add(
        d.filter(pl.col("paused_trial"), pl.col("paid_at").is_not_null()),
        "paid_at",
        "subscription_activated",
        actor=pl.lit("customer_link"),
    )
    later = pms.filter(pl.col("rank") > 0)
    ev.add(later.filter(pl.col("type") == "card"), "created", "card_updated", actor=pl.lit("customer_self"))
    ev.add(
        later.filter(pl.col("type") != "card"),
        "created",
        "payment_method_updated",
        actor=pl.lit("customer_self"),
    )
    ev.add(
        subs.filter(pl.col("status") == "unpaid", pl.col("status_since").is_not_null()),
        "status_since",
        "subscription_unpaid",
    )
    ev.add(
        _with_write_off(subs, d).filter(pl.col("canceled_at").is_not_null()),
        "canceled_at",
        "subscription_canceled",
        actor=_CANCEL_ACTOR,
    )
