"""Headline metrics as polars expressions (definitions in docs/metrics.md).

Money is summed per currency and never mixed: every money column comes with a `currency` column.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from recovery_sim.domain.enums import Actor, EventKind, InvoiceStatus

MONEY = ["billed", "collected", "open", "uncollectible", "void", "at_risk_revenue", "recovered_revenue"]


def invoice_totals(invoices: pl.DataFrame) -> pl.DataFrame:
    """Billed, collected, open, written-off, at-risk and recovered amounts per currency (minor units).

    Statuses compare as enum values and the currency is grouped as it is stored (no string per row);
    only the few group keys become strings.
    """
    amount = pl.col("amount")
    status = pl.col("status")
    paid = status == InvoiceStatus.PAID.value
    return (
        invoices.group_by("currency")
        .agg(
            pl.len().alias("invoices"),
            amount.sum().alias("billed"),
            amount.filter(paid).sum().alias("collected"),
            amount.filter(status == InvoiceStatus.OPEN.value).sum().alias("open"),
            amount.filter(status == InvoiceStatus.UNCOLLECTIBLE.value).sum().alias("uncollectible"),
            amount.filter(status == InvoiceStatus.VOID.value).sum().alias("void"),
            amount.filter(pl.col("at_risk")).sum().alias("at_risk_revenue"),
            amount.filter(pl.col("at_risk") & paid).sum().alias("recovered_revenue"),
            pl.col("at_risk").sum().alias("at_risk_invoices"),
            (pl.col("at_risk") & paid).sum().alias("recovered_invoices"),
        )
        .with_columns(
            pl.col("currency").cast(pl.String),
            (pl.col("recovered_revenue") / pl.col("at_risk_revenue")).fill_nan(None).alias("recovery_rate"),
        )
    )


def churn_counts(run) -> pl.DataFrame:
    """Involuntary churn (ended by failed payment or a paused trial never activated) and voluntary churn.

    One pass over the events keeps the few that end a subscription (kinds and actors compare as enum
    values, no string per row); the flags are then read from those.
    """
    kind, actor = pl.col("kind"), pl.col("actor")
    canceled = kind == EventKind.SUBSCRIPTION_CANCELED.value
    ends = run.events.lazy().filter(canceled | (kind == EventKind.SUBSCRIPTION_UNPAID.value))
    ends = ends.select(
        "customer_id",
        (~canceled | (actor == Actor.SYSTEM.value)).alias("involuntary"),
        (canceled & (actor == Actor.CUSTOMER.value)).alias("voluntary"),
    ).collect()
    involuntary_ids = ends.filter("involuntary")["customer_id"]
    voluntary_ids = ends.filter("voluntary")["customer_id"]
    paused = run.customers.filter(pl.col("final_status") == "paused")["customer_id"]
    customers = run.customers.select("customer_id", "currency")
    flags = customers.with_columns(
        pl.col("customer_id").is_in(involuntary_ids.implode()).alias("involuntary"),
        pl.col("customer_id").is_in(paused.implode()).alias("paused_never_activated"),
        pl.col("customer_id").is_in(voluntary_ids.implode()).alias("voluntary"),
    )
    return flags.group_by("currency").agg(
        pl.len().alias("customers"),
        (pl.col("involuntary") | pl.col("paused_never_activated")).sum().alias("involuntary_churn"),
        pl.col("paused_never_activated").sum().alias("paused_never_activated"),
        pl.col("voluntary").sum().alias("voluntary_churn"),
    )


def email_counts(run) -> pl.DataFrame:
    """Emails delivered per currency of the customer (an email costs the same whatever it says).

    Counted per customer id (small non-negative integers), then summed over each currency's customers:
    no join of millions of emails, and no filtered copy of them (only their customer ids are read).
    """
    sent = run.emails.lazy().filter(pl.col("delivered")).select("customer_id").collect().to_series()
    customers = run.customers.select("customer_id", "currency")
    ids = customers["customer_id"].to_numpy()
    per_id = np.bincount(sent.to_numpy(), minlength=ids.max(initial=-1) + 1)
    counts = customers.with_columns(pl.Series("emails_sent", per_id[ids]))
    return counts.group_by("currency").agg(pl.col("emails_sent").sum().cast(pl.UInt32))


def summary(run) -> pl.DataFrame:
    """One row per currency: customers, money in minor units, recovery rate, churn, emails."""
    table = (
        churn_counts(run)
        .join(invoice_totals(run.invoices), on="currency", how="left")
        .join(email_counts(run), on="currency", how="left")
        .with_columns(
            # A currency whose customers were never invoiced in the horizon billed 0, not null.
            *(pl.col(c).fill_null(0) for c in ("invoices", *MONEY, "at_risk_invoices", "recovered_invoices")),
            pl.col("emails_sent").fill_null(0),
            pl.lit(run.policy.name).alias("policy"),
        )
    )
    return table.select(
        "policy",
        "currency",
        "customers",
        "invoices",
        *MONEY,
        "recovery_rate",
        "at_risk_invoices",
        "recovered_invoices",
        "involuntary_churn",
        "paused_never_activated",
        "voluntary_churn",
        "emails_sent",
    ).sort("currency")
