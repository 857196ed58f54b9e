"""Sweeps: the grid, the manifest, atomic unit files, and resuming after a crash to the very same store."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from threading import Timer
from typing import Any

import polars as pl
import pytest

from recovery_sim.experiments.executors import InlineExecutor, open_executor
from recovery_sim.experiments.sweep import expand_grid, load_sweep, sweep
from recovery_sim.settings.config import ConfigError, Policy, Scenario

GRID = {"retries.max_attempts": [2, 6], "scenario.card_updater_rate": [0.0, 0.6]}
REPS = 2
SHARD = 300  # 600 customers → 2 shards; 4 arms × 2 replications × 2 shards = 16 units


class CrashAfter(Executor):
    """Runs the first `n` units; every later one fails shortly after, like a worker lost mid-sweep."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.submitted = 0
        self.inner = InlineExecutor()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        self.submitted += 1
        if self.submitted <= self.n:
            return self.inner.submit(fn, *args, **kwargs)
        future: Future = Future()
        future.set_running_or_notify_cancel()  # "running" on a worker, so it cannot be cancelled
        Timer(0.05, future.set_exception, [RuntimeError("worker lost")]).start()
        return future


def run_sweep(
    scenario: Scenario, policy: Policy, store: Path, executor: Executor, **options: Any
) -> pl.DataFrame:
    options = {"seed": 5, "shard_size": SHARD, **options}
    return sweep(scenario, policy, GRID, replications=REPS, store=store, executor=executor, **options)


def snapshot(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def base_policy() -> Policy:
    return Policy.named("recommended-minimum")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, small_scenario: Scenario, base_policy: Policy) -> tuple[Path, pl.DataFrame]:
    store = tmp_path_factory.mktemp("reference")
    return store, run_sweep(small_scenario, base_policy, store, InlineExecutor())


def test_grid_is_a_validated_cartesian_product(small_scenario, base_policy) -> None:
    arms = expand_grid(small_scenario, base_policy, GRID)
    assert [a.id for a in arms] == ["a000", "a001", "a002", "a003"]
    assert arms[1].settings == {"retries.max_attempts": 2, "scenario.card_updater_rate": 0.6}
    assert arms[1].policy.retries.max_attempts == 2 and arms[1].scenario.card_updater_rate == 0.6
    with pytest.raises(ConfigError, match="upcoming_renewal_days"):
        expand_grid(small_scenario, base_policy, {"emails.upcoming_renewal_days": [7, 5]})
    with pytest.raises(ConfigError, match="no setting"):
        expand_grid(small_scenario, base_policy, {"retries.nope": [1]})
    with pytest.raises(ConfigError, match="empty"):
        expand_grid(small_scenario, base_policy, {})


def test_store_layout_manifest_and_summary(reference) -> None:
    store, table = reference
    units = sorted(p.name for p in (store / "units").glob("*.parquet"))
    assert len(units) == 4 * REPS * 2 and units[0] == "a000_r0000_s0000.parquet"
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["grid"] == {"retries.max_attempts": [2, 6], "scenario.card_updater_rate": [0.0, 0.6]}
    assert [a["shards"] for a in manifest["arms"]] == [2, 2, 2, 2]
    assert not list(store.rglob("*.tmp"))
    assert pl.read_parquet(store / "summary.parquet").equals(table)
    assert {"retries.max_attempts", "scenario.card_updater_rate", "mean", "ci_low", "diff_mean"} <= set(
        table.columns
    )
    more_retries = table.filter(
        (pl.col("metric") == "recovered_revenue")
        & (pl.col("currency") == "EUR")
        & (pl.col("scenario.card_updater_rate") == 0.0)
    ).sort("retries.max_attempts")
    assert more_retries["mean"][1] > more_retries["mean"][0]


def test_interrupted_sweep_resumes_to_the_same_store(
    tmp_path, reference, small_scenario, base_policy
) -> None:
    store = tmp_path / "store"
    with pytest.raises(RuntimeError, match="worker lost"):
        run_sweep(small_scenario, base_policy, store, CrashAfter(5))
    assert len(list((store / "units").glob("*.parquet"))) == 5
    (store / "units" / ".a003_r0001_s0001.parquet.crash.tmp").write_bytes(b"half a file")
    done = []
    progress = lambda d, n: done.append((d, n))  # noqa: E731
    table = run_sweep(small_scenario, base_policy, store, InlineExecutor(), progress=progress)
    assert done[0] == (5, 16) and done[-1] == (16, 16)  # resumed: the five finished units were skipped
    ref_store, ref_table = reference
    assert snapshot(store) == snapshot(ref_store)
    assert table.equals(ref_table)


def test_killed_worker_then_resume_on_a_process_pool(
    tmp_path, reference, small_scenario, base_policy
) -> None:
    store = tmp_path / "store"
    with open_executor(workers=2) as pool:

        def kill_a_worker(done: int, total: int) -> None:
            if done == 1:
                os.kill(next(iter(pool._processes)), signal.SIGKILL)

        with pytest.raises(BrokenProcessPool):
            run_sweep(small_scenario, base_policy, store, pool, progress=kill_a_worker)
    assert 1 <= len(list((store / "units").glob("*.parquet"))) < 16
    run_sweep(small_scenario, base_policy, store, InlineExecutor())
    assert snapshot(store) == snapshot(reference[0])


def test_a_store_refuses_another_sweep(reference, small_scenario, base_policy) -> None:
    store, _ = reference
    with pytest.raises(ConfigError, match="different sweep"):
        run_sweep(small_scenario, base_policy, store, InlineExecutor(), seed=6)


def test_load_sweep_reopens_the_store(reference) -> None:
    store, table = reference
    comparison, settings = load_sweep(store)
    assert comparison.arms == ["a000", "a001", "a002", "a003"]
    assert settings.height == 4
    assert comparison.table.equals(table.drop("label", *GRID))


def test_raw_events_are_kept_only_when_asked(tmp_path, small_scenario, base_policy) -> None:
    store = tmp_path / "raw"
    sweep(
        small_scenario.scaled(customers=100),
        base_policy,
        {"retries.max_attempts": [3]},
        replications=1,
        store=store,
        executor=InlineExecutor(),
        keep_events=True,
    )
    for kind in ("events", "emails", "invoices"):
        assert pl.read_parquet(store / "raw" / kind / "a000_r0000_s0000.parquet").height > 0
