"""Work units: one arm × replication × shard, the only thing an executor ever runs.

A shard is a fixed-size range of customer ids that depends on the scenario alone, so neither the
executor nor the number of workers can change a result. A unit returns additive sums
(`breakdowns.shard_metrics`); ratios are formed only after summing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from recovery_sim.analysis import breakdowns
from recovery_sim.experiments.forks import check_worker
from recovery_sim.settings.config import ConfigError, Policy, Scenario

DEFAULT_SHARD_SIZE = 5_000
Progress = Callable[[int, int], None]
"""Called as progress(done, total) after each finished (or skipped) work unit."""


@dataclass(frozen=True)
class Task:
    """One work unit: customers [first, stop) of one arm in one replication."""

    arm: str
    replication: int
    shard: int
    first: int
    stop: int
    scenario: Scenario
    policy: Policy
    seed: int
    keep_events: bool = False

    @property
    def name(self) -> str:
        return f"{self.arm}_r{self.replication:04d}_s{self.shard:04d}"


def shard_ranges(customers: int, shard_size: int) -> list[tuple[int, int]]:
    """Fixed-size id ranges; the last one may be shorter. Depends on nothing but the two numbers."""
    return [(lo, min(lo + shard_size, customers)) for lo in range(0, customers, shard_size)]


def run_task(task: Task) -> dict[str, pl.DataFrame]:
    """Simulate one shard and reduce it to additive metrics (this runs inside a worker)."""
    from recovery_sim.api import simulate  # imported here so a worker only loads the engine when it needs it

    check_worker()
    ids = np.arange(task.first, task.stop, dtype=np.int64)
    run = simulate(task.scenario, task.policy, seed=task.seed, replication=task.replication, customer_ids=ids)
    metrics = breakdowns.shard_metrics(run).select(
        pl.lit(task.arm).alias("arm"),
        pl.lit(task.replication, dtype=pl.Int32).alias("replication"),
        pl.lit(task.shard, dtype=pl.Int32).alias("shard"),
        pl.all(),
    )
    out = {"metrics": metrics}
    if task.keep_events:
        out.update(events=run.events, emails=run.emails, invoices=run.invoices)
    return out


def make_tasks(
    arms: Mapping[str, tuple[Scenario, Policy]],
    replications: int,
    seed: int,
    shard_size: int,
    keep_events: bool = False,
) -> list[Task]:
    """Every unit, replication-major, so a partial run has whole replications of every arm first."""
    return [
        Task(name, rep, shard, lo, hi, scenario, policy, seed, keep_events)
        for rep in range(replications)
        for name, (scenario, policy) in arms.items()
        for shard, (lo, hi) in enumerate(shard_ranges(scenario.customers, shard_size))
    ]


def check_run(replications: int, shard_size: int) -> None:
    if replications < 1:
        raise ConfigError(f"replications must be at least 1, got {replications}")
    if shard_size < 1:
        raise ConfigError(f"shard_size must be at least 1, got {shard_size}")


def sorted_units(units: pl.DataFrame) -> pl.DataFrame:
    """The one row order of unit sums, whatever order the executor finished them in."""
    return units.sort("arm", "replication", "shard", "dimension", "key", "currency", "metric")
