"""breakdowns.py on small hand-built frames: every additive metric checked against values worked by hand,
plus the t-quantile and interval arithmetic."""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import polars as pl
import pytest

from recovery_sim.analysis import breakdowns, intervals

START = dt.date(2026, 1, 1)


def fake_run(lead_days: int = 7) -> SimpleNamespace:
    """Four customers (three EUR, one BRL) with a story each:

    1 (EUR): invoice 10 failed (insufficient_funds), emailed twice, acted, paid 3.5 days later by link;
             card expiring end of March updated by the card updater on day 80 (a prevented failure).
    2 (EUR): invoice 20 failed (expired_card), emailed, never acted, canceled by the system (involuntary).
    3 (EUR): invoice 30 paid first time; an upcoming-renewal email on day 50, cancels on day 53
             (reminder-induced, voluntary).
    4 (BRL): invoice 40 needed Boleto confirmation, paid 1.2 days later; invoice 41 paused trial (void).
    """
    customers = pl.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "cohort": ["base", "base", "new", "br"],
            "plan": ["Team", "Team", "Starter", "Equipe"],
            "currency": ["EUR", "EUR", "EUR", "BRL"],
            "signup_at": [-400.5, -30.0, 10.2, -5.0],
            "final_status": ["active", "canceled", "canceled", "paused"],
            "card_exp_month": [3, 0, 12, 0],
            "card_exp_year": [2026, 0, 2030, 0],
        }
    )
    invoices = pl.DataFrame(
        {
            "invoice_id": [10, 20, 30, 40, 41],
            "customer_id": [1, 2, 3, 4, 4],
            "period": [1, 1, 1, 1, 0],
            "created_at": [31.0, 45.0, 40.0, 70.0, 9.0],
            "amount": [4900, 4900, 1900, 9900, 9900],
            "currency": ["EUR", "EUR", "EUR", "BRL", "BRL"],
            "status": ["paid", "uncollectible", "paid", "paid", "void"],
            "paid_at": [34.5, None, 40.0, 71.2, None],
            "attempts": [2, 4, 1, 1, 0],
            "first_decline": ["insufficient_funds", "expired_card", "", "", ""],
            "at_risk": [True, True, False, True, True],
            "paid_by": ["customer_link", "system", "system", "customer_self", "system"],
        }
    )
    events = pl.DataFrame(
        {
            "time": [31.0, 45.0, 60.0, 53.0, 70.0, 80.0],
            "customer_id": [1, 2, 2, 3, 4, 1],
            "invoice_id": [10, 20, None, None, 40, None],
            "kind": ["payment_failed", "payment_failed", "subscription_canceled", "subscription_canceled",
                     "payment_action_required", "card_updated"],
            "actor": ["system", "system", "system", "customer", "system", "card_updater"],
        }
    ).sort("time")  # fmt: skip
    emails = pl.DataFrame(
        {
            "time": [31.0, 33.0, 45.0, 50.0, 70.0, 75.0],
            "customer_id": [1, 1, 2, 3, 4, 3],
            "invoice_id": [10, 10, 20, None, 40, 30],
            "email_type": ["payment_failed", "payment_failed", "payment_failed", "upcoming_renewal",
                           "payment_action_required", "invoice_paid"],
            "delivered": [True, True, True, True, True, True],
            "acted": [False, True, False, False, False, False],
        }
    ).sort("time")  # fmt: skip
    scenario = SimpleNamespace(start_date=START, horizon_days=365.0)
    policy = SimpleNamespace(emails=SimpleNamespace(upcoming_renewal_days=lead_days))
    return SimpleNamespace(
        scenario=scenario, policy=policy, customers=customers, invoices=invoices, events=events, emails=emails
    )


def value(frame: pl.DataFrame, dimension: str, key: str, currency: str, metric: str) -> int:
    rows = frame.filter(
        (pl.col("dimension") == dimension)
        & (pl.col("key") == key)
        & (pl.col("currency") == currency)
        & (pl.col("metric") == metric)
    )
    assert rows.height <= 1
    return rows.get_column("value")[0] if rows.height else 0


@pytest.fixture(scope="module")
def metrics() -> pl.DataFrame:
    return breakdowns.shard_metrics(fake_run())


def test_unit_frame_has_the_long_additive_schema(metrics: pl.DataFrame) -> None:
    assert dict(metrics.schema) == breakdowns.UNIT_SCHEMA
    assert metrics.filter(pl.col("value") < 0).is_empty()


def test_totals_per_currency_never_mix_money(metrics: pl.DataFrame) -> None:
    assert value(metrics, "total", "all", "EUR", "billed") == 4900 + 4900 + 1900
    assert value(metrics, "total", "all", "EUR", "collected") == 4900 + 1900
    assert value(metrics, "total", "all", "EUR", "at_risk_revenue") == 9800
    assert value(metrics, "total", "all", "EUR", "recovered_revenue") == 4900
    assert value(metrics, "total", "all", "BRL", "billed") == 19800
    assert value(metrics, "total", "all", "BRL", "at_risk_revenue") == 19800
    assert value(metrics, "total", "all", "BRL", "recovered_revenue") == 9900
    assert value(metrics, "total", "all", "EUR", "customers") == 3


def test_churn_split_follows_the_actor_and_final_status(metrics: pl.DataFrame) -> None:
    assert value(metrics, "total", "all", "EUR", "involuntary_churn") == 1  # customer 2, system cancel
    assert value(metrics, "total", "all", "EUR", "voluntary_churn") == 1  # customer 3
    assert value(metrics, "total", "all", "BRL", "involuntary_churn") == 1  # paused trial never activated


def test_funnel_counts_each_at_risk_invoice_once_per_stage(metrics: pl.DataFrame) -> None:
    eur = {stage: value(metrics, "funnel", stage, "EUR", "invoices") for stage in breakdowns.FUNNEL_STAGES}
    assert eur == {"failed": 2, "emailed": 2, "acted": 1, "recovered": 1, "churned": 1, "unresolved": 0}
    assert value(metrics, "funnel", "churned", "EUR", "amount") == 4900


def test_time_to_recover_histogram_and_minutes(metrics: pl.DataFrame) -> None:
    assert value(metrics, "time_to_recover", "3–5 d", "EUR", "invoices") == 1  # 3.5 days
    assert value(metrics, "time_to_recover", "1–2 d", "BRL", "invoices") == 1  # 1.2 days
    assert value(metrics, "total", "all", "EUR", "recover_minutes") == round(3.5 * 1440)
    assert value(metrics, "total", "all", "BRL", "recover_minutes") == round(1.2 * 1440)


def test_decline_keys_name_confirmations_and_paused_trials(metrics: pl.DataFrame) -> None:
    assert value(metrics, "decline_code", "insufficient_funds", "EUR", "recovered_revenue") == 4900
    assert value(metrics, "decline_code", "expired_card", "EUR", "at_risk_revenue") == 4900
    assert value(metrics, "decline_code", breakdowns.CONFIRMATION_KEY, "BRL", "recovered_invoices") == 1
    assert value(metrics, "decline_code", breakdowns.PAUSED_TRIAL_KEY, "BRL", "at_risk_invoices") == 1


def test_breakdowns_by_month_cohort_signup_month_and_plan(metrics: pl.DataFrame) -> None:
    assert value(metrics, "month", "2026-02", "EUR", "at_risk_revenue") == 9800  # days 31 and 45
    assert value(metrics, "month", "2026-03", "BRL", "recovered_revenue") == 9900  # day 70
    assert value(metrics, "cohort", "base", "EUR", "involuntary_churn") == 1
    assert value(metrics, "signup_month", "2024-11", "EUR", "customers") == 1  # day -400.5 → 2024-11-26
    assert value(metrics, "plan", "Starter", "EUR", "collected") == 1900
    assert value(metrics, "paid_by", "customer_link", "EUR", "recovered_revenue") == 4900


def test_prevented_failures_and_reminder_cancellations(metrics: pl.DataFrame) -> None:
    # Customer 1's card expires at the start of April (day 90); the updater replaced it on day 80.
    assert value(metrics, "total", "all", "EUR", "prevented_failures") == 1
    assert value(metrics, "prevented_by", "card_updater", "EUR", "prevented_failures") == 1
    # Customer 3 canceled 3 days after a renewal reminder sent with a 7-day lead.
    assert value(metrics, "total", "all", "EUR", "reminder_cancellations") == 1
    short = breakdowns.shard_metrics(fake_run(lead_days=3 - 1))
    assert value(short, "total", "all", "EUR", "reminder_cancellations") == 0


def test_emails_sent_and_recovery_emails(metrics: pl.DataFrame) -> None:
    assert value(metrics, "total", "all", "EUR", "emails_sent") == 5
    assert (
        value(metrics, "total", "all", "EUR", "recovery_emails") == 4
    )  # the receipt is not a recovery email
    assert value(metrics, "email_type", "payment_failed", "EUR", "acted") == 1


def test_derive_forms_ratios_after_summing(metrics: pl.DataFrame) -> None:
    two_shards = pl.concat(
        [
            metrics.with_columns(pl.lit("a").alias("arm"), pl.lit(0).alias("replication")),
            metrics.with_columns(pl.lit("a").alias("arm"), pl.lit(0).alias("replication")),
        ]
    )
    derived = breakdowns.derive(breakdowns.combine(two_shards))
    eur = derived.filter((pl.col("dimension") == "total") & (pl.col("currency") == "EUR"))
    got = dict(zip(eur["metric"], eur["value"], strict=True))
    assert got["at_risk_revenue"] == 2 * 9800
    assert got["recovery_rate"] == pytest.approx(0.5)
    assert got["emails_per_100_recovered"] == pytest.approx(2 * 4 * 100 / (2 * 49.00))
    assert got["time_to_recover_mean_days"] == pytest.approx(3.5)


def test_combine_fills_missing_rows_with_zero() -> None:
    units = pl.DataFrame(
        {"arm": ["a", "a"], "replication": [0, 1], "dimension": ["total", "total"], "key": ["all", "all"],
         "currency": ["EUR", "EUR"], "metric": ["x", "y"], "value": [3, 4]}
    )  # fmt: skip
    combined = breakdowns.combine(units)
    assert combined.height == 4
    assert combined.filter(pl.col("value") == 0).height == 2


@pytest.mark.parametrize(
    ("df", "expected"), [(1, 12.706205), (2, 4.302653), (4, 2.776445), (9, 2.262157), (29, 2.045230)]
)
def test_t_quantile_matches_tables(df: int, expected: float) -> None:
    assert intervals.t_quantile(0.975, df) == pytest.approx(expected, abs=1e-5)


def test_summarize_and_paired_differences_by_hand() -> None:
    per_rep = pl.DataFrame(
        {
            "arm": ["base"] * 3 + ["new"] * 3,
            "replication": [0, 1, 2] * 2,
            "metric": ["m"] * 6,
            "value": [10.0, 20.0, 30.0, 12.0, 21.0, 33.0],
        }
    )
    stats = intervals.summarize(per_rep, ["arm", "metric"])
    base = stats.filter(pl.col("arm") == "base").row(0, named=True)
    half = intervals.t_quantile(0.975, 2) * 10.0 / math.sqrt(3)
    assert base["mean"] == 20.0 and base["ci_low"] == pytest.approx(20 - half)
    diffs = (
        intervals.paired_differences(per_rep, "base", ["metric"])
        .filter(pl.col("arm") == "new")
        .row(0, named=True)
    )
    half_d = intervals.t_quantile(0.975, 2) * 1.0 / math.sqrt(3)
    assert diffs["diff_mean"] == pytest.approx(2.0)  # differences 2, 1, 3: mean 2, sd 1
    assert diffs["diff_ci_high"] - diffs["diff_ci_low"] == pytest.approx(2 * half_d)
    # Unpaired (Welch) ignores the pairing and is much wider here.
    assert diffs["diff_unpaired_ci_high"] - diffs["diff_unpaired_ci_low"] > 5 * (2 * half_d)
