"""Invoices and their charges → the simulator's invoices frame (status, attempts, at risk, paid by) and
the Stripe detail per invoice and charge that the event log, the replay and the calibration read."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from recovery_sim.domain.declines import decline_code_names
from recovery_sim.domain.enums import CollectionMethod, InvoiceStatus
from recovery_sim.simulation.events import ActorEnum, DeclineEnum, InvoiceStatusEnum
from recovery_sim.stripe.clock import Clock
from recovery_sim.stripe.customer_frames import customer_method, lower

AUTHENTICATION_REQUIRED = "authentication_required"
TRIAL_INVOICE_TOLERANCE_S = 3600
"""The first invoice after a trial is created at `trial_end`; an hour's slack covers Stripe's finalisation."""
_DECLINES = set(decline_code_names())


def invoices(
    tables: dict[str, pl.DataFrame], customers: pl.DataFrame, subs: pl.DataFrame, warn: Callable[[str], None]
) -> pl.DataFrame:
    """Invoices with revenue and a known status, numbered by (customer, created), with the service period
    they bill; the raw table is taken out of `tables` so its memory is let go."""
    inv = tables.pop("invoices").select(
        "id",
        "customer",
        lower("status"),
        "amount_due",
        pl.col("currency").str.to_uppercase(),
        lower("billing_reason"),
        lower("collection_method"),
        "attempt_count",
        "due_date",
        "created",
        "paid_at",
        "voided_at",
        "uncollectible_at",
        "line_start",
        "line_end",
    )
    zero = inv.filter(pl.col("amount_due") <= 0).height
    if zero:
        warn(f"{zero} invoice(s) with amount_due 0 (e.g. trial-start invoices) left out: no revenue")
    known = [s.value for s in InvoiceStatus]
    inv = inv.filter((pl.col("amount_due") > 0) & pl.col("status").is_in(known))
    sub_collection = subs.select(
        "customer",
        pl.col("collection_method").str.to_lowercase().alias("sub_collection"),
        "interval",
        "interval_count",
    )
    inv = (
        inv.join(customers.select(pl.col("id").alias("customer"), "customer_id"), on="customer")
        .join(sub_collection, on="customer", how="left")
        .with_columns(
            pl.coalesce("collection_method", "sub_collection").alias("collection"),
            pl.when(pl.col("interval") == "year")
            .then(12)
            .otherwise(1)
            .mul(pl.col("interval_count").fill_null(1))
            .alias("step"),
        )
        .with_columns(
            pl.when(pl.col("collection").is_in([c.value for c in CollectionMethod]))
            .then("collection")
            .otherwise(pl.lit(CollectionMethod.CHARGE_AUTOMATICALLY.value))
            .alias("collection"),
        )
        .drop("customer", "collection_method", "sub_collection", "interval", "interval_count")
        .sort("customer_id", "created", "id")
        .with_row_index("invoice_id")
        .with_columns(pl.col("invoice_id").cast(pl.Int64))
    )
    start = pl.coalesce("line_start", "created")
    natural_end = (
        pl.from_epoch(start, "s")
        .dt.replace_time_zone("UTC")
        .dt.offset_by(pl.format("{}mo", pl.col("step")))
        .dt.epoch("s")
    )
    return inv.with_columns(
        start.alias("service_start"), pl.coalesce("line_end", natural_end).alias("service_end")
    ).drop("line_start", "line_end")


def charges(
    tables: dict[str, pl.DataFrame],
    invoices: pl.DataFrame,
    pms: pl.DataFrame,
    clock: Clock,
    warn: Callable[[str], None],
) -> pl.DataFrame:
    """Charges of kept invoices in time order (`rank` 1 the first), each with its decline code and whether
    it asked the customer to confirm (3-D Secure); the raw table is taken out of `tables`."""
    ch = tables.pop("charges").select(
        "id",
        "invoice",
        "amount",
        lower("status"),
        lower("failure_code"),
        lower("outcome_reason"),
        "created",
        "payment_method",
        lower("method_type"),
    )
    loose = ch.filter(pl.col("invoice").is_null()).height
    if loose:
        warn(f"{loose} charge(s) without an invoice (one-off payments) left out")
    ch = ch.filter(pl.col("status").is_in(["succeeded", "failed", "pending"]))
    ch = ch.join(invoices.select(pl.col("id").alias("invoice"), "invoice_id", "customer_id"), on="invoice")
    pm_types = pms.select(pl.col("id").alias("payment_method"), pl.col("type").alias("pm_type"))
    needs_action = (pl.col("failure_code") == AUTHENTICATION_REQUIRED) | (
        pl.col("outcome_reason") == AUTHENTICATION_REQUIRED
    )
    failed = (pl.col("status") == "failed") & ~pl.col("needs_action")
    reason = pl.col("outcome_reason")
    code = pl.col("failure_code")
    decline = (
        pl.when(~failed)
        .then(pl.lit(""))
        .when(reason.is_in(list(_DECLINES)))
        .then(reason)
        .when(code.is_in(list(_DECLINES)))
        .then(code)
        .otherwise(pl.lit("generic_decline"))
    )
    ch = (
        ch.join(pm_types, on="payment_method", how="left")
        .with_columns(needs_action.fill_null(False).alias("needs_action"))
        .with_columns(
            decline.alias("decline_code"), pl.coalesce("method_type", "pm_type").alias("method_type")
        )
        .sort("invoice_id", "created", "id")
        .with_columns((pl.int_range(pl.len()).over("invoice_id") + 1).cast(pl.Int16).alias("rank"))
    )
    odd = ch.filter(
        failed
        & (pl.col("decline_code") == "generic_decline")
        & reason.is_not_null()
        & ~reason.is_in(list(_DECLINES) + ["generic_decline"])
    )
    if odd.height:
        values = sorted(odd["outcome_reason"].unique().to_list())[:5]
        warn(
            f"charges.outcome.reason: {odd.height} failed charge(s) with decline code(s) {values} "
            f"not in data/decline_codes.csv; counted as generic_decline"
        )
    return ch.select(
        "invoice_id",
        "customer_id",
        "id",
        clock.days("created").alias("time"),
        "status",
        "decline_code",
        "needs_action",
        "payment_method",
        "method_type",
        "rank",
        "amount",
    )


_CHARGE_AUTO = pl.col("collection") == CollectionMethod.CHARGE_AUTOMATICALLY.value
_PAID = pl.col("status") == InvoiceStatus.PAID.value
_CLOSED_AT = pl.coalesce("voided_at", "uncollectible_at")


def invoice_frames(
    inv: pl.DataFrame,
    charges: pl.DataFrame,
    subs: pl.DataFrame,
    customers: pl.DataFrame,
    pms: pl.DataFrame,
    clock: Clock,
    warn: Callable[[str], None],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(invoice details, the simulator's invoices frame), both in `invoice_id` order."""
    method = customer_method(customers, pms)
    trial = subs.select("customer_id", "trial_end", "paused_at_trial_end")
    if charges.height == 0 and inv.height:
        warn(
            "no charges file: at-risk invoices approximated from attempt_count and status; "
            "decline codes unknown"
        )
    x = (
        inv.join(_per_invoice(charges), on="invoice_id", how="left")
        .join(method, on="customer_id", how="left")
        .join(trial, on="customer_id", how="left")
        .with_columns(pl.coalesce("first_type", "customer_method").alias("method_type"))
    )
    x = x.with_columns(_risk(has_charges=charges.height > 0))
    return _details(x, clock), _frame(x, clock)


def _per_invoice(charges: pl.DataFrame) -> pl.DataFrame:
    """Per invoice: its first charge, whether any asked for confirmation, its first decline, the payment."""
    succeeded = pl.col("status") == "succeeded"
    failed = (pl.col("status") == "failed") & ~pl.col("needs_action")
    return charges.group_by("invoice_id").agg(
        pl.col("status").first().alias("first_status"),
        pl.col("time").first().alias("first_charge_at"),
        pl.col("payment_method").first().alias("first_pm"),
        pl.col("method_type").first().alias("first_type"),
        pl.col("needs_action").any().alias("auth_required"),
        pl.col("decline_code").filter(failed).first().alias("decline"),
        pl.len().alias("n_charges"),
        pl.col("time").filter(succeeded).last().alias("paid_time"),
        pl.col("payment_method").filter(succeeded).last().alias("paid_pm"),
        pl.col("rank").filter(succeeded).last().alias("paid_rank"),
    )


def _risk(has_charges: bool) -> list[pl.Expr]:
    """`paused_trial` (R6b), `needs_action` (3-D Secure, Boleto: R8) and `at_risk` as metrics count it."""
    first_invoice = pl.col("created") == pl.col("created").min().over("customer_id")
    paused_trial = (
        pl.col("paused_at_trial_end").fill_null(False)
        & first_invoice
        & ((pl.col("created") - pl.col("trial_end")).abs() <= TRIAL_INVOICE_TOLERANCE_S)
    )
    paused_trial = paused_trial.fill_null(False)
    # Boleto always waits for the customer (R8), except at checkout and before activation (R6b)
    boleto = (
        (pl.col("method_type") == "boleto")
        & (pl.col("billing_reason").fill_null("") != "subscription_create")
        & ~paused_trial
    ).fill_null(False)
    needs_action = pl.col("auth_required").fill_null(False) | boleto
    if has_charges:
        first_failed = (pl.col("first_status") == "failed").fill_null(False)
    else:
        first_failed = (
            (pl.col("attempt_count").fill_null(1) > 1) | (~_PAID & (pl.col("attempt_count").fill_null(0) > 0))
        ).fill_null(False)
    return [
        paused_trial.alias("paused_trial"),
        needs_action.alias("needs_action"),
        ((_CHARGE_AUTO & (first_failed | boleto)) | paused_trial).fill_null(False).alias("at_risk"),
    ]


def _paid_at(clock: Clock) -> pl.Expr:
    return pl.when(_PAID).then(pl.coalesce("paid_at", clock.days("paid_time") * 86_400 + clock.epoch))


def _first_decline() -> pl.Expr:
    return (
        pl.when(pl.col("decline").is_not_null())
        .then("decline")
        .when(pl.col("needs_action") & ~_PAID & _CLOSED_AT.is_not_null())
        .then(pl.lit("authentication_expired"))
        .otherwise(pl.lit(""))
    )


def _paid_by() -> pl.Expr:
    """Who paid (heuristic, docs/stripe.md): the first charge, a retry, the customer or their new method."""
    return (
        pl.when(~_PAID)
        .then(pl.lit("system"))
        .when(~_CHARGE_AUTO)
        .then(pl.lit("customer"))
        .when(pl.col("n_charges").is_null() & (pl.col("attempt_count").fill_null(1) <= 1))
        .then(pl.lit("system"))
        .when((pl.col("paid_rank") == 1) & (pl.col("first_status") == "succeeded"))
        .then(pl.lit("system"))
        .when(pl.col("paused_trial") | (pl.col("paid_pm") != pl.col("first_pm")))
        .then(pl.lit("customer_link"))
        .when(pl.col("needs_action"))
        .then(pl.lit("customer_self"))
        .otherwise(pl.lit("retry"))
    )


def _period() -> pl.Expr:
    """The billing period's number, estimated from the interval since the trial's end or first invoice."""
    anchor = pl.coalesce("trial_end", pl.col("created").min().over("customer_id"))
    return ((pl.col("service_start") - anchor) / 86_400 / 30.44 / pl.col("step")).round(0).clip(0, 32_000)


def _frame(x: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    return x.select(
        "invoice_id",
        "customer_id",
        _period().cast(pl.Int16).alias("period"),
        clock.days("created").alias("created_at"),
        pl.col("amount_due").alias("amount"),
        pl.col("status").cast(InvoiceStatusEnum),
        clock.days(_paid_at(clock)).alias("paid_at"),
        pl.coalesce("attempt_count", "n_charges", pl.lit(0)).clip(0, 127).cast(pl.Int8).alias("attempts"),
        _first_decline().cast(DeclineEnum).alias("first_decline"),
        "at_risk",
        _paid_by().cast(ActorEnum).alias("paid_by"),
        clock.days("due_date").alias("due_at"),
        pl.col("currency").cast(pl.Categorical),
    ).sort("invoice_id")


def _details(x: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    return x.select(
        "invoice_id",
        "customer_id",
        "id",
        pl.col("collection").alias("collection_method"),
        pl.col("billing_reason").fill_null("subscription_cycle"),
        "method_type",
        clock.days("service_start").alias("period_start"),
        clock.days("service_end").alias("period_end"),
        clock.days(_CLOSED_AT).alias("closed_at"),
        clock.days(_paid_at(clock)).alias("paid_at"),
        clock.days("due_date").alias("due_at"),
        clock.days("created").alias("created_at"),
        "needs_action",
        "paused_trial",
        "first_charge_at",
        "status",
    ).sort("invoice_id")
