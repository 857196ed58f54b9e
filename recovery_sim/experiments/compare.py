"""Paired comparisons: every arm on common random numbers, reduced to statistics across replications.

Every arm of one replication runs with the same seed and replication index: the same customers, cards
and failures, so arm differences are the policy's effect alone and are estimated per replication
(paired), which makes their intervals tight. docs/experiments.md has the method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from recovery_sim.analysis import breakdowns, intervals
from recovery_sim.experiments import executors
from recovery_sim.experiments.units import (
    DEFAULT_SHARD_SIZE,
    Progress,
    check_run,
    make_tasks,
    sorted_units,
)
from recovery_sim.settings.config import ConfigError, Policy, Scenario

REPORT_POLICIES = ("none", "recommended-minimum", "all-on", "aggressive")
REPORT_REPLICATIONS = 8
"""Enough for tight paired intervals; 4 policies × 8 runs of 20,000 customers fit in ~1 min on 2 cores."""
REPORT_SEED = 7


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
        each = intervals.summarize(rows, ["arm", *by], level=self.level)
        diffs = intervals.paired_differences(rows, self.baseline, by, level=self.level)
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
        row = intervals.summarize(diff, ["g"], level=self.level).row(0, named=True)
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
    check_run(replications, shard_size)
    arms = {str(name): (scenario, policy) for name, policy in policies.items()}
    tasks = make_tasks(arms, replications, seed, shard_size)
    results: list[pl.DataFrame] = []
    with executors.run_on(executor, workers) as ex:
        executors.execute(tasks, ex, lambda _task, out: results.append(out["metrics"]), progress)
    return Comparison(
        arms=list(arms),
        units=sorted_units(pl.concat(results)),
        seed=seed,
        replications=replications,
        shard_size=shard_size,
        policies={name: policy for name, (_, policy) in arms.items()},
        scenarios={name: sc for name, (sc, _) in arms.items()},
    )
