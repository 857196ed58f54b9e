"""`summary()` against the metric definitions written the plain way (string labels, joins, one filter
per metric), on runs with two currencies."""

from __future__ import annotations

import polars as pl
import pytest

from recovery_sim.analysis.metrics import summary
from recovery_sim.api import simulate
from recovery_sim.settings.config import Policy


def plain_counts(run) -> pl.DataFrame:
    """Churn and delivered emails per currency, as docs/metrics.md words them."""
    ev = run.events.with_columns(pl.col("kind", "actor").cast(pl.String))
    kind, actor = pl.col("kind"), pl.col("actor")
    canceled = kind == "subscription_canceled"
    involuntary = ev.filter((canceled & (actor == "system")) | (kind == "subscription_unpaid"))
    voluntary = ev.filter(canceled & (actor == "customer"))
    paused = run.customers.filter(pl.col("final_status") == "paused")
    flags = run.customers.select(
        "currency",
        pl.col("customer_id").is_in(involuntary["customer_id"].implode()).alias("involuntary"),
        pl.col("customer_id").is_in(paused["customer_id"].implode()).alias("paused"),
        pl.col("customer_id").is_in(voluntary["customer_id"].implode()).alias("voluntary"),
    )
    churn = flags.group_by("currency").agg(
        (pl.col("involuntary") | pl.col("paused")).sum().alias("involuntary_churn"),
        pl.col("voluntary").sum().alias("voluntary_churn"),
    )
    currency = run.customers.select("customer_id", "currency")
    sent = run.emails.filter("delivered").join(currency, on="customer_id")
    emails = sent.group_by("currency").agg(pl.len().alias("emails_sent"))
    return churn.join(emails, on="currency", how="left").with_columns(pl.col("emails_sent").fill_null(0))


@pytest.mark.parametrize("policy", ["none", "all-on", "aggressive"])
def test_summary_counts_match_the_plain_definitions(small_default, policy: str) -> None:
    run = simulate(small_default, Policy.named(policy), seed=4)
    table = summary(run)
    assert table["currency"].n_unique() > 1
    got = table.select("currency", "involuntary_churn", "voluntary_churn", "emails_sent").sort("currency")
    assert got.equals(plain_counts(run).select(got.columns).sort("currency"))
    status = run.invoices["status"].cast(pl.String)
    assert table["collected"].sum() == run.invoices.filter(status == "paid")["amount"].sum()
    assert table["invoices"].sum() == run.invoices.height
