"""Grid sweeps: every combination of settings as an arm of one comparison, optionally into a store.

The paired differences are against the first combination. With a store each unit lands in its own
Parquet file as soon as it finishes, and a re-run skips the files already there (`store.py`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from recovery_sim.experiments import executors
from recovery_sim.experiments import store as unit_store
from recovery_sim.experiments.compare import Comparison
from recovery_sim.experiments.units import (
    DEFAULT_SHARD_SIZE,
    Progress,
    check_run,
    make_tasks,
    sorted_units,
)
from recovery_sim.settings.config import ConfigError, Policy, Scenario

SCENARIO_PREFIX = "scenario."


@dataclass(frozen=True)
class SweepArm:
    id: str
    label: str
    settings: dict[str, Any]
    scenario: Scenario
    policy: Policy


def expand_grid(scenario: Scenario, policy: Policy, grid: Mapping[str, Sequence[Any]]) -> list[SweepArm]:
    """The cartesian product of the grid, each combination validated (ConfigError names the setting)."""
    if not grid:
        raise ConfigError("the sweep grid is empty; give at least one setting and its values")
    for key, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or len(values) == 0:
            raise ConfigError(f"grid setting {key!r} needs a non-empty list of values")
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) != len(seen):
            raise ConfigError(f"grid setting {key!r} lists a value twice")
    arms = []
    keys = list(grid)
    for index, combo in enumerate(itertools.product(*(grid[k] for k in keys))):
        sc, po = scenario, policy
        for key, value in zip(keys, combo, strict=True):
            if key.startswith(SCENARIO_PREFIX):
                sc = sc.with_setting(key.removeprefix(SCENARIO_PREFIX), value)
            else:
                po = po.with_setting(key, value)
        label = ", ".join(f"{k}={_show(v)}" for k, v in zip(keys, combo, strict=True))
        arms.append(SweepArm(f"a{index:03d}", label, dict(zip(keys, combo, strict=True)), sc, po))
    return arms


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def sweep(
    scenario: Scenario,
    policy: Policy,
    grid: Mapping[str, Sequence[Any]],
    replications: int = 10,
    store: str | Path | None = None,
    executor: Executor | None = None,
    seed: int = 0,
    shard_size: int = DEFAULT_SHARD_SIZE,
    keep_events: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Run every combination of `grid` settings, return headline stats per arm with its settings.

    Keys are policy settings (`retries.max_attempts`) or scenario settings prefixed `scenario.`
    (`scenario.card_updater_rate`). `executor`: as for `compare`.
    """
    check_run(replications, shard_size)
    arms = expand_grid(scenario, policy, grid)
    tasks = make_tasks(
        {a.id: (a.scenario, a.policy) for a in arms}, replications, seed, shard_size, keep_events
    )
    if store is None:
        results: list[pl.DataFrame] = []
        with executors.run_on(executor, workers) as ex:
            executors.execute(tasks, ex, lambda _task, out: results.append(out["metrics"]), progress)
        units = pl.concat(results)
    else:
        root = Path(store)
        unit_store.claim(
            root,
            unit_store.manifest(scenario, policy, grid, arms, replications, seed, shard_size, keep_events),
        )
        todo = unit_store.pending(root, tasks)
        skipped = len(tasks) - len(todo)
        if progress is not None:
            progress(skipped, len(tasks))
        if todo:
            with executors.run_on(executor, workers) as ex:
                write = lambda task, out: unit_store.write_unit(root, task, out)  # noqa: E731
                executors.execute(todo, ex, write, progress, done=skipped, total=len(tasks))
        units = unit_store.read_units(root, tasks)
    comparison = Comparison(
        arms=[a.id for a in arms],
        units=sorted_units(units),
        seed=seed,
        replications=replications,
        shard_size=shard_size,
        policies={a.id: a.policy for a in arms},
        scenarios={a.id: a.scenario for a in arms},
    )
    table = with_settings(comparison.table, arms)
    if store is not None:
        unit_store.write_summary(Path(store), table)
    return table


def with_settings(table: pl.DataFrame, arms: Sequence[SweepArm]) -> pl.DataFrame:
    """Prefix a per-arm frame with the arm's label and one column per swept setting."""
    keys = list(arms[0].settings) if arms else []
    columns: dict[str, Any] = {"arm": [a.id for a in arms], "label": [a.label for a in arms]}
    for key in keys:
        values = [a.settings[key] for a in arms]
        try:
            columns[key] = pl.Series(key, values, strict=True)
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            columns[key] = pl.Series(key, [_show(v) for v in values])
    settings = pl.DataFrame(columns)
    return settings.join(table, on="arm", how="right").select(
        "arm", "label", *keys, pl.exclude("arm", "label", *keys)
    )


def load_sweep(store: str | Path, replications: int | None = None) -> tuple[Comparison, pl.DataFrame]:
    """Re-open a sweep store: the Comparison of its finished units and the arms' settings frame."""
    root = Path(store)
    manifest = unit_store.read_manifest(root)
    reps = replications or manifest["replications"]
    units = unit_store.read_all_units(root).filter(pl.col("replication") < reps)
    arms = [a["id"] for a in manifest["arms"]]
    comparison = Comparison(
        arms=arms, units=sorted_units(units), seed=manifest["seed"], replications=reps,
        shard_size=manifest["shard_size"],
    )  # fmt: skip
    settings = pl.DataFrame(
        {"arm": arms, "label": [a["label"] for a in manifest["arms"]]}
        | {k: [_show(a["settings"][k]) for a in manifest["arms"]] for k in manifest["grid"]}
    )
    return comparison, settings
