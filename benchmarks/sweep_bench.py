"""Sweep benchmark: wall time of one sweep on a process pool and on Dask, with 1 and 2 workers.

Full size: 8 arms (retries.max_attempts × emails.payment_failed) × 10 replications × the 20,000-customer
default scenario over 12 months. `--quick`: the same grid, 2 replications, 2,000 customers, 3 months.
Prints a table, checks every configuration produced the same results, and appends the table to
benchmarks/results.md under "## Sweep". Run: `.venv/bin/python benchmarks/sweep_bench.py [--quick]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from bench import cpu_model  # the engine benchmark beside this file

from recovery_sim import atomic
from recovery_sim.experiments.executors import default_workers, open_executor
from recovery_sim.experiments.sweep import sweep
from recovery_sim.experiments.units import DEFAULT_SHARD_SIZE, shard_ranges
from recovery_sim.settings.config import Policy, Scenario

GRID = {"retries.max_attempts": [2, 4, 6, 8], "emails.payment_failed": [False, True]}
RESULTS = Path(__file__).resolve().parent / "results.md"
HEADING = "## Sweep"


def run(
    scenario: Scenario, replications: int, executor_kind: str, workers: int
) -> tuple[float, pl.DataFrame]:
    """Wall time of one sweep into a fresh store, including starting and stopping the executor."""
    policy = Policy.named("none")
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as store:
        started = time.perf_counter()
        with open_executor(workers, dask="local" if executor_kind == "dask" else None) as executor:
            table = sweep(
                scenario, policy, GRID, replications=replications, store=store, executor=executor, seed=1
            )
        return time.perf_counter() - started, table


def append_results(text: str) -> None:
    """Insert under "## Sweep" (created at the end if missing), keeping every other section as it is."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    if HEADING not in current:
        updated = current.rstrip("\n") + f"\n\n{HEADING}\n\n{text}"
    else:
        start = current.index(HEADING) + len(HEADING)
        following = current.find("\n## ", start)
        end = len(current) if following < 0 else following + 1
        updated = (
            current[:end].rstrip("\n") + f"\n\n{text}" + ("\n" + current[end:] if following >= 0 else "")
        )
    atomic.write_text(updated, RESULTS)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 replications, 2,000 customers, 3 months")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args()
    scenario = Scenario.default()
    replications = 10
    if args.quick:
        scenario, replications = scenario.scaled(customers=2_000, months=3), 2
    arms = len(GRID["retries.max_attempts"]) * len(GRID["emails.payment_failed"])
    units = arms * replications * len(shard_ranges(scenario.customers, DEFAULT_SHARD_SIZE))
    rows, tables = [], []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for kind in ("process pool", "dask"):
        for workers in (1, 2):
            seconds, table = run(scenario, replications, "dask" if kind == "dask" else "pool", workers)
            tables.append(table)
            rows.append((kind, workers, seconds, units / seconds))
            print(
                f"{kind:>12} × {workers} worker(s): {seconds:7.1f} s  ({units / seconds:5.2f} units/s)",
                flush=True,
            )
    identical = all(t.equals(tables[0]) for t in tables[1:])
    base = {kind: s for kind, w, s, _ in rows if w == 1}
    lines = [
        f"{dt.date.today().isoformat()}{' (quick)' if args.quick else ''}: {arms} arms × {replications} "
        f"replications × {scenario.customers:,} customers × {scenario.horizon_months} months = {units} units "
        f"of ≤{DEFAULT_SHARD_SIZE:,} customers. CPU: {cpu_model()} ({default_workers()} available), "
        f"Python {platform.python_version()}, load average {load:.1f} at start. "
        f"Same results everywhere: {'yes' if identical else 'NO'}.",
        "",
        "| executor | workers | wall s | units/s | speed-up |",
        "|---|---:|---:|---:|---:|",
        *(f"| {kind} | {w} | {s:.1f} | {u:.2f} | {base[kind] / s:.2f}× |" for kind, w, s, u in rows),
        "",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        append_results(text)
        print(f"appended to {RESULTS}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
