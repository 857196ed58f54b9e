"""How robust a comparison's verdict is to the behavioural numbers behind it.

A winner found at one set of assumed rates may not be the winner at another plausible set. Two
methods answer "how much would it take?": one setting at a time over its plausible range, with the
value where the winner changes found by bisection (a tornado), and Morris elementary effects, every
range varied at once. Every point runs every policy with the same seed, so every point sees the same
customers and draws (common random numbers): a difference between points is the setting's doing, not
sampling noise. docs/sensitivity.md has the method and its limits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import polars as pl

from recovery_sim.experiments import executors
from recovery_sim.experiments.compare import Comparison
from recovery_sim.experiments.units import (
    DEFAULT_SHARD_SIZE,
    Progress,
    check_run,
    make_tasks,
    shard_ranges,
    sorted_units,
)
from recovery_sim.settings.config import ConfigError, Policy, Scenario

METHODS = ("oat", "morris")
BISECTION_STEPS = 6
"""Each step halves the bracket around a flip: six narrow a range to 1/64 of its width."""
MORRIS_TRAJECTORIES = 10
MORRIS_LEVELS = 4
METRIC = "collected"

TORNADO_SCHEMA = {
    "setting": pl.String, "low": pl.Float64, "default": pl.Float64, "high": pl.Float64,
    "end": pl.String, "value": pl.Float64, "policy": pl.String, "control": pl.String,
    "currency": pl.String, "diff_mean": pl.Float64,
    "diff_ci_low": pl.Float64, "diff_ci_high": pl.Float64, "default_diff": pl.Float64,
    "swing": pl.Float64, "winner": pl.String, "default_winner": pl.String,
}  # fmt: skip
FLIPS_SCHEMA = {
    "setting": pl.String, "currency": pl.String, "low": pl.Float64, "default": pl.Float64,
    "high": pl.Float64, "flip_value": pl.Float64,
    "bracket_low": pl.Float64, "bracket_high": pl.Float64, "winner_below": pl.String,
    "winner_above": pl.String, "steps": pl.Int64,
}  # fmt: skip
MORRIS_SCHEMA = {
    "setting": pl.String, "policy": pl.String, "control": pl.String, "currency": pl.String,
    "mu": pl.Float64, "mu_star": pl.Float64, "sigma": pl.Float64, "mu_star_conf": pl.Float64,
    "trajectories": pl.Int64,
}  # fmt: skip


class RangeLike(Protocol):
    setting: str
    low: float
    high: float
    value: float


@dataclass(frozen=True)
class Range:
    """A scenario setting (a dotted path `Scenario.with_setting` accepts), its default and plausible ends."""

    setting: str
    low: float
    high: float
    value: float


@dataclass
class Sensitivity:
    """What `sensitivity` found, as tidy polars tables plus one plain sentence per currency.

    `tornado`: per setting × end (low, high) × policy × currency, the paired difference of collected
    revenue (minor units) against the control with its t-interval, the same at the default, the swing
    |high − low| and the winner at that end. `flips`: where the winner changes inside a range. `morris`:
    mu* and sigma of each setting's elementary effect on each policy's difference. `verdict`: currency →
    sentence. `fixed`: settings whose range is a single value, so not varied. The unused method's
    tables are empty.
    """

    method: str
    control: str
    policies: list[str]
    replications: int
    seed: int
    customers: int
    months: int
    fixed: list[str]
    tornado: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TORNADO_SCHEMA))
    flips: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FLIPS_SCHEMA))
    morris: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MORRIS_SCHEMA))
    verdict: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ settings


def _current(scenario: Scenario, dotted: str) -> Any:
    """The scenario's value at a dotted path (`cohorts.0.x` or `cohorts[0].x`), or None if unreadable."""
    node: Any = scenario.model_dump()
    for part in dotted.replace("[", ".").replace("]", "").split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


@dataclass(frozen=True)
class _Axis:
    """One range as it applies to this scenario: whole numbers stay whole, the default is the scenario's."""

    setting: str
    low: float
    high: float
    default: float
    integer: bool

    def value(self, x: float) -> float | int:
        return int(round(x)) if self.integer else float(x)

    def apply(self, scenario: Scenario, x: float) -> Scenario:
        return scenario.with_setting(self.setting, self.value(x))


def _axes(scenario: Scenario, ranges: Sequence[RangeLike]) -> tuple[list[_Axis], list[str]]:
    """Check every range up front (a bad path or an end the model refuses is a ConfigError naming it).

    Returns the ranges to vary and the settings held fixed (low equal to high: nothing to try)."""
    if not ranges:
        raise ConfigError("sensitivity needs at least one range (setting, low, high, value)")
    axes, fixed, seen = [], [], set()
    for r in ranges:
        if r.setting in seen:
            raise ConfigError(f"range {r.setting!r} given twice")
        seen.add(r.setting)
        low, high, value = (float(x) for x in (r.low, r.high, r.value))
        if low > high:
            raise ConfigError(f"range {r.setting!r}: low ({low:g}) must not be above high ({high:g})")
        current = _current(scenario, r.setting)
        integer = isinstance(current, int) and not isinstance(current, bool)
        numeric = isinstance(current, int | float) and not isinstance(current, bool)
        axis = _Axis(r.setting, low, high, float(current) if numeric else value, integer)
        for end in (low, high):
            axis.apply(scenario, end)  # raises ConfigError naming the setting
        if low == high:
            fixed.append(r.setting)
        else:
            axes.append(axis)
    if not axes:
        raise ConfigError("every range has low equal to high: there is nothing to vary")
    return axes, fixed


def _show(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


# --------------------------------------------------------------------------------------------- points


@dataclass(frozen=True)
class _Outcome:
    """One point's paired differences against the control, and who collects the most, per currency."""

    diffs: pl.DataFrame  # policy, currency, diff_mean, diff_ci_low, diff_ci_high
    winners: dict[str, str]


class _Runner:
    """Runs scenarios × policies on common random numbers through one executor, counting progress."""

    def __init__(
        self,
        executor: Executor,
        policies: Mapping[str, Policy],
        replications: int,
        seed: int,
        shard_size: int,
        progress: Progress | None,
    ) -> None:
        self.executor, self.policies = executor, dict(policies)
        self.replications, self.seed, self.shard_size = replications, seed, shard_size
        self.progress = progress
        self.done = self.planned = 0

    @property
    def control(self) -> str:
        return next(iter(self.policies))

    def expect(self, points: int, customers: int) -> None:
        """Announce work to come, so the progress bar's total is right before it starts."""
        shards = len(shard_ranges(customers, self.shard_size))
        self.planned += points * len(self.policies) * self.replications * shards

    def run(self, scenarios: Sequence[Scenario]) -> list[_Outcome]:
        arms = {
            f"{i}/{name}": (sc, policy)
            for i, sc in enumerate(scenarios)
            for name, policy in self.policies.items()
        }
        tasks = make_tasks(arms, self.replications, self.seed, self.shard_size)
        self.planned = max(self.planned, self.done + len(tasks))
        results: list[pl.DataFrame] = []
        keep = lambda _task, out: results.append(out["metrics"].filter(pl.col("dimension") == "total"))  # noqa: E731
        executors.execute(tasks, self.executor, keep, self.progress, done=self.done, total=self.planned)
        self.done += len(tasks)
        units = sorted_units(pl.concat(results))
        point = pl.col("arm").str.split_exact("/", 1)
        units = units.with_columns(
            point.struct.field("field_0").cast(pl.Int64).alias("_point"),
            point.struct.field("field_1").alias("arm"),
        )
        return [
            self._outcome(units.filter(pl.col("_point") == i).drop("_point")) for i in range(len(scenarios))
        ]

    def _outcome(self, units: pl.DataFrame) -> _Outcome:
        names = list(self.policies)
        comparison = Comparison(names, units, self.seed, self.replications, self.shard_size)
        stats = comparison.stats("total", [METRIC])
        diffs = stats.select(
            pl.col("arm").alias("policy"), "currency", "mean", "diff_mean", "diff_ci_low", "diff_ci_high"
        )
        winners = {}
        for currency in comparison.currencies:
            means = dict(diffs.filter(pl.col("currency") == currency).select("policy", "mean").iter_rows())
            winners[currency] = max(names, key=lambda n: (means.get(n, -math.inf), -names.index(n)))
        return _Outcome(diffs.filter(pl.col("policy") != names[0]).drop("mean"), winners)


# ------------------------------------------------------------------------------------ one at a time


def _bisect(
    scenario: Scenario, axis: _Axis, currency: str, lo: float, hi: float, below: str,
    runner: _Runner, steps: int,
) -> dict[str, Any]:  # fmt: skip
    """Narrow [lo, hi] (winner `below` at lo, another at hi) to where `below` stops winning."""
    above, used = None, 0
    for _ in range(steps):
        mid = axis.value((lo + hi) / 2)
        if not lo < mid < hi:  # whole-number settings: nothing left between the ends
            break
        runner.expect(1, scenario.customers)
        winner = runner.run([axis.apply(scenario, mid)])[0].winners.get(currency)
        used += 1
        if winner == below:
            lo = mid
        else:
            hi, above = mid, winner
    return {"bracket_low": lo, "bracket_high": hi, "steps": used, "above": above,
            "flip_value": hi if axis.integer else (lo + hi) / 2}  # fmt: skip


def _tornado_rows(axis: _Axis, ends: dict[str, _Outcome], default: _Outcome, control: str) -> list[dict]:
    base = {(r["policy"], r["currency"]): r for r in default.diffs.iter_rows(named=True)}
    rows = []
    for end in ("low", "high"):
        for r in ends[end].diffs.iter_rows(named=True):
            at_default = base.get((r["policy"], r["currency"]), {})
            rows.append({
                "setting": axis.setting, "low": axis.low, "default": axis.default, "high": axis.high,
                "end": end, "value": float(axis.value(getattr(axis, end))), "policy": r["policy"],
                "control": control,
                "currency": r["currency"], "diff_mean": r["diff_mean"], "diff_ci_low": r["diff_ci_low"],
                "diff_ci_high": r["diff_ci_high"], "default_diff": at_default.get("diff_mean"),
                "winner": ends[end].winners.get(r["currency"]),
                "default_winner": default.winners.get(r["currency"]),
            })  # fmt: skip
    return rows


def _one_at_a_time(
    scenario: Scenario, axes: Sequence[_Axis], runner: _Runner, steps: int
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """The tornado and flips tables, and the currencies, the one with most customers first."""
    runner.expect(1 + 2 * len(axes), scenario.customers)
    points = [scenario] + [axis.apply(scenario, x) for axis in axes for x in (axis.low, axis.high)]
    outcomes = runner.run(points)
    default, rows, flips = outcomes[0], [], []
    for i, axis in enumerate(axes):
        ends = {"low": outcomes[1 + 2 * i], "high": outcomes[2 + 2 * i]}
        rows += _tornado_rows(axis, ends, default, runner.control)
        # A default at one end of its range is the same world as that end: one point, not two.
        along = sorted(
            {axis.low: ends["low"], axis.default: default, axis.high: ends["high"]}.items(),
            key=lambda item: item[0],
        )
        for currency in default.winners:
            for (lo, at_lo), (hi, at_hi) in zip(along, along[1:], strict=False):
                below, above = at_lo.winners.get(currency), at_hi.winners.get(currency)
                if below == above or below is None or above is None:
                    continue
                found = _bisect(scenario, axis, currency, lo, hi, below, runner, steps)
                flips.append({
                    "setting": axis.setting, "currency": currency, "low": axis.low,
                    "default": axis.default, "high": axis.high,
                    "flip_value": float(found["flip_value"]), "bracket_low": float(found["bracket_low"]),
                    "bracket_high": float(found["bracket_high"]), "winner_below": below,
                    "winner_above": found["above"] or above, "steps": found["steps"],
                })  # fmt: skip
    return _tornado_frame(rows), pl.DataFrame(flips, schema=FLIPS_SCHEMA), list(default.winners)


def _tornado_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows ordered as the chart reads: the setting that swings a difference most first."""
    frame = pl.DataFrame(rows, schema={k: v for k, v in TORNADO_SCHEMA.items() if k != "swing"})
    by = ["setting", "policy", "currency"]
    swing = (pl.col("diff_mean").max() - pl.col("diff_mean").min()).over(by)
    frame = frame.with_columns(swing.alias("swing")).select(list(TORNADO_SCHEMA))
    widest = pl.col("swing").max().over("setting")
    return frame.sort(
        [widest, "setting", "policy", "currency", "end"], descending=[True, False, False, False, True]
    )


# --------------------------------------------------------------------------------------------- Morris


def _morris(
    scenario: Scenario, axes: Sequence[_Axis], runner: _Runner, trajectories: int, seed: int
) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """mu* and sigma per setting and policy difference; also each sampled point's winners per currency."""
    from SALib.analyze import morris as analyze  # SciPy and friends load only when Morris is asked for
    from SALib.sample import morris as sample

    if trajectories < 2:
        raise ConfigError(f"Morris needs at least 2 trajectories, got {trajectories}")
    problem = {"num_vars": len(axes), "names": [a.setting for a in axes],
               "bounds": [[a.low, a.high] for a in axes]}  # fmt: skip
    design = sample.sample(problem, trajectories, num_levels=MORRIS_LEVELS, seed=seed)
    points = []
    for row in design:
        sc = scenario
        for axis, x in zip(axes, row, strict=True):
            sc = axis.apply(sc, float(x))
        points.append(sc)
    runner.expect(len(points), scenario.customers)
    outcomes = runner.run(points)
    long = pl.concat([o.diffs.with_columns(pl.lit(i).alias("_point")) for i, o in enumerate(outcomes)])
    control, rows = runner.control, []
    for (policy, currency), group in long.group_by(["policy", "currency"], maintain_order=True):
        y = group.sort("_point").get_column("diff_mean").fill_null(0.0).to_numpy().astype(np.float64)
        if len(y) != len(design):  # a currency some points never bill in
            continue
        found = analyze.analyze(problem, design, y, num_levels=MORRIS_LEVELS, seed=seed)
        for j, axis in enumerate(axes):
            rows.append({
                "setting": axis.setting, "policy": policy, "control": control, "currency": currency,
                "mu": float(found["mu"][j]), "mu_star": float(found["mu_star"][j]),
                "sigma": float(found["sigma"][j]), "mu_star_conf": float(found["mu_star_conf"][j]),
                "trajectories": trajectories,
            })  # fmt: skip
    winners: dict[str, list[str]] = {}
    for outcome in outcomes:
        for currency, winner in outcome.winners.items():
            winners.setdefault(currency, []).append(winner)
    frame = pl.DataFrame(rows, schema=MORRIS_SCHEMA).sort(
        ["currency", "policy", "mu_star", "setting"], descending=[False, False, True, False]
    )
    return frame, winners


# -------------------------------------------------------------------------------------------- verdict


def _oat_verdict(tornado: pl.DataFrame, flips: pl.DataFrame, currency: str, ranges: int) -> str:
    mine = flips.filter(pl.col("currency") == currency)
    winners = tornado.filter(pl.col("currency") == currency).get_column("default_winner")
    winner = winners[0] if winners.len() else None
    if mine.is_empty():
        return (
            f"The ranking holds across every range: {winner} collects the most {currency} at both ends "
            f"of each of the {ranges} ranges tried."
        )
    parts = []
    for r in mine.iter_rows(named=True):  # nearest the default first
        parts.append(
            f"{r['setting']} passes {_show(r['flip_value'])} (default {_show(r['default'])}): "
            f"{r['winner_below']} collects the most {currency} below it, {r['winner_above']} above"
        )
    return "It flips when " + "; and when ".join(parts) + "."


def _morris_verdict(morris: pl.DataFrame, winners: list[str], currency: str) -> str:
    top = (
        morris.filter(pl.col("currency") == currency)
        .group_by("setting").agg(pl.col("mu_star").max())
        .sort(["mu_star", "setting"], descending=[True, False]).get_column("setting").head(2).to_list()
    )  # fmt: skip
    counts = {w: winners.count(w) for w in dict.fromkeys(winners)}
    if len(counts) == 1:
        return (
            f"The ranking holds across every range: {winners[0]} collects the most {currency} at all "
            f"{len(winners)} points where every setting varied at once."
        )
    leader = max(counts, key=counts.get)
    return (
        f"It flips when the settings vary together: {leader} collects the most {currency} at "
        f"{counts[leader]} of {len(winners)} sampled points, and {' and '.join(top)} move the "
        f"differences most."
    )


# ------------------------------------------------------------------------------------------------ api


def _default_ranges() -> Sequence[RangeLike]:
    from recovery_sim.settings.evidence import load_evidence  # the evidence table: every default's range

    return load_evidence()


def sensitivity(
    scenario: Scenario,
    policies: Mapping[str, Policy],
    ranges: Sequence[RangeLike] | None = None,
    method: str = "oat",
    replications: int = 4,
    seed: int = 0,
    executor: Executor | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    bisection_steps: int = BISECTION_STEPS,
    trajectories: int = MORRIS_TRAJECTORIES,
) -> Sensitivity:
    """How the policies' collected revenue against the first (the control) moves over each range.

    `ranges`: objects with `.setting`, `.low`, `.high`, `.value` (`Range`, or the evidence table when
    None). `method`: "oat" (one setting at a time, flips by bisection) or "morris" (all at once).
    `executor`: as for `compare`; every point shares `seed` (common random numbers).
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if len(policies) < 2:
        raise ConfigError("sensitivity needs a control and at least one other policy")
    check_run(replications, shard_size)
    if bisection_steps < 0:
        raise ConfigError(f"bisection_steps must be 0 or more, got {bisection_steps}")
    axes, fixed = _axes(scenario, _default_ranges() if ranges is None else ranges)
    names = [str(n) for n in policies]
    result = Sensitivity(
        method, names[0], names, replications, seed, scenario.customers, scenario.horizon_months, fixed
    )
    with executors.run_on(executor, workers) as ex:
        runner = _Runner(ex, dict(zip(names, policies.values(), strict=True)), replications, seed,
                         shard_size, progress)  # fmt: skip
        if method == "oat":
            result.tornado, flips, currencies = _one_at_a_time(scenario, axes, runner, bisection_steps)
            nearest = (pl.col("flip_value") - pl.col("default")).abs() / (pl.col("high") - pl.col("low"))
            result.flips = flips.sort([nearest, "setting", "currency"])
            result.verdict = {c: _oat_verdict(result.tornado, result.flips, c, len(axes)) for c in currencies}
        else:
            result.morris, winners = _morris(scenario, axes, runner, trajectories, seed)
            result.verdict = {c: _morris_verdict(result.morris, w, c) for c, w in winners.items()}
    return result
