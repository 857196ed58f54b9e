"""What-if settings as plain data: a dictionary of settings ↔ a scenario and a policy, and the table of
paired differences against a baseline policy.

The policy panel only collects these settings from its controls; keeping the computation here means
the same what-if can be scripted (`what_if(settings | {"emails.card_expiring": True}, ...)`) and tested
without widgets.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import polars as pl

from recovery_sim.analysis import charts
from recovery_sim.experiments.compare import Comparison, compare
from recovery_sim.settings.config import Policy, Scenario, shipped_policy_names

ARM = "what-if"
EMAIL_SWITCHES = {
    "emails.payment_failed": "R4 failed-payment email",
    "emails.invoice_reminders": "R5 invoice reminders",
    "emails.trial_will_end": "R6 trial ending",
    "emails.upcoming_renewal": "R7 renewal reminder",
    "emails.payment_action_required": "R8 confirmation link",
    "emails.payment_action_reminders": "R8 confirmation reminders",
    "emails.card_expiring": "R9 card expiring",
}
SHOWN = {
    "recovered_revenue": "recovered revenue",
    "incremental_revenue": "revenue collected vs baseline",
    "recovery_rate": "recovery rate",
    "involuntary_churn": "customers lost to failed payments",
    "prevented_failures": "failures prevented (card updated in time)",
    "emails_sent": "emails sent",
    "reminder_cancellations": "cancellations after a renewal reminder",
}
"""Metrics of the difference table, in order, with the words the table shows."""
MONEY = {"recovered_revenue", "incremental_revenue"}


def presets() -> list[str]:
    """Shipped policies a what-if can start from, the recommended one first."""
    names = shipped_policy_names()
    return sorted(names, key=lambda n: (n != "recommended-minimum", n))


def settings_for(preset: str, scenario: Scenario) -> dict[str, Any]:
    """The settings of a shipped policy on `scenario`, as the panel's controls hold them."""
    policy = Policy.named(preset)
    return {
        "preset": preset,
        **{key: getattr(policy.emails, key.removeprefix("emails.")) for key in EMAIL_SWITCHES},
        "emails.upcoming_renewal_days": policy.emails.upcoming_renewal_days,
        "retries.mode": policy.retries.mode,
        "retries.max_attempts": policy.retries.max_attempts,
        "retries.window_days": policy.retries.window_days,
        "end_action": policy.end_action.value,
        "customers": scenario.customers,
        "failure_rate_factor": 1.0,
        "card_updater_rate": scenario.card_updater_rate,
    }


def policy_from(settings: Mapping[str, Any]) -> Policy:
    """The preset's policy with the switches, retry schedule and end action of `settings`."""
    data = Policy.named(settings["preset"]).model_dump()
    data["name"] = ARM
    for key in [*EMAIL_SWITCHES, "emails.upcoming_renewal_days"]:
        data["emails"][key.removeprefix("emails.")] = settings[key]
    attempts, window = settings["retries.max_attempts"], settings["retries.window_days"]
    retries = attempts - 1  # fixed retries are spaced evenly over the window; smart ones choose
    data["retries"] |= {
        "mode": settings["retries.mode"],
        "max_attempts": attempts,
        "window_days": window,
        "fixed_offsets_days": [round(window * (i + 1) / retries, 1) for i in range(retries)],
    }
    data["end_action"] = settings["end_action"]
    return Policy.model_validate(data)


def scenario_from(settings: Mapping[str, Any], base: Scenario) -> Scenario:
    """`base` resized to `customers`, its first-attempt failure rates scaled, its card-updater rate set."""
    data = base.scaled(customers=settings["customers"]).model_dump()
    for cohort in data["cohorts"]:
        rate = cohort["first_attempt_failure_rate"] * settings["failure_rate_factor"]
        cohort["first_attempt_failure_rate"] = min(rate, 1.0)
    data["card_updater_rate"] = settings["card_updater_rate"]
    return Scenario.model_validate(data)


def describe(settings: Mapping[str, Any]) -> str:
    """The settings in one line of words, naming only the switches that differ from the preset."""
    preset = Policy.named(settings["preset"])
    changed = [
        f"{label} {'on' if settings[key] else 'off'}"
        for key, label in EMAIL_SWITCHES.items()
        if settings[key] != getattr(preset.emails, key.removeprefix("emails."))
    ]
    emails = settings["preset"] + (" with " + ", ".join(changed) if changed else "")
    renewal = f"renewal reminder {settings['emails.upcoming_renewal_days']} days ahead"
    retries = (
        f"{settings['retries.mode']} retries, {settings['retries.max_attempts']} attempts "
        f"over {settings['retries.window_days']:g} days"
    )
    end = settings["end_action"].replace("_", " ") + " at the end of dunning"
    world = (
        f"{settings['customers']:,} customers, first-attempt failures ×{settings['failure_rate_factor']:g}, "
        f"card updater {settings['card_updater_rate']:.0%}"
    )
    return " · ".join([emails, renewal, retries, end, world])


def _show(metric: str, value: float | None, currency: str, signed: bool = False) -> str:
    """A value as an analyst reads it: money with its currency, rates in % (points when a difference)."""
    if value is None:
        return "–"
    if metric in MONEY:
        text = charts.format_money(value, currency)
    elif metric == "recovery_rate":
        text = f"{value * 100:.1f} pts" if signed else charts.format_rate(value)
    else:
        text = f"{value:,.1f}"
    return f"+{text}" if signed and value > 0 else text


def difference_table(comparison: Comparison, currency: str | None = None, arm: str = ARM) -> pl.DataFrame:
    """One row per currency and metric: baseline, what-if, their paired difference and its 95% CI."""
    baseline = comparison.baseline
    stats = comparison.table.filter(pl.col("metric").is_in(list(SHOWN)))
    if currency is not None:
        stats = stats.filter(pl.col("currency") == currency)
    base = stats.filter(pl.col("arm") == baseline).select(
        "currency", "metric", pl.col("mean").alias("base_mean")
    )
    rows = stats.filter(pl.col("arm") == arm).join(base, on=["currency", "metric"], how="left")
    order = {metric: i for i, metric in enumerate(SHOWN)}

    def row(r: dict[str, Any]) -> dict[str, str]:
        metric, cur = r["metric"], r["currency"]
        low, high = (_show(metric, r[k], cur, signed=True) for k in ("diff_ci_low", "diff_ci_high"))
        return {
            "currency": cur,
            "metric": SHOWN[metric],
            baseline: "–" if metric == "incremental_revenue" else _show(metric, r["base_mean"], cur),
            arm: _show(metric, r["mean"], cur),
            "difference": _show(metric, r["diff_mean"], cur, signed=True),
            "95% CI": f"{low} to {high}",
        }

    ordered = sorted(rows.iter_rows(named=True), key=lambda r: (r["currency"], order[r["metric"]]))
    return pl.DataFrame([row(r) for r in ordered], schema=dict.fromkeys(
        ["currency", "metric", baseline, arm, "difference", "95% CI"], pl.String
    ))  # fmt: skip


@dataclass(frozen=True)
class WhatIf:
    """One what-if: its settings, the comparison behind it, and how it reads (table and chart)."""

    settings: dict[str, Any]
    comparison: Comparison
    currency: str
    seconds: float

    @property
    def table(self) -> pl.DataFrame:
        return difference_table(self.comparison, self.currency)

    @property
    def chart(self):
        return charts.revenue_by_policy(self.comparison.table, self.currency)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        """Shown as the settings in words, the difference table and the revenue chart."""
        from recovery_sim.notebook.chart_display import chart_html
        from recovery_sim.notebook.tables import table

        caption = describe(self.settings)
        title = f"{self.currency}: what-if against {self.comparison.baseline}"
        shown = table(self.table, title=title, right=[self.comparison.baseline, ARM, "difference", "95% CI"])
        return {
            "text/plain": f"{caption}\n{shown!r}",
            "text/html": f"<p><b>Settings:</b> {html.escape(caption)}</p>{shown._repr_html_()}"
            f"{chart_html(self.chart.to_dict())}",
        }


def what_if(
    settings: Mapping[str, Any],
    base: Scenario,
    *,
    baseline: str = "none",
    replications: int = 5,
    seed: int = 7,
    executor: Executor | None = None,
    currency: str | None = None,
) -> WhatIf:
    """Compare the settings' policy with `baseline` on the settings' scenario, paired replications."""
    started = time.perf_counter()
    comparison = compare(
        scenario_from(settings, base),
        {baseline: Policy.named(baseline), ARM: policy_from(settings)},
        replications=replications,
        seed=seed,
        executor=executor,
    )
    chosen = currency if currency in comparison.currencies else comparison.currencies[0]
    return WhatIf(dict(settings), comparison, chosen, time.perf_counter() - started)
