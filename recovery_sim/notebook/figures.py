"""Charts the notebooks tell their stories with, beyond the report's (`recovery_sim.charts`).

Same conventions as the report's charts: one currency's amounts per axis, rates as percentages, the
policies in the order given, tooltips with formatted values.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl

from recovery_sim.analysis import charts


def _title(text: str, subtitle: str = "") -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=subtitle, anchor="start", font=charts.FONT)


def _policy_color(policies: Sequence[str], field: str) -> alt.Color:
    order = list(policies)
    return alt.Color(f"{field}:N", title="policy", sort=order, scale=alt.Scale(domain=order))


def recovery_rate_by_policy(summaries: pl.DataFrame) -> alt.FacetChart:
    """One bar per policy and a panel per currency: `rs.summary` of one run per policy, concatenated."""
    policies = summaries.get_column("policy").unique(maintain_order=True).to_list()
    data = summaries.select("policy", "currency", "recovery_rate").with_columns(
        pl.col("recovery_rate").map_elements(charts.format_rate, return_dtype=pl.String).alias("rate")
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("policy:N", sort=policies, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("recovery_rate:Q", axis=alt.Axis(format="%"), title="recovery rate"),
            color=_policy_color(policies, "policy").legend(None),
            tooltip=[
                alt.Tooltip("policy:N"),
                alt.Tooltip("currency:N"),
                alt.Tooltip("rate:N", title="recovery rate"),
            ],
        )
        .properties(width=60 * len(policies) + 60, height=220)
        .facet(column=alt.Column("currency:N", title=None))
        .properties(title=_title("Share of at-risk revenue recovered", "one run per policy, same seed"))
        .configure(font=charts.FONT)
        .configure_view(stroke=None)
    )  # fmt: skip


def recovery_rate_by_cohort(stats: pl.DataFrame, level: float = 0.95) -> alt.LayerChart:
    """Bars per cohort and policy with CI whiskers: `Comparison.breakdown("cohort", ["recovery_rate"])`.

    Rates only: each cohort pays in its own currency, and a rate compares across currencies where an
    amount would not."""
    data = stats.with_columns(
        pl.col("ci_low").fill_null(pl.col("mean")).clip(0, 1),
        pl.col("ci_high").fill_null(pl.col("mean")).clip(0, 1),
    ).with_columns(
        pl.col(c).map_elements(charts.format_rate, return_dtype=pl.String).alias(f"{c}_label")
        for c in ("mean", "ci_low", "ci_high")
    )
    arms = data.get_column("arm").unique(maintain_order=True).to_list()
    base = alt.Chart(data).encode(
        y=alt.Y("key:N", title=None),
        yOffset=alt.YOffset("arm:N", sort=arms),
        color=_policy_color(arms, "arm"),
    )
    tooltip = [
        alt.Tooltip("key:N", title="cohort"),
        alt.Tooltip("currency:N"),
        alt.Tooltip("arm:N", title="policy"),
        alt.Tooltip("mean_label:N", title="recovery rate"),
        alt.Tooltip("ci_low_label:N", title=f"{level:.0%} CI from"),
        alt.Tooltip("ci_high_label:N", title=f"{level:.0%} CI to"),
    ]
    bars = base.mark_bar().encode(
        x=alt.X("mean:Q", title="recovery rate", axis=alt.Axis(format=".0%")), tooltip=tooltip
    )
    whiskers = base.mark_errorbar(ticks=True, color="black").encode(
        x=alt.X("ci_low:Q", title="recovery rate"), x2="ci_high:Q"
    )
    title = _title("Recovery rate by cohort", f"mean over replications; whiskers: {level:.0%} CI")
    height = max(160, 18 * len(arms) * data["key"].n_unique())
    return (
        alt.layer(bars, whiskers)
        .properties(title=title, width=charts.WIDTH - 80, height=height)
        .configure(font=charts.FONT)
        .configure_view(stroke=None)
    )  # fmt: skip
