"""Altair charts of comparisons and sweeps, built from the polars frames `experiment` returns.

Builders only shape data and return charts (no I/O), so notebooks, the report and tests share them;
`export` is the one function that writes a file. Money arrives in minor units and is shown in major
units of one currency per chart (never two currencies on one axis), with the currency in the title.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import altair as alt
import polars as pl
from babel.numbers import format_percent

from recovery_sim import atomic
from recovery_sim.analysis import breakdowns
from recovery_sim.domain.money import MISSING, format_money, minor_per_major

WIDTH = 560
HEIGHT = 300
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
STAGE_LABELS = {
    "failed": "payment failed",
    "emailed": "emailed",
    "acted": "acted on email",
    "recovered": "recovered",
    "churned": "churned",
    "unresolved": "still open",
}


def format_rate(value: float | None, locale: str = "en") -> str:
    return MISSING if value is None else format_percent(value, "#,##0.0%", locale=locale)


def _for(frame: pl.DataFrame, currency: str, metric: str | Sequence[str] | None = None) -> pl.DataFrame:
    out = frame.filter(pl.col("currency") == currency)
    if metric is not None:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        out = out.filter(pl.col("metric").is_in(metrics))
    if out.is_empty():
        raise ValueError(f"nothing to chart for {currency} {metric or ''}".strip())
    return out


def _arm_color(arms: Sequence[str]) -> alt.Color:
    return alt.Color("arm:N", title="policy", scale=alt.Scale(domain=list(arms)), sort=list(arms))


def _arms(frame: pl.DataFrame) -> list[str]:
    return frame.get_column("arm").unique(maintain_order=True).to_list()


def _money_columns(
    frame: pl.DataFrame, currency: str, columns: Sequence[str], whole: bool = False
) -> pl.DataFrame:
    """Add `<col>_major` (major units, for axes) and `<col>_label` (formatted, for tooltips)."""
    scale = minor_per_major(currency)
    out = frame.with_columns((pl.col(c) / scale).alias(f"{c}_major") for c in columns)
    return out.with_columns(
        pl.col(c)
        .map_elements(lambda v: format_money(v, currency, whole=whole), return_dtype=pl.String)
        .alias(f"{c}_label")
        for c in columns
    )


def _rate_labels(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(c).map_elements(format_rate, return_dtype=pl.String).alias(f"{c}_label") for c in columns
    )


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=subtitle or "", anchor="start", font=FONT)


def _configure(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return chart.configure(font=FONT).configure_view(stroke=None)


# ---------------------------------------------------------------------------------------------- charts


def recovery_rate_by_month(stats: pl.DataFrame, currency: str, level: float = 0.95) -> alt.LayerChart:
    """Line per policy with its confidence band: `Comparison.breakdown("month", ["recovery_rate"])`."""
    data = _for(stats, currency, "recovery_rate").with_columns(
        (pl.col("key") + "-01").alias("month"),
        pl.col("ci_low").fill_null(pl.col("mean")).clip(0, 1),
        pl.col("ci_high").fill_null(pl.col("mean")).clip(0, 1),
    )
    data = _rate_labels(data, ["mean", "ci_low", "ci_high"]).select(
        "arm", "month", "mean", "ci_low", "ci_high", "mean_label", "ci_low_label", "ci_high_label", "n"
    )
    arms = _arms(data)
    base = alt.Chart(data).encode(
        x=alt.X("month:T", timeUnit="yearmonth", title="month the invoice was issued (UTC)"),
        color=_arm_color(arms),
    )
    band = base.mark_area(opacity=0.18).encode(
        y=alt.Y("ci_low:Q", title="recovery rate (recovered ÷ at-risk revenue)", axis=alt.Axis(format=".0%")),
        y2="ci_high:Q",
    )
    line = base.mark_line(point=True).encode(
        y="mean:Q",
        tooltip=[
            alt.Tooltip("arm:N", title="policy"),
            alt.Tooltip("month:T", timeUnit="yearmonth", title="month"),
            alt.Tooltip("mean_label:N", title="recovery rate"),
            alt.Tooltip("ci_low_label:N", title=f"{level:.0%} CI from"),
            alt.Tooltip("ci_high_label:N", title=f"{level:.0%} CI to"),
            alt.Tooltip("n:Q", title="replications"),
        ],
    )
    title = _title(
        f"Recovery rate by month, {currency}",
        f"mean over replications; shaded: {level:.0%} confidence interval",
    )
    return _configure(alt.layer(band, line).properties(title=title, width=WIDTH, height=HEIGHT))


def revenue_by_policy(table: pl.DataFrame, currency: str, level: float = 0.95) -> alt.HConcatChart:
    """Recovered revenue per policy, and incremental revenue against the baseline with its paired CI.

    `table` is `Comparison.table`.
    """
    rows = _for(table, currency, ["recovered_revenue", "incremental_revenue"])
    arms = _arms(rows)
    baseline = rows.get_column("baseline")[0]
    recovered = _money_columns(
        rows.filter(pl.col("metric") == "recovered_revenue").select("arm", "mean", "ci_low", "ci_high", "n"),
        currency,
        ["mean", "ci_low", "ci_high"],
    )
    incremental = _money_columns(
        rows.filter((pl.col("metric") == "incremental_revenue") & (pl.col("arm") != baseline)).select(
            "arm", "mean", pl.col("diff_ci_low").alias("ci_low"), pl.col("diff_ci_high").alias("ci_high"), "n"
        ),
        currency,
        ["mean", "ci_low", "ci_high"],
    )
    tooltip = [
        alt.Tooltip("arm:N", title="policy"),
        alt.Tooltip("mean_label:N", title="mean"),
        alt.Tooltip("ci_low_label:N", title=f"{level:.0%} CI from"),
        alt.Tooltip("ci_high_label:N", title=f"{level:.0%} CI to"),
        alt.Tooltip("n:Q", title="replications"),
    ]

    def panel(data: pl.DataFrame, axis_title: str, title: alt.TitleParams) -> alt.LayerChart:
        base = alt.Chart(data).encode(y=alt.Y("arm:N", title=None, sort=arms))
        bars = base.mark_bar().encode(
            x=alt.X("mean_major:Q", title=axis_title, axis=alt.Axis(format=",.0f")),
            color=_arm_color(arms).legend(None),
            tooltip=tooltip,
        )
        errors = base.mark_errorbar(ticks=True, color="black").encode(
            x=alt.X("ci_low_major:Q", title=axis_title), x2="ci_high_major:Q", tooltip=tooltip
        )
        return alt.layer(bars, errors).properties(title=title, width=WIDTH // 2 - 20, height=28 * len(arms))

    left = panel(
        recovered,
        f"recovered revenue ({currency})",
        _title(f"Recovered revenue, {currency}", f"bars: mean; whiskers: {level:.0%} CI"),
    )
    right = panel(
        incremental,
        f"extra revenue collected vs {baseline} ({currency})",
        _title(f"Incremental revenue vs {baseline}", f"paired difference per replication, {level:.0%} CI"),
    )
    return _configure(alt.hconcat(left, right))


def funnel(
    stats: pl.DataFrame, currency: str, measure: str = "invoices", level: float = 0.95
) -> alt.LayerChart:
    """Failed → emailed → acted → recovered / churned / still open, per policy:
    `Comparison.breakdown("funnel")`. `measure` is `invoices` (counts) or `amount` (money)."""
    data = _for(stats, currency, measure).with_columns(
        pl.col("key").replace_strict(STAGE_LABELS, default=pl.col("key")).alias("stage"),
        pl.col("ci_low").fill_null(pl.col("mean")).clip(lower_bound=0),
        pl.col("ci_high").fill_null(pl.col("mean")),
    )
    arms = _arms(data)
    if measure == "amount":
        data = _money_columns(data, currency, ["mean", "ci_low", "ci_high"])
        y_field, lo, hi = "mean_major", "ci_low_major", "ci_high_major"
        axis_title, fmt = f"at-risk invoice amount ({currency})", ",.0f"
    else:
        data = data.with_columns(pl.col("mean").round(1).cast(pl.String).alias("mean_label"))
        y_field, lo, hi = "mean", "ci_low", "ci_high"
        axis_title, fmt = "at-risk invoices (mean per replication)", ",.0f"
    stages = [STAGE_LABELS[s] for s in breakdowns.FUNNEL_STAGES]
    base = alt.Chart(data).encode(
        x=alt.X("stage:N", sort=stages, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("arm:N", sort=arms),
    )
    bars = base.mark_bar().encode(
        y=alt.Y(f"{y_field}:Q", title=axis_title, axis=alt.Axis(format=fmt)),
        color=_arm_color(arms),
        tooltip=[
            alt.Tooltip("arm:N", title="policy"),
            alt.Tooltip("stage:N", title="stage"),
            alt.Tooltip("mean_label:N", title="mean"),
        ],
    )
    errors = base.mark_errorbar(ticks=True, color="black").encode(
        y=alt.Y(f"{lo}:Q", title=axis_title), y2=f"{hi}:Q"
    )
    title = _title(
        f"Dunning funnel, {currency}",
        "invoices whose first attempt failed or needed confirmation, and what became of them",
    )
    return _configure(alt.layer(bars, errors).properties(title=title, width=WIDTH, height=HEIGHT))


def time_to_recover(stats: pl.DataFrame, currency: str) -> alt.Chart:
    """Share of recovered invoices by days from issue to payment: `breakdown("time_to_recover")`."""
    data = _for(stats, currency, "invoices").select("arm", pl.col("key").alias("bin"), "mean")
    data = data.with_columns((pl.col("mean") / pl.col("mean").sum().over("arm")).fill_nan(0).alias("share"))
    data = _rate_labels(data, ["share"]).with_columns(pl.col("mean").round(1).alias("invoices"))
    arms = _arms(data)
    chart = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("bin:O", sort=list(breakdowns.TIME_BINS), title="days from invoice to payment",
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("share:Q", title="share of recovered invoices", axis=alt.Axis(format=".0%")),
            color=_arm_color(arms),
            tooltip=[
                alt.Tooltip("arm:N", title="policy"),
                alt.Tooltip("bin:O", title="days"),
                alt.Tooltip("share_label:N", title="share"),
                alt.Tooltip("invoices:Q", title="invoices (mean)"),
            ],
        )
    )  # fmt: skip
    title = _title(f"Time to recover, {currency}", "recovered at-risk invoices, mean over replications")
    return _configure(chart.properties(title=title, width=WIDTH, height=HEIGHT))


def decline_breakdown(stats: pl.DataFrame, currency: str, level: float = 0.95) -> alt.LayerChart:
    """Recovery rate per first decline code and policy, with CIs: `Comparison.breakdown("decline_code")`.

    Codes are ordered by at-risk revenue (largest first) when that metric is in `stats`.
    """
    rows = _for(stats, currency)
    rates = rows.filter(pl.col("metric") == "recovery_rate").with_columns(
        pl.col("ci_low").fill_null(pl.col("mean")).clip(0, 1),
        pl.col("ci_high").fill_null(pl.col("mean")).clip(0, 1),
    )
    if rates.is_empty():
        raise ValueError(f"no recovery_rate by decline code for {currency}")
    order = (
        rows.filter(pl.col("metric") == "at_risk_revenue")
        .group_by("key")
        .agg(pl.col("mean").sum())
        .sort(["mean", "key"], descending=[True, False])
        .get_column("key")
        .to_list()
    ) or sorted(rates.get_column("key").unique().to_list())
    rates = _rate_labels(rates, ["mean", "ci_low", "ci_high"])
    arms = _arms(rates)
    base = alt.Chart(rates).encode(
        y=alt.Y("key:N", sort=order, title="first decline code"),
        yOffset=alt.YOffset("arm:N", sort=arms),
    )
    tooltip = [
        alt.Tooltip("arm:N", title="policy"),
        alt.Tooltip("key:N", title="decline code"),
        alt.Tooltip("mean_label:N", title="recovery rate"),
        alt.Tooltip("ci_low_label:N", title=f"{level:.0%} CI from"),
        alt.Tooltip("ci_high_label:N", title=f"{level:.0%} CI to"),
    ]
    bars = base.mark_bar().encode(
        x=alt.X("mean:Q", title="recovery rate", axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
        color=_arm_color(arms),
        tooltip=tooltip,
    )
    errors = base.mark_errorbar(ticks=True, color="black").encode(
        x=alt.X("ci_low:Q", title="recovery rate"), x2="ci_high:Q"
    )
    title = _title(
        f"Recovery rate by decline code, {currency}",
        f"'{breakdowns.CONFIRMATION_KEY}': first attempt needed 3-D Secure or Boleto confirmation; "
        f"'{breakdowns.PAUSED_TRIAL_KEY}': trial ended without a payment method (R6b)",
    )
    height = max(HEIGHT, 9 * len(arms) * len(order))
    return _configure(alt.layer(bars, errors).properties(title=title, width=WIDTH, height=height))


def sweep_heatmap(table: pl.DataFrame, x: str, y: str, metric: str, currency: str) -> alt.LayerChart:
    """Mean of `metric` for each pair of two swept settings: `sweep(...)` output, one currency."""
    rows = _for(table, currency, metric)
    for setting in (x, y):
        if setting not in rows.columns:
            raise ValueError(f"{setting!r} is not a swept setting of this table")
    if rows.select(x, y).is_duplicated().any():
        raise ValueError(f"several arms share each ({x}, {y}) pair; filter the other settings first")
    money = metric in breakdowns.MONEY_METRICS
    rate = metric in breakdowns.PERCENT_METRICS
    if money:
        rows = _money_columns(rows, currency, ["mean"], whole=True)
        value, fmt = "mean_major", ",.0f"
        legend_title = f"{metric.replace('_', ' ')} ({currency})"
    else:
        rows = (
            _rate_labels(rows, ["mean"])
            if rate
            else rows.with_columns(pl.col("mean").round(2).cast(pl.String).alias("mean_label"))
        )
        value, fmt = "mean", ".0%" if rate else ",.2f"
        legend_title = metric.replace("_", " ")
    data = rows.with_columns(pl.col(x).cast(pl.String).alias("_x"), pl.col(y).cast(pl.String).alias("_y"))
    x_sort = data.sort(x).get_column("_x").unique(maintain_order=True).to_list()
    y_sort = data.sort(y).get_column("_y").unique(maintain_order=True).to_list()
    base = alt.Chart(data.select("_x", "_y", value, "mean_label")).encode(
        x=alt.X("_x:O", title=x, sort=x_sort, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("_y:O", title=y, sort=list(reversed(y_sort))),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", title=legend_title, legend=alt.Legend(format=fmt)),
        tooltip=[
            alt.Tooltip("_x:O", title=x),
            alt.Tooltip("_y:O", title=y),
            alt.Tooltip("mean_label:N", title=legend_title),
        ],
    )
    values = data.get_column(value)
    middle = (values.min() + values.max()) / 2
    text = base.mark_text(fontSize=11).encode(
        text="mean_label:N",
        color=alt.condition(f"datum['{value}'] > {middle!r}", alt.value("white"), alt.value("black")),
    )
    title = _title(f"{legend_title[0].upper()}{legend_title[1:]} by {x} and {y}", "mean over replications")
    side = max(60 * len(x_sort), 240)
    return _configure(
        alt.layer(cells, text).properties(title=title, width=side, height=max(40 * len(y_sort), 160))
    )


def tornado(table: pl.DataFrame, currency: str, top: int = 10, level: float = 0.95) -> alt.FacetChart:
    """Per policy, how far each setting's low and high end move its difference from the control:
    `Sensitivity.tornado`. Bars start at the difference at the defaults (the vertical rule); the widest
    `top` settings are shown, widest first; a bar crossing zero is a setting that can reverse the call."""
    rows = _for(table, currency).filter(pl.col("diff_mean").is_not_null())
    if rows.is_empty():
        raise ValueError(f"nothing to chart for {currency}")
    widest = (
        rows.group_by("setting")
        .agg(pl.col("swing").max())
        .sort(["swing", "setting"], descending=[True, False])
    )
    settings = widest.get_column("setting").head(top).to_list()
    rows = rows.filter(pl.col("setting").is_in(settings)).with_columns(
        pl.format(
            "{} ({}–{}, default {})",
            "setting",
            *(pl.col(c).round_sig_figs(3) for c in ("low", "high", "default")),
        ).alias("label")
    )
    rows = _money_columns(
        rows, currency, ["diff_mean", "default_diff", "diff_ci_low", "diff_ci_high"], whole=True
    )
    labels = (
        rows.unique("setting", maintain_order=True)
        .sort(pl.col("setting").replace_strict({s: i for i, s in enumerate(settings)}))
        .get_column("label")
        .to_list()
    )
    control = rows.get_column("control")[0]
    axis_title = f"collected vs {control} ({currency})"
    y = alt.Y("label:N", sort=labels, title=None, axis=alt.Axis(labelLimit=420))
    tooltip = [
        alt.Tooltip("policy:N", title="policy"),
        alt.Tooltip("setting:N", title="setting"),
        alt.Tooltip("end:N", title="end"),
        alt.Tooltip("value:Q", title="value"),
        alt.Tooltip("diff_mean_label:N", title=f"vs {control}"),
        alt.Tooltip("default_diff_label:N", title="at the defaults"),
        alt.Tooltip("winner:N", title="collects the most"),
    ]
    bars = (
        alt.Chart()
        .mark_bar(opacity=0.85)
        .encode(
            y=y,
            x=alt.X("default_diff_major:Q", title=axis_title, axis=alt.Axis(format=",.0f")),
            x2="diff_mean_major:Q",
            color=alt.Color(
                "end:N",
                title="setting at",
                scale=alt.Scale(domain=["low", "high"], range=["#4c78a8", "#f58518"]),
            ),
            tooltip=tooltip,
        )
    )
    errors = (
        alt.Chart()
        .mark_errorbar(ticks=True, color="#9aa5b1")  # light grey: the bars lead
        .encode(y=y, x=alt.X("diff_ci_low_major:Q", title=axis_title), x2="diff_ci_high_major:Q")
    )
    at_default = alt.Chart().mark_rule(color="black").encode(x="mean(default_diff_major):Q")
    zero = alt.Chart().mark_rule(color="#888", strokeDash=[4, 3]).encode(x=alt.datum(0))
    layered = alt.layer(bars, errors, at_default, zero, data=rows).properties(
        width=WIDTH - 200, height=22 * len(settings)
    )
    title = _title(
        f"How far each setting moves the verdict, {currency}",
        f"bars: collected vs {control} at the setting's low and high end (grey: paired {level:.0%} CI); "
        "black rule: at the defaults; dashed: no difference",
    )
    chart = layered.facet(
        row=alt.Row("policy:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left"))
    )
    return _configure(chart.properties(title=title))


# ------------------------------------------------------------------------------------------------ export


def export(chart: alt.TopLevelMixin, path: str | Path, scale: float = 2.0) -> Path:
    """Render to .png or .svg with vl-convert (no browser), written atomically."""
    import vl_convert as vlc

    path = Path(path)
    spec = chart.to_dict()
    suffix = path.suffix.lower()
    if suffix == ".png":
        data = vlc.vegalite_to_png(spec, scale=scale)
        atomic.atomic_write(path, lambda tmp: tmp.write_bytes(data))
    elif suffix == ".svg":
        text = vlc.vegalite_to_svg(spec)
        atomic.write_text(text, path)
    else:
        raise ValueError(f"export writes .png or .svg, not {path.suffix or 'a file without extension'!r}")
    return path


def month_start(key: str) -> dt.date:
    """'2026-03' → 1 March 2026 (the month keys of the month breakdown)."""
    return dt.date.fromisoformat(key + "-01")
