"""Results never depend on the executor, the worker count or the shard size (DESIGN principle 2, 5)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recovery_sim.analysis.metrics import summary
from recovery_sim.api import simulate
from recovery_sim.experiments.compare import Comparison, compare
from recovery_sim.experiments.executors import InlineExecutor, open_executor
from recovery_sim.experiments.forks import ForkedWorkerError
from recovery_sim.experiments.units import shard_ranges
from recovery_sim.settings.config import ConfigError, Policy, Scenario

REPS = 2
SEED = 11
ROOT = Path(__file__).resolve().parents[2]
HANG_LIMIT_S = 240  # a forked worker that hangs never finishes; anything that fails fast is done in seconds


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


# ----------------------------------------------------------- executors a user builds: work or fail fast

FORK_POOL = """
import multiprocessing, sys
from concurrent.futures import Executor, ProcessPoolExecutor
import recovery_sim as rs


class Wrapped(Executor):  # an executor the caller cannot see into, around a pool it keeps inside
    def __init__(self, inner):
        self.inner = inner

    def submit(self, fn, /, *args, **kwargs):
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


scenario = rs.Scenario.default().scaled(customers=200, months=2)
policies = {"none": rs.Policy.named("none"), "all-on": rs.Policy.named("all-on")}
rs.simulate(scenario, policies["none"], seed=1)  # polars' thread pool now runs, as in a used notebook
pool = {pool}
try:
    rs.compare(scenario, policies, replications=1, executor=pool, shard_size=100)
except rs.ConfigError as exc:
    print("refused:", exc)
    sys.exit(3)
finally:
    pool.shutdown(wait=False, cancel_futures=True)
print("finished")
"""


class Wrapped(Executor):
    """An executor the caller cannot see into: it hands every call to a pool it keeps inside."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner

    def submit(self, fn, /, *args, **kwargs):
        return self.inner.submit(fn, *args, **kwargs)


@pytest.mark.parametrize(
    "pool",
    [
        "ProcessPoolExecutor(2)",  # the Linux default start method before Python 3.14: fork
        "ProcessPoolExecutor(2, mp_context=multiprocessing.get_context('fork'))",
        "Wrapped(ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('fork')))",
    ],
    ids=["default", "fork", "wrapped-fork"],
)
def test_fork_pool_fails_fast_with_the_fix(pool) -> None:
    """What a notebook user writes, after a simulation: refused with a message naming spawn/forkserver,
    never a hang (run in a subprocess under a hard timeout, so a hang fails this test, not the suite)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = FORK_POOL.replace("{pool}", pool)
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              timeout=HANG_LIMIT_S, start_new_session=True)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"compare on {pool} hung for {HANG_LIMIT_S} s")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "get_context('spawn')" in done.stdout and "forkserver" in done.stdout


def test_a_forked_worker_refuses_before_touching_polars() -> None:
    """The worker-side check: a child of a multi-threaded process stops with ForkedWorkerError."""
    import threading

    gate = threading.Event()
    thread = threading.Thread(target=gate.wait)
    thread.start()  # this process now has another thread when it forks
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    try:
        future = Wrapped(pool).submit(_check_worker_in_child)
        with pytest.raises(ForkedWorkerError, match="forkserver"):
            future.result(timeout=HANG_LIMIT_S)
    finally:
        gate.set()
        thread.join()
        pool.shutdown(cancel_futures=True)


def _check_worker_in_child() -> None:
    from recovery_sim.experiments.forks import check_worker

    check_worker()


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawn_and_forkserver_pools_equal_sequential(
    method, small_scenario, two_policies, sequential
) -> None:
    """A pool the user builds the way the message says: same units and table as InlineExecutor."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
        parallel = compare(
            small_scenario, two_policies, replications=REPS, seed=SEED, executor=pool, shard_size=250
        )
    assert_frame_equal(parallel.units, sequential.units)
    assert_frame_equal(parallel.table, sequential.table)


def test_a_users_dask_client_executor_equals_sequential(small_scenario, two_policies, sequential) -> None:
    """`Client.get_executor()` on a LocalCluster the user starts (threads, 1 worker): the same table."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:  # fmt: skip
        distributed = compare(
            small_scenario, two_policies, replications=REPS, seed=SEED, executor=client.get_executor(),
            shard_size=250,
        )  # fmt: skip
    assert_frame_equal(distributed.units, sequential.units)
    assert_frame_equal(distributed.table, sequential.table)
