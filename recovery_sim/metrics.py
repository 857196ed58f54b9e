"""Headline metrics as polars expressions (definitions in docs/metrics.md).

Money is summed per currency and never mixed: every money column comes with a `currency` column.
"""

from __future__ import annotations

import polars as pl

from .model import Actor, EventKind, InvoiceStatus

MONEY = ["billed", "collected", "open", "uncollectible", "void", "at_risk_revenue", "recovered_revenue"]


def invoice_totals(invoices: pl.DataFrame) -> pl.DataFrame:
    """Billed, collected, open, written-off, at-risk and recovered amounts per currency (minor units)."""
    amount = pl.col("amount")
    status = pl.col("status").cast(pl.String)
    paid = status == InvoiceStatus.PAID.value
    return (
        invoices.group_by(pl.col("currency").cast(pl.String))
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
            (pl.col("recovered_revenue") / pl.col("at_risk_revenue")).fill_nan(None).alias("recovery_rate")
        )
    )


def churn_counts(run) -> pl.DataFrame:
    """Involuntary churn (ended by failed payment or a paused trial never activated) and voluntary churn."""
    ev = run.events
    kind = pl.col("kind").cast(pl.String)
    actor = pl.col("actor").cast(pl.String)
    involuntary_ids = ev.filter(
        ((kind == EventKind.SUBSCRIPTION_CANCELED.value) & (actor == Actor.SYSTEM.value))
        | (kind == EventKind.SUBSCRIPTION_UNPAID.value)
    )["customer_id"]
    paused = run.customers.filter(pl.col("final_status") == "paused")["customer_id"]
    voluntary = ev.filter((kind == EventKind.SUBSCRIPTION_CANCELED.value) & (actor == Actor.CUSTOMER.value))
    customers = run.customers.select("customer_id", "currency")
    flags = customers.with_columns(
        pl.col("customer_id").is_in(involuntary_ids.implode()).alias("involuntary"),
        pl.col("customer_id").is_in(paused.implode()).alias("paused_never_activated"),
        pl.col("customer_id").is_in(voluntary["customer_id"].implode()).alias("voluntary"),
    )
    return flags.group_by("currency").agg(
        pl.len().alias("customers"),
        (pl.col("involuntary") | pl.col("paused_never_activated")).sum().alias("involuntary_churn"),
        pl.col("paused_never_activated").sum().alias("paused_never_activated"),
        pl.col("voluntary").sum().alias("voluntary_churn"),
    )


def email_counts(run) -> pl.DataFrame:
    """Emails delivered per currency of the customer (an email costs the same whatever it says)."""
    emails = run.emails.filter(pl.col("delivered")).join(
        run.customers.select("customer_id", "currency"), on="customer_id"
    )
    return emails.group_by("currency").agg(pl.len().alias("emails_sent"))


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
