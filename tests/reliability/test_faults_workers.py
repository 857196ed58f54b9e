"""Faults in sweeps: a process-pool worker that dies (os._exit) mid-sweep, a Dask LocalCluster worker
SIGKILLed mid-sweep, and the `recovery-sim sweep` process itself SIGKILLed with its pool. Each time a
re-run resumes, and the final store equals an uninterrupted run's: same file names, same frames, same
bytes, and no temporary left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from fault_helpers import ExitOnce

from recovery_sim.experiments.executors import InlineExecutor, open_executor
from recovery_sim.experiments.sweep import sweep
from recovery_sim.settings.config import Policy, Scenario

ROOT = Path(__file__).resolve().parents[2]
GRID = {"retries.max_attempts": [2, 6]}
REPS, SHARD, SEED = 2, 100, 5  # 200 customers → 2 shards; 2 arms × 2 replications × 2 shards = 8 units
UNITS = 8


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.default().scaled(customers=200, months=3)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.named("recommended-minimum")


def run_sweep(scenario: Scenario, policy: Policy, store: Path, executor, **options) -> pl.DataFrame:
    return sweep(scenario, policy, GRID, replications=REPS, store=store, executor=executor, seed=SEED,
                 shard_size=SHARD, **options)  # fmt: skip


@pytest.fixture(scope="module")
def reference(tmp_path_factory, scenario, policy) -> Path:
    """The store of an uninterrupted sweep."""
    store = tmp_path_factory.mktemp("reference")
    run_sweep(scenario, policy, store, InlineExecutor())
    return store


def files(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())


def assert_same_store(store: Path, reference: Path) -> None:
    """Same file names, same frames in every Parquet file, same bytes everywhere."""
    assert files(store) == files(reference)
    for name in files(reference):
        if name.endswith(".parquet"):
            assert pl.read_parquet(store / name).equals(pl.read_parquet(reference / name)), name
        assert (store / name).read_bytes() == (reference / name).read_bytes(), name
    assert not list(store.rglob("*.tmp"))


def units(store: Path) -> int:
    return len(list((store / "units").glob("*.parquet")))


# --------------------------------------------------------------------------------- workers lost mid-sweep


def test_process_pool_worker_exits_mid_sweep_then_resume(tmp_path, scenario, policy, reference) -> None:
    """A unit kills its worker process (os._exit) on its first attempt; the re-run resumes."""
    from concurrent.futures.process import BrokenProcessPool

    store, marker = tmp_path / "store", tmp_path / "crashed"
    with open_executor(workers=1) as pool, pytest.raises(BrokenProcessPool):
        run_sweep(scenario, policy, store, ExitOnce(pool, marker, victim="a001_r0000_s0000"))
    assert marker.exists()  # the worker really died
    assert units(store) < UNITS
    with open_executor(workers=1) as pool:
        table = run_sweep(scenario, policy, store, ExitOnce(pool, marker, victim="a001_r0000_s0000"))
    assert_same_store(store, reference)
    assert table.equals(pl.read_parquet(reference / "summary.parquet"))


def test_dask_worker_killed_mid_sweep_then_resume(tmp_path, scenario, policy, reference) -> None:
    """SIGKILL a Dask LocalCluster worker after the first unit; finish (or re-run) to the same store."""
    store = tmp_path / "store"
    killed: list[int] = []
    with open_executor(workers=2, dask="local") as executor:
        client = executor._client  # type: ignore[attr-defined]

        def kill_a_worker(done: int, total: int) -> None:
            if done >= 1 and not killed:
                pids = sorted(client.run(os.getpid).values())
                killed.append(pids[0])
                os.kill(pids[0], signal.SIGKILL)

        try:
            run_sweep(scenario, policy, store, executor, progress=kill_a_worker)
        except Exception:  # noqa: BLE001 - the scheduler may give up on the unit; the re-run must not care
            pass
    assert killed
    run_sweep(scenario, policy, store, InlineExecutor())
    assert_same_store(store, reference)


def test_cli_sweep_killed_then_rerun_resumes(tmp_path) -> None:
    """`recovery-sim sweep` SIGKILLed (with its workers) mid-sweep; running it again completes the store
    to exactly what one uninterrupted sweep writes."""
    store = tmp_path / "store"
    args = ["sweep", "--customers", "300", "--months", "2", "-r", "1", "--workers", "1", "--shard-size", "25",
            "--seed", str(SEED), "--grid", "retries.max_attempts=2,6", "--out", str(store)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "recovery_sim.cli", *args]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if (store / "units").is_dir() and units(store) >= 2:
                break
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI and the pool it started
        proc.wait()
    if proc.returncode == 0:
        pytest.fail("the sweep finished before it could be killed; make it longer")
    assert 2 <= units(store) < 24
    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    reference = tmp_path / "reference"
    sweep(Scenario.default().scaled(customers=300, months=2), Policy.named("recommended-minimum"), GRID,
          replications=1, store=reference, executor=InlineExecutor(), seed=SEED, shard_size=25)  # fmt: skip
    assert_same_store(store, reference)
