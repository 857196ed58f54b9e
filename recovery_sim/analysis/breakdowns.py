"""Metrics beyond the headline summary, in a form that survives sharding and replication.

Why a long, additive frame: a run is split into shards of customers and repeated over replications.
Every number this module extracts from one shard is a count or a sum (integer minor units, whole
minutes), so shards combine by summing and the result is the same whatever the shard size or the
number of workers. Ratios (recovery rate, churn rate, emails per recovered unit) are derived only
after summing, per replication; confidence intervals are then taken across replications (`intervals.py`).

Long frame schema (`UNIT_SCHEMA`): dimension, key, currency, metric, value (Int64).
`dimension` is what the rows are broken down by: total, month, cohort, signup_month, plan,
decline_code, paid_by, funnel, time_to_recover, email_type. Money never mixes currencies: every row
carries the currency of the customers it counts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import polars as pl

from recovery_sim.domain.email_types import types_where
from recovery_sim.domain.enums import Actor, EmailType, EventKind, InvoiceStatus
from recovery_sim.domain.money import minor_per_major

UNIT_SCHEMA = {
    "dimension": pl.String,
    "key": pl.String,
    "currency": pl.String,
    "metric": pl.String,
    "value": pl.Int64,
}
DIMENSIONS = (
    "total",
    "month",
    "cohort",
    "signup_month",
    "plan",
    "decline_code",
    "paid_by",
    "funnel",
    "time_to_recover",
    "email_type",
)

RECOVERY_EMAIL_TYPES = types_where(lambda t: t.asks_to_act)
"""Emails that ask the customer to act (R4-R9); receipts and notices are left out of the efficiency
ratio because a business sends them whatever its recovery policy."""

PREVENTING_ACTORS = (Actor.CUSTOMER_LINK, Actor.CUSTOMER_SELF, Actor.CARD_UPDATER)
INVOLUNTARY_END_STATUSES = ("paused",)
"""Final statuses that mean the customer was lost without choosing to leave (R6b: a paused trial
never activated)."""

FUNNEL_STAGES = ("failed", "emailed", "acted", "recovered", "churned", "unresolved")
TIME_BIN_EDGES = (0, 1, 2, 3, 5, 7, 10, 14, 21, 28, 45)
TIME_BINS = tuple(f"{lo}–{hi} d" for lo, hi in zip(TIME_BIN_EDGES[:-1], TIME_BIN_EDGES[1:], strict=True)) + (
    f"{TIME_BIN_EDGES[-1]}+ d",
)
"""Labels of the time-to-recover histogram, in order (days from invoice creation to payment)."""
CONFIRMATION_KEY = "action_required"
"""decline_code key of at-risk invoices whose first attempt needed confirmation (3-D Secure, Boleto)
instead of failing, whether later confirmed or expired (R8)."""
PAUSED_TRIAL_KEY = "trial_without_method"
"""decline_code key of the first invoice of a trial that ended with no payment method (R6b)."""

HEADLINE_METRICS = (
    "customers",
    "invoices",
    "billed",
    "collected",
    "at_risk_revenue",
    "recovered_revenue",
    "recovery_rate",
    "incremental_revenue",
    "involuntary_churn",
    "involuntary_churn_rate",
    "voluntary_churn",
    "emails_sent",
    "recovery_emails",
    "emails_per_100_recovered",
    "prevented_failures",
    "reminder_cancellations",
    "time_to_recover_mean_days",
)
MONEY_METRICS = frozenset(
    {"billed", "collected", "at_risk_revenue", "recovered_revenue", "incremental_revenue", "amount"}
)
"""Metrics in minor units of the row's currency."""
PERCENT_METRICS = frozenset({"recovery_rate", "involuntary_churn_rate"})


# ------------------------------------------------------------------------------------ one shard → sums


def _month(days: pl.Expr, start: dt.date) -> pl.Expr:
    """Simulation days → the UTC calendar month 'YYYY-MM' they fall in."""
    origin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    instant = pl.lit(origin) + pl.duration(microseconds=(days * 86_400_000_000).round(0).cast(pl.Int64))
    return instant.dt.strftime("%Y-%m")


def _long(frame: pl.DataFrame, dimension: str, key: str, metrics: Sequence[str]) -> pl.DataFrame:
    """Wide sums with a key column → rows of the long unit schema."""
    if frame.is_empty():
        return pl.DataFrame(schema=UNIT_SCHEMA)
    return (
        frame.select(pl.col(key).cast(pl.String).alias("key"), "currency", *metrics)
        .unpivot(index=["key", "currency"], variable_name="metric", value_name="value")
        .select(
            pl.lit(dimension).alias("dimension"),
            pl.col("key").fill_null(""),
            "currency",
            "metric",
            pl.col("value").fill_null(0).cast(pl.Int64),
        )
    )


INVOICE_SUMS = (
    "invoices",
    "billed",
    "collected",
    "at_risk_invoices",
    "at_risk_revenue",
    "recovered_invoices",
    "recovered_revenue",
)


def _invoice_sums(invoices: pl.DataFrame, dimension: str, key: str) -> pl.DataFrame:
    paid = pl.col("status") == InvoiceStatus.PAID.value
    risk = pl.col("at_risk")
    amount = pl.col("amount")
    wide = invoices.group_by(key, "currency").agg(
        pl.len().alias("invoices"),
        amount.sum().alias("billed"),
        amount.filter(paid).sum().alias("collected"),
        risk.sum().alias("at_risk_invoices"),
        amount.filter(risk).sum().alias("at_risk_revenue"),
        (risk & paid).sum().alias("recovered_invoices"),
        amount.filter(risk & paid).sum().alias("recovered_revenue"),
    )
    return _long(wide, dimension, key, INVOICE_SUMS)


def _customer_sums(customers: pl.DataFrame, dimension: str, key: str) -> pl.DataFrame:
    wide = customers.group_by(key, "currency").agg(
        pl.len().alias("customers"),
        pl.col("involuntary").sum().alias("involuntary_churn"),
        pl.col("voluntary").sum().alias("voluntary_churn"),
    )
    return _long(wide, dimension, key, ("customers", "involuntary_churn", "voluntary_churn"))


def _str(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String)


def churned_customers(events: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    """customer_id, involuntary, voluntary: how each customer's subscription ended, if it did.

    Same definitions as `metrics.churn_counts`, kept per customer so they can be broken down:
    involuntary = canceled by the system at the end of dunning, marked unpaid, or a trial left paused
    (R6b, never activated); voluntary = canceled by the customer.
    """
    kind, actor = _str("kind"), _str("actor")
    canceled = kind == EventKind.SUBSCRIPTION_CANCELED.value
    flags = (
        events.filter(canceled | (kind == EventKind.SUBSCRIPTION_UNPAID.value))
        .group_by("customer_id")
        .agg(
            ((canceled & (actor == Actor.SYSTEM.value)) | (kind == EventKind.SUBSCRIPTION_UNPAID.value))
            .any()
            .alias("_system_end"),
            (canceled & (actor == Actor.CUSTOMER.value)).any().alias("_customer_end"),
        )
    )
    status = _str("final_status") if "final_status" in customers.columns else pl.lit("")
    return (
        customers.select("customer_id", status.alias("_final"))
        .join(flags, on="customer_id", how="left")
        .select(
            "customer_id",
            (pl.col("_system_end").fill_null(False) | pl.col("_final").is_in(INVOLUNTARY_END_STATUSES)).alias(
                "involuntary"
            ),
            pl.col("_customer_end").fill_null(False).alias("voluntary"),
        )
    )


def prevented_failures(
    events: pl.DataFrame, customers: pl.DataFrame, start: dt.date, horizon_days: float
) -> pl.DataFrame:
    """customer_id, actor: cards replaced before they expired within the horizon (one per customer).

    The card would have failed at its expiry instant (first day after its expiry month, SPEC R9
    interpretation); an update by the customer (link or self-service) or by the card-account updater
    strictly before that instant prevented the failure.
    """
    updates = events.filter(
        (_str("kind") == EventKind.CARD_UPDATED.value)
        & _str("actor").is_in([a.value for a in PREVENTING_ACTORS])
    ).select("customer_id", "time", _str("actor").alias("actor"))
    if {"card_exp_month", "card_exp_year"} <= set(customers.columns):
        cards = customers.filter(pl.col("card_exp_month") > 0).select(
            "customer_id", _card_expiry(start).alias("expires_at")
        )
        first_expiry = cards.filter(pl.col("expires_at") <= horizon_days)
    else:  # no card dates: the first card_expired event stands in for the expiry instant
        first_expiry = (
            events.filter(_str("kind") == EventKind.CARD_EXPIRED.value)
            .group_by("customer_id")
            .agg(pl.col("time").min().alias("expires_at"))
        )
        first_expiry = updates.select("customer_id").unique().join(first_expiry, on="customer_id", how="left")
        first_expiry = first_expiry.with_columns(pl.col("expires_at").fill_null(math.inf))
    return (
        updates.join(first_expiry, on="customer_id")
        .filter(pl.col("time") < pl.col("expires_at"))
        .sort("customer_id", "time")
        .group_by("customer_id", maintain_order=True)
        .first()
        .select("customer_id", "actor")
    )


def _card_expiry(start: dt.date) -> pl.Expr:
    """Days from the scenario start to the first day after the card's expiry month (UTC, rules R9)."""
    month_index = pl.col("card_exp_year").cast(pl.Int64) * 12 + pl.col("card_exp_month").cast(pl.Int64)
    first_after = pl.date(month_index // 12, month_index % 12 + 1, 1)
    return (first_after - pl.lit(start)).dt.total_days().cast(pl.Float64)


def reminder_cancellations(events: pl.DataFrame, emails: pl.DataFrame, lead_days: float) -> pl.DataFrame:
    """customer_id of customers who canceled within `lead_days` after an upcoming-renewal email (R7)."""
    cancels = (
        events.filter(
            (_str("kind") == EventKind.SUBSCRIPTION_CANCELED.value) & (_str("actor") == Actor.CUSTOMER.value)
        )
        .select("customer_id", "time")
        .sort("time")
    )
    reminders = (
        emails.filter((_str("email_type") == EmailType.UPCOMING_RENEWAL.value) & pl.col("delivered"))
        .select("customer_id", pl.col("time").alias("reminded_at"))
        .sort("reminded_at")
    )
    if cancels.is_empty() or reminders.is_empty():
        return pl.DataFrame(schema={"customer_id": pl.Int64})
    joined = cancels.join_asof(
        reminders,
        left_on="time",
        right_on="reminded_at",
        by="customer_id",
        strategy="backward",
        check_sortedness=False,  # sorted by time overall, hence within each customer
    )
    return (
        joined.filter(
            pl.col("reminded_at").is_not_null() & (pl.col("time") - pl.col("reminded_at") <= lead_days)
        )
        .select("customer_id")
        .unique()
    )


def _decline_key(invoices: pl.DataFrame, events: pl.DataFrame) -> pl.Series:
    """The first decline code, or why an at-risk invoice had none: a confirmation was requested (the
    code `authentication_expired` is only set later, when it expired) or a trial paused (R6b)."""
    asked = events.filter(_str("kind") == EventKind.PAYMENT_ACTION_REQUIRED.value).get_column("invoice_id")
    code = _str("first_decline")
    return invoices.select(
        pl.when(pl.col("invoice_id").is_in(asked.drop_nulls().implode()))
        .then(pl.lit(CONFIRMATION_KEY))
        .when(code == "")
        .then(pl.lit(PAUSED_TRIAL_KEY))
        .otherwise(code)
    ).to_series()


def _time_bin(days: pl.Expr) -> pl.Expr:
    expr = pl.lit(TIME_BINS[-1])
    for label, hi in reversed(list(zip(TIME_BINS[:-1], TIME_BIN_EDGES[1:], strict=True))):
        expr = pl.when(days < hi).then(pl.lit(label)).otherwise(expr)
    return expr


def shard_metrics(run: Any) -> pl.DataFrame:
    """Every additive metric of one run or shard, in the long unit schema (see module docstring).

    `run` needs events, emails, invoices, customers frames and the scenario and policy it ran.
    """
    scenario, policy = run.scenario, run.policy
    start = scenario.start_date
    customers = run.customers.with_columns(
        _str("currency").alias("currency"),
        _str("cohort").alias("cohort"),
        _str("plan").alias("plan"),
        _month(pl.col("signup_at").floor(), start).alias("signup_month"),
    )
    currency_of = customers.select("customer_id", "currency")
    churn = churned_customers(run.events, customers)
    customers = customers.join(churn, on="customer_id", how="left").with_columns(
        pl.col("involuntary").fill_null(False), pl.col("voluntary").fill_null(False)
    )
    invoices = run.invoices.with_columns(
        _str("currency").alias("currency"),
        _str("status").alias("status"),
        _str("paid_by").alias("paid_by"),
        pl.col("at_risk").fill_null(False),
        _month(pl.col("created_at"), start).alias("month"),
    ).join(customers.select("customer_id", "cohort", "plan", "signup_month"), on="customer_id", how="left")
    invoices = invoices.with_columns(_decline_key(invoices, run.events).alias("decline_code"))
    emails = run.emails.join(currency_of, on="customer_id", how="left").with_columns(
        _str("email_type").alias("email_type")
    )
    parts = [_invoice_sums(invoices.with_columns(pl.lit("all").alias("all")), "total", "all")]
    parts += [_customer_sums(customers.with_columns(pl.lit("all").alias("all")), "total", "all")]
    for dimension in ("cohort", "signup_month", "plan"):
        parts += [
            _invoice_sums(invoices, dimension, dimension),
            _customer_sums(customers, dimension, dimension),
        ]
    parts.append(_invoice_sums(invoices, "month", "month"))
    at_risk = invoices.filter(pl.col("at_risk"))
    parts.append(_invoice_sums(at_risk, "decline_code", "decline_code"))
    parts.append(_invoice_sums(at_risk.filter(pl.col("status") == "paid"), "paid_by", "paid_by"))
    parts.append(_funnel(at_risk, emails, customers))
    parts.append(_time_to_recover(at_risk))
    parts.append(_email_sums(emails))
    parts.append(_customer_events(run.events, emails, customers, scenario, policy))
    out = pl.concat([p for p in parts if not p.is_empty()], how="vertical") if parts else None
    if out is None or out.is_empty():
        return pl.DataFrame(schema=UNIT_SCHEMA)
    return out.select(list(UNIT_SCHEMA)).sort("dimension", "key", "currency", "metric")


def _funnel(at_risk: pl.DataFrame, emails: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    """Failed → emailed → acted → recovered / churned / unresolved, counted per at-risk invoice."""
    touched = (
        emails.filter(pl.col("delivered") & pl.col("invoice_id").is_not_null())
        .group_by("invoice_id")
        .agg(pl.len().alias("_emails"), pl.col("acted").any().alias("_acted"))
    )
    frame = (
        at_risk.join(touched, on="invoice_id", how="left")
        .join(customers.select("customer_id", "involuntary"), on="customer_id", how="left")
        .with_columns(
            pl.col("_emails").fill_null(0),
            pl.col("_acted").fill_null(False),
            (pl.col("status") == "paid").alias("_paid"),
        )
    )
    stage = {
        "failed": pl.lit(True),
        "emailed": pl.col("_emails") > 0,
        "acted": pl.col("_acted"),
        "recovered": pl.col("_paid"),
        "churned": ~pl.col("_paid") & pl.col("involuntary").fill_null(False),
        "unresolved": ~pl.col("_paid") & ~pl.col("involuntary").fill_null(False),
    }
    rows = []
    for name, condition in stage.items():
        sub = (
            frame.filter(condition)
            .group_by("currency")
            .agg(pl.len().alias("invoices"), pl.col("amount").sum().alias("amount"))
        )
        rows.append(
            _long(sub.with_columns(pl.lit(name).alias("stage")), "funnel", "stage", ("invoices", "amount"))
        )
    return pl.concat(rows)


def _time_to_recover(at_risk: pl.DataFrame) -> pl.DataFrame:
    """Histogram of days from invoice creation to payment, plus whole minutes summed for the mean."""
    paid = at_risk.filter((pl.col("status") == "paid") & pl.col("paid_at").is_not_null()).with_columns(
        (pl.col("paid_at") - pl.col("created_at")).clip(lower_bound=0).alias("_days")
    )
    hist = (
        paid.with_columns(_time_bin(pl.col("_days")).alias("bin"))
        .group_by("bin", "currency")
        .agg(pl.len().alias("invoices"), pl.col("amount").sum().alias("amount"))
    )
    minutes = paid.group_by("currency").agg(
        (pl.col("_days") * 1440).round(0).cast(pl.Int64).sum().alias("recover_minutes"),
        pl.len().alias("recover_timed_invoices"),
    )
    return pl.concat(
        [
            _long(hist, "time_to_recover", "bin", ("invoices", "amount")),
            _long(minutes.with_columns(pl.lit("all").alias("all")), "total", "all",
                  ("recover_minutes", "recover_timed_invoices")),
        ]
    )  # fmt: skip


def _email_sums(emails: pl.DataFrame) -> pl.DataFrame:
    delivered = emails.filter(pl.col("delivered"))
    by_type = delivered.group_by("email_type", "currency").agg(
        pl.len().alias("sent"), pl.col("acted").sum().alias("acted")
    )
    recovery = pl.col("email_type").is_in([t.value for t in RECOVERY_EMAIL_TYPES])
    totals = delivered.group_by("currency").agg(
        pl.len().alias("emails_sent"), recovery.sum().alias("recovery_emails")
    )
    return pl.concat(
        [
            _long(by_type, "email_type", "email_type", ("sent", "acted")),
            _long(totals.with_columns(pl.lit("all").alias("all")), "total", "all",
                  ("emails_sent", "recovery_emails")),
        ]
    )  # fmt: skip


def _customer_events(
    events: pl.DataFrame, emails: pl.DataFrame, customers: pl.DataFrame, scenario: Any, policy: Any
) -> pl.DataFrame:
    """Prevented failures (by actor) and reminder-induced cancellations, per currency."""
    prevented = prevented_failures(events, customers, scenario.start_date, scenario.horizon_days).join(
        customers.select("customer_id", "currency"), on="customer_id"
    )
    by_actor = prevented.group_by("actor", "currency").agg(pl.len().alias("prevented_failures"))
    total = prevented.group_by("currency").agg(pl.len().alias("prevented_failures"))
    lead = float(policy.emails.upcoming_renewal_days)
    cancels = reminder_cancellations(events, emails, lead).join(
        customers.select("customer_id", "currency"), on="customer_id"
    )
    cancel_total = cancels.group_by("currency").agg(pl.len().alias("reminder_cancellations"))
    return pl.concat(
        [
            _long(by_actor, "prevented_by", "actor", ("prevented_failures",)),
            _long(total.with_columns(pl.lit("all").alias("all")), "total", "all", ("prevented_failures",)),
            _long(cancel_total.with_columns(pl.lit("all").alias("all")), "total", "all",
                  ("reminder_cancellations",)),
        ]
    )  # fmt: skip


# ------------------------------------------------------------------------- shards → replications → stats


def combine(units: pl.DataFrame, by: Sequence[str] = ("arm", "replication")) -> pl.DataFrame:
    """Sum unit frames over shards: one value per (by…, dimension, key, currency, metric).

    Rows missing from a replication are zeros (every value is a count or a sum), so the result is
    completed to the full cross product of (by…) and metric rows seen anywhere.
    """
    keys = [*by, "dimension", "key", "currency", "metric"]
    summed = units.group_by(keys).agg(pl.col("value").sum())
    groups = summed.select(*by).unique()
    rows = summed.select("dimension", "key", "currency", "metric").unique()
    return (
        groups.join(rows, how="cross")
        .join(summed, on=keys, how="left")
        .with_columns(pl.col("value").fill_null(0))
        .sort(keys)
    )


def _ratio(num: str, den: str, scale: float = 1.0) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) * scale / pl.col(den)).otherwise(None)


def derive(combined: pl.DataFrame, by: Sequence[str] = ("arm", "replication")) -> pl.DataFrame:
    """Add the ratio metrics to summed rows: recovery rate, churn rate, emails per 100 recovered, mean
    time to recover. Ratios are computed from the sums of a whole replication, never averaged."""
    index = [*by, "dimension", "key", "currency"]
    wide = combined.pivot(on="metric", index=index, values="value")
    for needed in (
        "at_risk_revenue", "recovered_revenue", "customers", "involuntary_churn",
        "recovery_emails", "recover_minutes", "recover_timed_invoices",
    ):  # fmt: skip
        if needed not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Int64).alias(needed))
    scale = wide.get_column("currency").map_elements(minor_per_major, return_dtype=pl.Int64)
    wide = (
        wide.with_columns(scale.alias("_scale"))
        .with_columns(
            _ratio("recovered_revenue", "at_risk_revenue").alias("recovery_rate"),
            _ratio("involuntary_churn", "customers").alias("involuntary_churn_rate"),
            pl.when(pl.col("recovered_revenue") > 0)
            .then(pl.col("recovery_emails") * 100 * pl.col("_scale") / pl.col("recovered_revenue"))
            .alias("emails_per_100_recovered"),
            _ratio("recover_minutes", "recover_timed_invoices", 1 / 1440).alias("time_to_recover_mean_days"),
        )
        .drop("_scale")
    )
    metrics = [c for c in wide.columns if c not in index]
    return (
        wide.with_columns(pl.col(metrics).cast(pl.Float64))
        .unpivot(index=index, on=metrics, variable_name="metric", value_name="value")
        .filter(pl.col("value").is_not_null())
        .sort([*index, "metric"])
    )
