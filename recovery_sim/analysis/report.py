"""The HTML report `make demo` writes: the shipped policies on the default scenario, compared.

Why these choices: the four shipped policies run on common random numbers, so the report can say
which one wins and by how much with a paired interval. Charts are SVG files beside index.html (no
JavaScript, so the page opens anywhere); every file is written atomically. The default number of
replications keeps the 20,000-customer comparison under three minutes on two cores; the robustness
section (`robustness`) runs on a smaller copy of the scenario for the same reason.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from recovery_sim import atomic
from recovery_sim.analysis import breakdowns, charts
from recovery_sim.domain.money import MISSING, format_money
from recovery_sim.experiments.compare import (
    REPORT_POLICIES,
    REPORT_REPLICATIONS,
    REPORT_SEED,
    Comparison,
    compare,
)
from recovery_sim.experiments.executors import default_workers
from recovery_sim.experiments.sensitivity import RangeLike, sensitivity
from recovery_sim.experiments.units import DEFAULT_SHARD_SIZE, Progress
from recovery_sim.resources import TEMPLATES_DIR
from recovery_sim.settings.config import Policy, Scenario

TEMPLATES = TEMPLATES_DIR / "report"
ROBUSTNESS_CUSTOMERS = 2_000
ROBUSTNESS_REPLICATIONS = 2
"""Every range at both ends for every policy is ~100 points: a smaller world and two replications keep
the section to about as long as the comparison itself."""

HEADLINE_COLUMNS = (
    ("collected", "Collected"),
    ("incremental_revenue", "Incremental vs baseline"),
    ("recovered_revenue", "Recovered"),
    ("recovery_rate", "Recovery rate"),
    ("involuntary_churn", "Involuntary churn"),
    ("voluntary_churn", "Voluntary churn"),
    ("reminder_cancellations", "Reminder-induced cancellations"),
    ("prevented_failures", "Prevented failures"),
    ("emails_sent", "Emails sent"),
    ("emails_per_100_recovered", "Recovery emails per 100 recovered"),
    ("time_to_recover_mean_days", "Mean days to recover"),
)


@dataclass
class Figure:
    name: str
    title: str
    file: str
    alt: str
    reading: str


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


# -------------------------------------------------------------------------------------------- numbers


def _value(table: pl.DataFrame, arm: str, metric: str, currency: str) -> dict[str, Any] | None:
    rows = table.filter(
        (pl.col("arm") == arm) & (pl.col("metric") == metric) & (pl.col("currency") == currency)
    )
    return rows.row(0, named=True) if rows.height else None


def _fmt(metric: str, value: float | None, currency: str) -> str:
    if value is None:
        return MISSING
    if metric in breakdowns.MONEY_METRICS:
        return format_money(value, currency, whole=True)
    if metric in breakdowns.PERCENT_METRICS:
        return charts.format_rate(value)
    if metric.endswith("_days") or metric.startswith("emails_per"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _interval(metric: str, low: float | None, high: float | None, currency: str) -> str:
    if low is None or high is None:
        return ""
    return f"{_fmt(metric, low, currency)} to {_fmt(metric, high, currency)}"


def headline_rows(comparison: Comparison, currency: str) -> list[dict[str, Any]]:
    """One row per arm: each cell a formatted mean with its 95% interval (paired for the increment)."""
    table = comparison.table
    rows = []
    for arm in comparison.arms:
        cells = []
        for metric, _label in HEADLINE_COLUMNS:
            row = _value(table, arm, metric, currency)
            if row is None:
                cells.append({"value": MISSING, "ci": ""})
                continue
            if metric == "incremental_revenue":
                ci = _interval(metric, row["diff_ci_low"], row["diff_ci_high"], currency)
                value = "baseline" if arm == comparison.baseline else _fmt(metric, row["mean"], currency)
            else:
                ci = _interval(metric, row["ci_low"], row["ci_high"], currency)
                value = _fmt(metric, row["mean"], currency)
            cells.append({"value": value, "ci": "" if value == "baseline" else ci})
        rows.append({"arm": arm, "cells": cells})
    return rows


def _significant(low: float | None, high: float | None) -> bool:
    return low is not None and high is not None and (low > 0 or high < 0)


def _paired(ci: str) -> str:
    return f" (paired 95% CI {ci})" if ci else ""


def verdict(comparison: Comparison, currency: str) -> dict[str, Any]:
    """Which arm collects the most, by how much over the baseline and over the runner-up (paired CIs)."""
    ranked = comparison.ranking("collected", currency)
    winner, base = ranked[0], comparison.baseline
    out: dict[str, Any] = {"winner": winner, "baseline": base, "currency": currency, "ranking": ranked}
    if len(ranked) == 1:
        out["sentence"] = "Only one policy was run, so there is nothing to compare it with."
        return out
    if winner == base:
        out["sentence"] = (
            f"No policy collects more {currency} than {base}: the baseline ranks first on collected revenue."
        )
        return out
    over_base = comparison.paired(winner, base, "collected", currency)
    if _significant(over_base["ci_low"], over_base["ci_high"]):
        phrase = "a difference the replications resolve"
    else:
        phrase = "but the interval includes zero, so the replications do not resolve it"
    amount = _fmt("collected", over_base["mean"], currency)
    ci = _interval("collected", over_base["ci_low"], over_base["ci_high"], currency)
    if not ci:
        ci, phrase = "", "a single replication, so no interval: run more to know whether it holds"
    sentence = f"It collects {amount} more than {base} over the horizon{_paired(ci)}, {phrase}."
    runner = ranked[1] if len(ranked) > 1 else base
    if runner != base:
        gap = comparison.paired(winner, runner, "collected", currency)
        resolved = _significant(gap["ci_low"], gap["ci_high"])
        gap_ci = _interval("collected", gap["ci_low"], gap["ci_high"], currency)
        sentence += (
            f" Its lead over the runner-up, {runner}, is {_fmt('collected', gap['mean'], currency)}"
            f"{_paired(gap_ci)}"
            + ("." if resolved or not gap_ci else ", within the noise of these replications.")
        )
        out["runner_up"], out["gap"] = runner, gap
    out["over_baseline"] = over_base
    out["sentence"] = sentence
    return out


def notes(comparison: Comparison, currency: str) -> list[str]:
    """Side effects worth a sentence: renewal reminders that prompt cancellations (R7)."""
    table = comparison.table.filter(pl.col("currency") == currency)
    cancels = table.filter(pl.col("metric") == "reminder_cancellations").sort("mean", descending=True)
    out = []
    if cancels.height and cancels.get_column("mean")[0] > 0:
        arm = cancels.get_column("arm")[0]
        mean = cancels.get_column("mean")[0]
        churn = _value(comparison.table, arm, "voluntary_churn", currency)
        base = _value(comparison.table, comparison.baseline, "voluntary_churn", currency)
        if churn and base:
            out.append(
                f"Renewal reminders have a cost: under {arm}, {mean:,.0f} {currency} customers per run "
                f"cancel within the reminder's lead time, and voluntary churn is {churn['mean']:,.0f} "
                f"against {base['mean']:,.0f} under {comparison.baseline}."
            )
    return out


def _mean(stats: pl.DataFrame, arm: str, key: str, metric: str) -> float | None:
    rows = stats.filter((pl.col("arm") == arm) & (pl.col("key") == key) & (pl.col("metric") == metric))
    return rows.get_column("mean")[0] if rows.height else None


def _readings(comparison: Comparison, currency: str, winner: str) -> dict[str, str]:
    """One plain sentence per chart, computed from the numbers it shows."""
    base = comparison.baseline
    table = comparison.table
    out: dict[str, str] = {}

    inc = _value(table, winner, "incremental_revenue", currency)
    rec_w = _value(table, winner, "recovered_revenue", currency)
    rec_b = _value(table, base, "recovered_revenue", currency)
    if inc and winner != base and rec_w and rec_b:
        out["revenue"] = (
            f"{winner} recovers {_fmt('recovered_revenue', rec_w['mean'], currency)} of failed payments "
            f"against {_fmt('recovered_revenue', rec_b['mean'], currency)} under {base}, and collects "
            f"{_fmt('incremental_revenue', inc['mean'], currency)} more in total "
            f"(paired 95% CI {_interval('collected', inc['diff_ci_low'], inc['diff_ci_high'], currency)})."
        )
    else:
        out["revenue"] = f"No policy collects more than {base} in {currency}."

    months = comparison.breakdown("month", ["recovery_rate"]).filter(pl.col("currency") == currency)
    w = months.filter(pl.col("arm") == winner).get_column("mean")
    b = months.filter(pl.col("arm") == base).get_column("mean")
    if w.len() and b.len():
        out["month"] = (
            f"Month by month, {winner} recovers between {charts.format_rate(w.min())} and "
            f"{charts.format_rate(w.max())} of at-risk revenue, against {charts.format_rate(b.min())} to "
            f"{charts.format_rate(b.max())} under {base}; where bands do not overlap, the gap is not noise."
        )
    else:
        out["month"] = "Too few at-risk invoices per month to draw a trend."

    funnel = comparison.breakdown("funnel", ["invoices"]).filter(pl.col("currency") == currency)
    failed = _mean(funnel, winner, "failed", "invoices") or 0.0
    emailed = _mean(funnel, winner, "emailed", "invoices") or 0.0
    acted = _mean(funnel, winner, "acted", "invoices") or 0.0
    churned_w = _mean(funnel, winner, "churned", "invoices") or 0.0
    churned_b = _mean(funnel, base, "churned", "invoices") or 0.0
    if failed > 0:
        acted_share = charts.format_rate(acted / emailed if emailed else 0.0)
        out["funnel"] = (
            f"Under {winner}, {charts.format_rate(emailed / failed)} of at-risk invoices get an email and "
            f"customers act on {acted_share} of those; {churned_w:,.0f} at-risk invoices per run end "
            f"with the customer churning, against {churned_b:,.0f} under {base}."
        )
    else:
        out["funnel"] = "No invoice was at risk in this scenario."

    ttr = comparison.breakdown("time_to_recover", ["invoices"]).filter(pl.col("currency") == currency)
    fast = list(breakdowns.TIME_BINS[:2])

    def within_two_days(arm: str) -> float | None:
        rows = ttr.filter(pl.col("arm") == arm)
        total = rows.get_column("mean").sum()
        return rows.filter(pl.col("key").is_in(fast)).get_column("mean").sum() / total if total else None

    fw, fb = within_two_days(winner), within_two_days(base)
    if fw is not None and fb is not None:
        out["time"] = (
            f"{charts.format_rate(fw)} of the invoices {winner} recovers are paid within two days of issue, "
            f"against {charts.format_rate(fb)} under {base}: emails bring payments forward."
        )
    else:
        out["time"] = "Too few recovered invoices to describe how long recovery takes."

    declines = comparison.breakdown("decline_code", ["recovery_rate", "at_risk_revenue"]).filter(
        pl.col("currency") == currency
    )
    at_risk = declines.filter((pl.col("metric") == "at_risk_revenue") & (pl.col("arm") == base))
    if at_risk.height:
        top = at_risk.sort(["mean", "key"], descending=[True, False]).row(0, named=True)
        share = top["mean"] / at_risk.get_column("mean").sum()
        rw = _mean(declines, winner, top["key"], "recovery_rate")
        rb = _mean(declines, base, top["key"], "recovery_rate")
        out["decline"] = (
            f"{top['key']} is the largest source of at-risk revenue ({charts.format_rate(share)} of it); "
            f"{winner} recovers {charts.format_rate(rw)} of it against {charts.format_rate(rb)} under {base}."
        )
    else:
        out["decline"] = "No payment failed in this scenario."
    return out


# ----------------------------------------------------------------------------------------- robustness


def robustness(
    scenario: Scenario,
    policies: Mapping[str, Policy],
    out_dir: Path,
    ranges: Sequence[RangeLike] | None = None,
    customers: int = ROBUSTNESS_CUSTOMERS,
    replications: int = ROBUSTNESS_REPLICATIONS,
    seed: int = REPORT_SEED,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any] | None:
    """The "How robust is this verdict?" section: every range one at a time on a smaller copy of the
    scenario, the tornado chart of the main currency and one sentence per currency, its files in
    out_dir/sensitivity/. None when there is only one policy, so no verdict to test."""
    if len(policies) < 2:
        return None
    started = time.perf_counter()
    small = scenario.scaled(customers=min(customers, scenario.customers))
    found = sensitivity(
        small, policies, ranges, method="oat", replications=replications, seed=seed, executor=executor,
        workers=workers, progress=progress,
    )  # fmt: skip
    verdicts = []
    for currency, sentence in found.verdict.items():
        winner = found.tornado.filter(pl.col("currency") == currency).get_column("default_winner")[0]
        verdicts.append({"currency": currency, "sentence": sentence, "winner": winner})
    currency = verdicts[0]["currency"]
    file = f"sensitivity/tornado-{currency.lower()}.svg"
    charts.export(charts.tornado(found.tornado, currency), out_dir / file)
    atomic.write_all({
        out_dir / "sensitivity" / "tornado.csv": atomic.content(found.tornado.write_csv()),
        out_dir / "sensitivity" / "flips.csv": atomic.content(found.flips.write_csv()),
    })  # fmt: skip
    title = "How far each setting moves the verdict"
    return {
        "customers": f"{small.customers:,}",
        "months": small.horizon_months,
        "replications": replications,
        "ranges": found.tornado.get_column("setting").n_unique(),
        "fixed": len(found.fixed),
        "control": found.control,
        "verdicts": verdicts,
        "figure": Figure("tornado", title, file, f"{title}, {currency}", verdicts[0]["sentence"]),
        "elapsed": f"{time.perf_counter() - started:,.0f}",
    }


def flag_other_winners(section: dict[str, Any] | None, verdicts: list[dict[str, Any]]) -> None:
    """Say so where the section's smaller world picks another winner at the defaults than the report."""
    full = {v["currency"]: v["winner"] for v in verdicts}
    for v in section["verdicts"] if section else []:
        if full.get(v["currency"]) not in (None, v["winner"]):
            v["sentence"] += (
                f" At this size {v['winner']} collects the most {v['currency']} at the defaults, not "
                f"{full[v['currency']]} as in the full comparison: their gap is within this section's noise."
            )


# --------------------------------------------------------------------------------------------- report


def _figures(comparison: Comparison, currency: str, readings: dict[str, str], out_dir: Path) -> list[Figure]:
    built = [
        ("revenue", "Recovered and incremental revenue",
         charts.revenue_by_policy(comparison.table, currency), readings["revenue"]),
        ("month", "Recovery rate by month",
         charts.recovery_rate_by_month(comparison.breakdown("month", ["recovery_rate"]), currency),
         readings["month"]),
        ("funnel", "Dunning funnel",
         charts.funnel(comparison.breakdown("funnel"), currency), readings["funnel"]),
        ("time", "Time to recover",
         charts.time_to_recover(comparison.breakdown("time_to_recover"), currency), readings["time"]),
        ("decline", "Decline codes",
         charts.decline_breakdown(comparison.breakdown("decline_code", ["recovery_rate", "at_risk_revenue"]),
                                  currency), readings["decline"]),
    ]  # fmt: skip
    figures = []
    for name, title, chart, reading in built:
        file = f"charts/{name}-{currency.lower()}.svg"
        charts.export(chart, out_dir / file)
        figures.append(Figure(name, title, file, f"{title}, {currency}", reading))
    return figures


def build_report(
    out_dir: str | Path,
    scenario: Scenario | None = None,
    policies: Mapping[str, Policy] | None = None,
    replications: int = REPORT_REPLICATIONS,
    seed: int = REPORT_SEED,
    progress: Progress | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    robustness_ranges: Sequence[RangeLike] | None = None,
    robustness_customers: int = ROBUSTNESS_CUSTOMERS,
) -> Path:
    """Compare the policies on the scenario and write out_dir/index.html with its charts beside it.

    Defaults: `Scenario.default()` and the four shipped policies, `none` first (the baseline).
    `robustness_ranges`: the ranges of the robustness section (None: the evidence table).
    Returns the path of index.html.
    """
    scenario = scenario or Scenario.default()
    policies = dict(policies) if policies else {name: Policy.named(name) for name in REPORT_POLICIES}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    robust = robustness(
        scenario, policies, out, robustness_ranges, robustness_customers, seed=seed, executor=executor,
        workers=workers, progress=progress,
    )  # fmt: skip
    started = time.perf_counter()
    comparison = compare(
        scenario, policies, replications=replications, seed=seed, executor=executor,
        shard_size=shard_size, workers=workers, progress=progress,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    currencies = comparison.currencies
    main = currencies[0]
    verdicts = [verdict(comparison, c) for c in currencies]
    readings = _readings(comparison, main, verdicts[0]["winner"])
    figures = _figures(comparison, main, readings, out)
    for other, other_verdict in zip(currencies[1:], verdicts[1:], strict=True):
        file = f"charts/revenue-{other.lower()}.svg"
        charts.export(charts.revenue_by_policy(comparison.table, other), out / file)
        title = f"Recovered and incremental revenue, {other}"
        reading = _readings(comparison, other, other_verdict["winner"])["revenue"]
        figures.append(Figure(f"revenue-{other.lower()}", title, file, title, reading))
    flag_other_winners(robust, verdicts)
    atomic.write_text(comparison.table.write_csv(), out / "table.csv")
    atomic.write_parquet(comparison.replicates, out / "replicates.parquet")
    context = {
        "scenario": scenario,
        "policies": [{"name": n, "description": p.description} for n, p in policies.items()],
        "baseline": comparison.baseline,
        "replications": replications,
        "seed": seed,
        "shard_size": shard_size,
        "elapsed": f"{elapsed:,.0f}",
        "workers": workers or (None if executor else default_workers()),
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "currencies": currencies,
        "headline_columns": [label for _, label in HEADLINE_COLUMNS],
        "tables": [{"currency": c, "rows": headline_rows(comparison, c)} for c in currencies],
        "verdicts": verdicts,
        "notes": notes(comparison, main),
        "figures": figures,
        "robustness": robust,
        "customers": f"{scenario.customers:,}",
        "months": scenario.horizon_months,
    }
    html = _environment().get_template("index.html.j2").render(**context)
    return atomic.write_text(html, out / "index.html")
