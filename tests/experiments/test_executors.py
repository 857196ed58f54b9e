"""Results never depend on the executor, the worker count or the shard size (DESIGN principle 2, 5)."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recovery_sim.analysis.metrics import summary
from recovery_sim.api import simulate
from recovery_sim.experiments.experiment import (
    Comparison,
    InlineExecutor,
    compare,
    open_executor,
    shard_ranges,
)
from recovery_sim.settings.config import ConfigError, Policy, Scenario

REPS = 2
SEED = 11


@pytest.fixture(scope="module")
def two_policies(shipped_policies: dict[str, Policy]) -> dict[str, Policy]:
    return {name: shipped_policies[name] for name in ("none", "all-on")}


@pytest.fixture(scope="module")
def sequential(small_scenario: Scenario, two_policies: dict[str, Policy]) -> Comparison:
    return compare(
        small_scenario, two_policies, replications=REPS, seed=SEED, executor=InlineExecutor(), shard_size=250
    )


def test_shards_are_fixed_ranges_independent_of_workers() -> None:
    assert shard_ranges(600, 250) == [(0, 250), (250, 500), (500, 600)]
    assert shard_ranges(5, 10) == [(0, 5)]


def test_process_pool_equals_sequential(small_scenario, two_policies, sequential) -> None:
    with open_executor(workers=2) as pool:
        parallel = compare(
            small_scenario, two_policies, replications=REPS, seed=SEED, executor=pool, shard_size=250
        )
    assert_frame_equal(parallel.units, sequential.units)
    assert_frame_equal(parallel.table, sequential.table)


def test_dask_local_cluster_equals_sequential(small_scenario, two_policies, sequential) -> None:
    with open_executor(workers=2, dask="local") as cluster:
        distributed = compare(
            small_scenario, two_policies, replications=REPS, seed=SEED, executor=cluster, shard_size=250
        )
    assert_frame_equal(distributed.units, sequential.units)
    assert_frame_equal(distributed.replicates, sequential.replicates)


def test_shard_size_changes_files_not_results(small_scenario, two_policies, sequential) -> None:
    whole = compare(
        small_scenario,
        two_policies,
        replications=REPS,
        seed=SEED,
        executor=InlineExecutor(),
        shard_size=10_000,
    )
    assert whole.units.get_column("shard").unique().to_list() == [0]
    assert_frame_equal(whole.per_replication, sequential.per_replication)
    assert_frame_equal(whole.table, sequential.table)


def test_sums_match_the_headline_summary_of_a_whole_run(small_scenario, two_policies, sequential) -> None:
    """The additive metrics agree with metrics.summary, the one definition of the headline figures."""
    run = simulate(small_scenario, two_policies["all-on"], seed=SEED, replication=1)
    expected = summary(run)
    rows = sequential.per_replication.filter(
        (pl.col("arm") == "all-on") & (pl.col("replication") == 1) & (pl.col("dimension") == "total")
    )
    for record in expected.iter_rows(named=True):
        got = dict(
            rows.filter(pl.col("currency") == record["currency"]).select("metric", "value").iter_rows()
        )
        for metric in (
            "customers",
            "invoices",
            "billed",
            "collected",
            "at_risk_revenue",
            "recovered_revenue",
            "involuntary_churn",
            "voluntary_churn",
            "emails_sent",
        ):
            assert got[metric] == record[metric], (record["currency"], metric)
        assert got["recovery_rate"] == pytest.approx(record["recovery_rate"])


def test_common_random_numbers_same_customers_in_every_arm(sequential) -> None:
    customers = sequential.replicates.select("arm", "replication", "currency", "customers")
    per_arm = customers.pivot(on="arm", index=["replication", "currency"], values="customers")
    assert (per_arm["none"] == per_arm["all-on"]).all()


def test_bad_arguments_are_config_errors(small_scenario, two_policies) -> None:
    with pytest.raises(ConfigError, match="replications"):
        compare(small_scenario, two_policies, replications=0)
    with pytest.raises(ConfigError, match="at least one policy"):
        compare(small_scenario, {}, replications=1)
    with pytest.raises(ConfigError, match="--dask"):
        with open_executor(1, dask="nonsense"):
            pass
