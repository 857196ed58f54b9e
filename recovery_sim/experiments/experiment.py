"""Policy what-ifs at scale: replications, paired comparisons, parameter sweeps, executors and a store.

Why it is shaped this way (docs/experiments.md has the full method):
- A work unit is (arm, replication, shard). Shards are fixed-size ranges of customer ids that depend
  on the scenario alone, so neither the executor nor the number of workers can change a result.
- Every arm of one replication runs with the same seed and replication index: the same customers,
  cards and failures (common random numbers), so arm differences are the policy's effect alone and
  are estimated per replication (paired), which makes their intervals tight.
- A unit returns additive sums (`breakdowns.shard_metrics`); ratios are formed only after summing.
- Any `concurrent.futures.Executor` runs the units: a local process pool by default, Dask through
  `Client.get_executor()`. Sweeps write one Parquet file per unit, atomically, and skip what exists.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recovery_sim import atomic
from recovery_sim.analysis import breakdowns
from recovery_sim.settings.config import ConfigError, Policy, Scenario

DEFAULT_SHARD_SIZE = 5_000
STORE_FORMAT = 1
SCENARIO_PREFIX = "scenario."
Progress = Callable[[int, int], None]
"""Called as progress(done, total) after each finished (or skipped) work unit."""

REPORT_POLICIES = ("none", "recommended-minimum", "all-on", "aggressive")
REPORT_REPLICATIONS = 8
"""Enough for tight paired intervals; 4 policies × 8 runs of 20,000 customers fit in ~1 min on 2 cores."""
REPORT_SEED = 7


# ------------------------------------------------------------------------------------------ work units


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


def _tasks(
    arms: Mapping[str, tuple[Scenario, Policy]],
    replications: int,
    seed: int,
    shard_size: int,
    keep_events: bool = False,
) -> list[Task]:
    return [
        Task(name, rep, shard, lo, hi, scenario, policy, seed, keep_events)
        for rep in range(replications)
        for name, (scenario, policy) in arms.items()
        for shard, (lo, hi) in enumerate(shard_ranges(scenario.customers, shard_size))
    ]


# ------------------------------------------------------------------------------------------- executors


class InlineExecutor(Executor):
    """Runs each call at submit time in this process: the sequential reference for tests and debugging."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/]+$")


def check_dask(dask: str | None) -> None:
    """`local`, or a scheduler address such as tcp://10.0.0.5:8786."""
    if dask is not None and dask != "local" and not _ADDRESS.match(dask):
        raise ConfigError(f"--dask must be 'local' or a scheduler address like tcp://host:8786, got {dask!r}")


@contextlib.contextmanager
def open_executor(workers: int | None = None, dask: str | None = None) -> Iterator[Executor]:
    """A process pool (default), a Dask LocalCluster (`dask="local"`) or a running Dask scheduler.

    Closed on exit. Worker processes are spawned, not forked, because polars' thread pool does not
    survive a fork.
    """
    check_dask(dask)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if dask is None:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    import logging

    from distributed import Client, LocalCluster

    cluster = None
    if dask == "local":
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(dask, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {dask}: {exc}") from exc
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _executor(executor: Executor | None, workers: int | None) -> Iterator[Executor]:
    if executor is not None:
        yield executor
    else:
        with open_executor(workers) as own:
            yield own


def execute(
    tasks: Sequence[Task],
    executor: Executor,
    on_result: Callable[[Task, dict[str, pl.DataFrame]], None],
    progress: Progress | None = None,
    done: int = 0,
    total: int | None = None,
) -> None:
    """Submit every task, hand each result to `on_result` as it completes; on the first error cancel
    what has not started and re-raise (results already handed over are kept)."""
    total = len(tasks) + done if total is None else total
    futures = {executor.submit(run_task, task): task for task in tasks}
    try:
        for future in as_completed(futures):
            on_result(futures[future], future.result())
            done += 1
            if progress is not None:
                progress(done, total)
    finally:
        for future in futures:
            future.cancel()


# ------------------------------------------------------------------------------------------ comparison


def _check_run(replications: int, shard_size: int) -> None:
    if replications < 1:
        raise ConfigError(f"replications must be at least 1, got {replications}")
    if shard_size < 1:
        raise ConfigError(f"shard_size must be at least 1, got {shard_size}")


@dataclass
class Comparison:
    """Arms run on common random numbers, reduced to statistics across replications.

    `units` keeps every (arm, replication, shard) sum; `replicates` is one row per arm × replication ×
    currency of headline metrics; `table` gives, per arm × currency × metric, the mean and its 95%
    t-interval and the paired difference against the first arm (the baseline) with its t-interval.
    """

    arms: list[str]
    units: pl.DataFrame
    seed: int
    replications: int
    shard_size: int
    policies: dict[str, Policy] = field(default_factory=dict)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    level: float = 0.95

    @property
    def baseline(self) -> str:
        return self.arms[0]

    @property
    def scenario(self) -> Scenario | None:
        return next(iter(self.scenarios.values()), None)

    def _order(self, frame: pl.DataFrame) -> pl.DataFrame:
        rank = {name: i for i, name in enumerate(self.arms)}
        return frame.with_columns(pl.col("arm").replace_strict(rank, return_dtype=pl.Int32).alias("_arm"))

    @cached_property
    def per_replication(self) -> pl.DataFrame:
        """Long frame of sums and ratios per arm × replication (shards summed, then ratios formed)."""
        derived = breakdowns.derive(breakdowns.combine(self.units))
        collected = derived.filter((pl.col("dimension") == "total") & (pl.col("metric") == "collected"))
        base = collected.filter(pl.col("arm") == self.baseline).select(
            "replication", "currency", pl.col("value").alias("_base")
        )
        incremental = collected.join(base, on=["replication", "currency"]).select(
            "arm", "replication", "dimension", "key", "currency",
            pl.lit("incremental_revenue").alias("metric"),
            (pl.col("value") - pl.col("_base")).alias("value"),
        )  # fmt: skip
        out = pl.concat([derived, incremental.select(derived.columns)])
        return (
            self._order(out)
            .sort("_arm", "replication", "dimension", "key", "currency", "metric")
            .drop("_arm")
        )

    def stats(self, dimension: str = "total", metrics: Sequence[str] | None = None) -> pl.DataFrame:
        """Mean, t-interval and paired difference vs the baseline, per arm × key × currency × metric."""
        rows = self.per_replication.filter(pl.col("dimension") == dimension)
        if metrics is not None:
            rows = rows.filter(pl.col("metric").is_in(list(metrics)))
        by = ["key", "currency", "metric"]
        each = breakdowns.summarize(rows, ["arm", *by], level=self.level)
        diffs = breakdowns.paired_differences(rows, self.baseline, by, level=self.level)
        out = each.join(diffs, on=["arm", *by], how="left").with_columns(
            pl.lit(self.baseline).alias("baseline")
        )
        is_base = pl.col("arm") == self.baseline  # the baseline's difference with itself says nothing
        out = out.with_columns(
            pl.when(~is_base).then(pl.col(c)).alias(c) for c in out.columns if c.startswith("diff_")
        )
        return self._order(out).sort("_arm", *by).drop("_arm")

    @cached_property
    def table(self) -> pl.DataFrame:
        """Headline metrics: one row per arm × currency × metric (HEADLINE_METRICS order)."""
        out = self.stats("total").drop("key")
        known = [m for m in breakdowns.HEADLINE_METRICS if m in set(out.get_column("metric"))]
        rank = {m: i for i, m in enumerate(known)}
        out = out.filter(pl.col("metric").is_in(known)).with_columns(
            pl.col("metric").replace_strict(rank, return_dtype=pl.Int32).alias("_metric")
        )
        return self._order(out).sort("_arm", "currency", "_metric").drop("_arm", "_metric")

    @cached_property
    def replicates(self) -> pl.DataFrame:
        """One row per arm × replication × currency, a column per headline metric."""
        rows = self.per_replication.filter(
            (pl.col("dimension") == "total") & pl.col("metric").is_in(list(breakdowns.HEADLINE_METRICS))
        )
        wide = rows.pivot(on="metric", index=["arm", "replication", "currency"], values="value")
        present = [m for m in breakdowns.HEADLINE_METRICS if m in wide.columns]
        return (
            self._order(wide.select("arm", "replication", "currency", *present))
            .sort("_arm", "replication", "currency")
            .drop("_arm")
        )

    def breakdown(self, dimension: str, metrics: Sequence[str] | None = None) -> pl.DataFrame:
        """`stats` for one breakdown (month, cohort, signup_month, plan, decline_code, funnel, ...)."""
        if dimension not in set(self.per_replication.get_column("dimension")):
            known = ", ".join(sorted(set(self.per_replication.get_column("dimension"))))
            raise ConfigError(f"no breakdown {dimension!r}; known: {known}")
        return self.stats(dimension, metrics)

    @cached_property
    def currencies(self) -> list[str]:
        """Currencies seen, the one with most customers first: the report's main currency.

        Ordered by customers, not by money, because amounts in different currencies do not compare.
        """
        customers = (
            self.per_replication.filter((pl.col("dimension") == "total") & (pl.col("metric") == "customers"))
            .group_by("currency")
            .agg(pl.col("value").sum())
        )
        return (
            customers.sort(["value", "currency"], descending=[True, False]).get_column("currency").to_list()
        )

    def paired(
        self, arm: str, other: str, metric: str, currency: str, dimension: str = "total", key: str = "all"
    ) -> dict[str, float]:
        """Mean and t-interval of (arm − other) per replication for one metric."""
        rows = self.per_replication.filter(
            (pl.col("dimension") == dimension)
            & (pl.col("key") == key)
            & (pl.col("currency") == currency)
            & (pl.col("metric") == metric)
        )
        a = rows.filter(pl.col("arm") == arm).select("replication", pl.col("value").alias("a"))
        b = rows.filter(pl.col("arm") == other).select("replication", pl.col("value").alias("b"))
        diff = a.join(b, on="replication").select(
            (pl.col("a") - pl.col("b")).alias("value"), pl.lit(1).alias("g")
        )
        if diff.is_empty():
            raise ConfigError(f"no {metric} in {currency} for both {arm!r} and {other!r}")
        row = breakdowns.summarize(diff, ["g"], level=self.level).row(0, named=True)
        return {k: row[k] for k in ("n", "mean", "sd", "ci_low", "ci_high")}

    def ranking(self, metric: str = "collected", currency: str | None = None) -> list[str]:
        """Arms by mean `metric` in `currency` (default: the main currency), best first."""
        currency = currency or self.currencies[0]
        means = self.table.filter((pl.col("metric") == metric) & (pl.col("currency") == currency))
        ranked = means.sort(["mean", "arm"], descending=[True, False]).get_column("arm").to_list()
        return ranked


def compare(
    scenario: Scenario,
    policies: Mapping[str, Policy],
    replications: int = 10,
    seed: int = 0,
    executor: Executor | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Comparison:
    """Run every policy on the same customers and draws; the first policy is the baseline.

    `executor`: any concurrent.futures.Executor; None starts a local process pool of `workers`.
    """
    if not policies:
        raise ConfigError("compare needs at least one policy")
    _check_run(replications, shard_size)
    arms = {str(name): (scenario, policy) for name, policy in policies.items()}
    tasks = _tasks(arms, replications, seed, shard_size)
    results: list[pl.DataFrame] = []
    with _executor(executor, workers) as ex:
        execute(tasks, ex, lambda _task, out: results.append(out["metrics"]), progress)
    return Comparison(
        arms=list(arms),
        units=_sorted_units(pl.concat(results)),
        seed=seed,
        replications=replications,
        shard_size=shard_size,
        policies={name: policy for name, (_, policy) in arms.items()},
        scenarios={name: sc for name, (sc, _) in arms.items()},
    )


def _sorted_units(units: pl.DataFrame) -> pl.DataFrame:
    return units.sort("arm", "replication", "shard", "dimension", "key", "currency", "metric")


# ----------------------------------------------------------------------------------------------- sweeps


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


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _manifest(
    scenario: Scenario,
    policy: Policy,
    grid: Mapping[str, Sequence[Any]],
    arms: list[SweepArm],
    replications: int,
    seed: int,
    shard_size: int,
    keep_events: bool,
) -> dict[str, Any]:
    return {
        "format": STORE_FORMAT,
        "kind": "recovery_sim.sweep",
        "seed": seed,
        "replications": replications,
        "shard_size": shard_size,
        "keep_events": keep_events,
        "grid": {k: _jsonable(list(v)) for k, v in grid.items()},
        "arms": [
            {
                "id": a.id,
                "label": a.label,
                "settings": _jsonable(a.settings),
                "shards": len(shard_ranges(a.scenario.customers, shard_size)),
            }
            for a in arms
        ],
        "layout": "units/<arm>_r<replication>_s<shard>.parquet; raw/<events|emails|invoices>/<same name>",
        "scenario": scenario.model_dump(mode="json"),
        "policy": policy.model_dump(mode="json"),
    }


def _claim_store(store: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the manifest, or check an existing one describes the same sweep (more replications is fine)."""
    path = store / "manifest.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: unreadable manifest ({exc}); use another --out") from exc
        same = {k: v for k, v in old.items() if k != "replications"} == {
            k: v for k, v in manifest.items() if k != "replications"
        }
        if not same:
            raise ConfigError(
                f"{store} holds a different sweep (grid, seed, shard size, scenario or policy differ); "
                "use another --out or remove it"
            )
        manifest = {**manifest, "replications": max(old["replications"], manifest["replications"])}
        if manifest == old:
            return manifest
    atomic.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", path)
    return manifest


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
    (`scenario.card_updater_rate`). With a `store`, each unit lands in its own Parquet file as soon as
    it finishes; a re-run skips the files already there, so an interrupted sweep resumes.
    The paired differences are against the first combination.
    """
    _check_run(replications, shard_size)
    arms = expand_grid(scenario, policy, grid)
    by_id = {a.id: (a.scenario, a.policy) for a in arms}
    tasks = _tasks(by_id, replications, seed, shard_size, keep_events)
    if store is None:
        results: list[pl.DataFrame] = []
        with _executor(executor, workers) as ex:
            execute(tasks, ex, lambda _task, out: results.append(out["metrics"]), progress)
        units = pl.concat(results)
    else:
        root = Path(store)
        root.mkdir(parents=True, exist_ok=True)
        _claim_store(
            root, _manifest(scenario, policy, grid, arms, replications, seed, shard_size, keep_events)
        )
        for stale in root.rglob(".*.tmp"):  # atomic.py's temporaries left by a crash; never a finished unit
            stale.unlink()
        todo = [t for t in tasks if not _unit_path(root, t.name).exists()]
        if progress is not None:
            progress(len(tasks) - len(todo), len(tasks))
        if todo:
            with _executor(executor, workers) as ex:
                execute(
                    todo, ex, lambda task, out: _write_unit(root, task, out), progress,
                    done=len(tasks) - len(todo), total=len(tasks),
                )  # fmt: skip
        units = pl.concat([pl.read_parquet(_unit_path(root, t.name)) for t in tasks])
    comparison = Comparison(
        arms=[a.id for a in arms],
        units=_sorted_units(units),
        seed=seed,
        replications=replications,
        shard_size=shard_size,
        policies={a.id: a.policy for a in arms},
        scenarios={a.id: a.scenario for a in arms},
    )
    table = with_settings(comparison.table, arms)
    if store is not None:
        write_parquet_atomic(table, Path(store) / "summary.parquet")
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
    path = root / "manifest.json"
    if not path.exists():
        raise ConfigError(f"{root}: no manifest.json; not a sweep store")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    reps = replications or manifest["replications"]
    files = sorted((root / "units").glob("*.parquet"))
    units = pl.concat([pl.read_parquet(f) for f in files]).filter(pl.col("replication") < reps)
    arms = [a["id"] for a in manifest["arms"]]
    comparison = Comparison(
        arms=arms, units=_sorted_units(units), seed=manifest["seed"], replications=reps,
        shard_size=manifest["shard_size"],
    )  # fmt: skip
    settings = pl.DataFrame(
        {"arm": arms, "label": [a["label"] for a in manifest["arms"]]}
        | {k: [_show(a["settings"][k]) for a in manifest["arms"]] for k in manifest["grid"]}
    )
    return comparison, settings


# -------------------------------------------------------------------------------------------- the store


def _unit_path(root: Path, name: str) -> Path:
    return root / "units" / f"{name}.parquet"


def _write_unit(root: Path, task: Task, out: dict[str, pl.DataFrame]) -> None:
    """Raw frames first, the metrics file last: its presence is what marks the unit done."""
    for kind in ("events", "emails", "invoices"):
        if kind in out:
            write_parquet_atomic(out[kind], root / "raw" / kind / f"{task.name}.parquet")
    write_parquet_atomic(out["metrics"], _unit_path(root, task.name))


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Written beside the target, then renamed over it: readers see no file or the whole file."""
    atomic.atomic_write(path, lambda tmp: frame.write_parquet(tmp, compression="zstd", statistics=True))
