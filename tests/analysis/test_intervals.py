"""Common random numbers pay off: the paired interval of a policy difference is narrower than the
interval that ignores the pairing (docs/experiments.md)."""

from __future__ import annotations

import polars as pl
import pytest

from recovery_sim.experiments.compare import compare
from recovery_sim.experiments.executors import InlineExecutor
from recovery_sim.settings.config import Policy, Scenario


@pytest.fixture(scope="module")
def comparison():
    scenario = Scenario.default().scaled(customers=2000, months=6)
    policies = {name: Policy.named(name) for name in ("none", "recommended-minimum")}
    return compare(scenario, policies, replications=5, seed=3, executor=InlineExecutor())


@pytest.mark.parametrize("metric", ["collected", "recovered_revenue", "recovery_rate", "involuntary_churn"])
def test_paired_interval_is_narrower_than_unpaired(comparison, metric: str) -> None:
    row = comparison.table.filter(
        (pl.col("arm") == "recommended-minimum")
        & (pl.col("currency") == "EUR")
        & (pl.col("metric") == metric)
    ).row(0, named=True)
    paired = row["diff_ci_high"] - row["diff_ci_low"]
    unpaired = row["diff_unpaired_ci_high"] - row["diff_unpaired_ci_low"]
    assert 0 < paired < unpaired
    assert row["diff_ci_low"] <= row["diff_mean"] <= row["diff_ci_high"]


def test_pairing_removes_most_of_the_customer_to_customer_noise(comparison) -> None:
    """Which customers a replication draws dominates the variance of revenue; pairing cancels it."""
    for metric in ("billed", "collected"):
        row = comparison.table.filter(
            (pl.col("arm") == "recommended-minimum")
            & (pl.col("currency") == "EUR")
            & (pl.col("metric") == metric)
        ).row(0, named=True)
        paired = row["diff_ci_high"] - row["diff_ci_low"]
        assert paired < 0.5 * (row["diff_unpaired_ci_high"] - row["diff_unpaired_ci_low"])
        assert row["diff_ci_low"] > 0  # the policy's gain is resolved
    paired = comparison.paired("recommended-minimum", "none", "collected", "EUR")
    assert paired["mean"] == pytest.approx(row["diff_mean"])


def test_baseline_has_no_difference_with_itself(comparison) -> None:
    base = comparison.table.filter(pl.col("arm") == "none")
    assert base.get_column("diff_mean").null_count() == base.height
