"""Chart specs (mark, encodings, title) from `to_dict()`, and exported images that are real images."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from recovery_sim.analysis import charts
from recovery_sim.experiments.executors import InlineExecutor
from recovery_sim.experiments.sweep import sweep
from recovery_sim.settings.config import Policy

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def layers(spec: dict) -> list[dict]:
    """Every single-view spec inside a layered / concatenated top-level spec."""
    if "layer" in spec:
        return [view for part in spec["layer"] for view in layers(part)]
    if "hconcat" in spec:
        return [view for part in spec["hconcat"] for view in layers(part)]
    return [spec]


def mark(view: dict) -> str:
    return view["mark"] if isinstance(view["mark"], str) else view["mark"]["type"]


def title_text(spec: dict) -> str:
    title = spec["title"]
    return title if isinstance(title, str) else title["text"]


@pytest.fixture(scope="module")
def built(small_comparison) -> dict[str, object]:
    c = small_comparison
    return {
        "month": charts.recovery_rate_by_month(c.breakdown("month", ["recovery_rate"]), "EUR"),
        "revenue": charts.revenue_by_policy(c.table, "EUR"),
        "funnel": charts.funnel(c.breakdown("funnel"), "EUR"),
        "time": charts.time_to_recover(c.breakdown("time_to_recover"), "EUR"),
        "decline": charts.decline_breakdown(
            c.breakdown("decline_code", ["recovery_rate", "at_risk_revenue"]), "EUR"
        ),
    }


def test_recovery_rate_by_month_has_line_and_ci_band(built) -> None:
    spec = built["month"].to_dict()
    views = layers(spec)
    assert [mark(v) for v in views] == ["area", "line"]
    band, line = views
    assert band["encoding"]["y"]["field"] == "ci_low" and band["encoding"]["y2"]["field"] == "ci_high"
    assert line["encoding"]["y"]["field"] == "mean"
    assert band["encoding"]["x"]["type"] == "temporal" and band["encoding"]["x"]["timeUnit"] == "yearmonth"
    assert title_text(spec) == "Recovery rate by month, EUR"
    assert "confidence interval" in spec["title"]["subtitle"]
    tooltips = {t["title"] for t in line["encoding"]["tooltip"]}
    assert {"policy", "recovery rate", "95% CI from"} <= tooltips


def test_revenue_by_policy_has_bars_with_ci_whiskers_in_major_units(built, small_comparison) -> None:
    spec = built["revenue"].to_dict()
    panels = spec["hconcat"]
    assert [title_text(p) for p in panels] == ["Recovered revenue, EUR", "Incremental revenue vs none"]
    views = layers(spec)
    assert [mark(v) for v in views] == ["bar", "errorbar", "bar", "errorbar"]
    assert views[0]["encoding"]["x"]["title"] == "recovered revenue (EUR)"
    data = pl.DataFrame(spec["datasets"][panels[0]["data"]["name"]])
    expected = small_comparison.table.filter(
        (pl.col("arm") == "all-on")
        & (pl.col("metric") == "recovered_revenue")
        & (pl.col("currency") == "EUR")
    )["mean"][0]
    row = data.filter(pl.col("arm") == "all-on").row(0, named=True)
    assert row["mean_major"] == pytest.approx(expected / 100)
    assert row["mean_label"].startswith("€")
    incremental = pl.DataFrame(spec["datasets"][panels[1]["data"]["name"]])
    assert "none" not in incremental["arm"].to_list()


def test_funnel_stages_in_order(built) -> None:
    spec = built["funnel"].to_dict()
    bars, errors = layers(spec)
    assert mark(bars) == "bar" and mark(errors) == "errorbar"
    assert bars["encoding"]["x"]["sort"] == list(charts.STAGE_LABELS.values())
    assert bars["encoding"]["xOffset"]["field"] == "arm"
    assert title_text(spec) == "Dunning funnel, EUR"


def test_time_to_recover_and_decline_breakdown(built) -> None:
    time_spec = built["time"].to_dict()
    assert mark(time_spec) == "line" and time_spec["encoding"]["y"]["axis"]["format"] == ".0%"
    decline = built["decline"].to_dict()
    bars, errors = layers(decline)
    assert bars["encoding"]["y"]["field"] == "key" and bars["encoding"]["x"]["scale"]["domain"] == [0, 1]
    assert title_text(decline) == "Recovery rate by decline code, EUR"


def test_sweep_heatmap(small_scenario) -> None:
    table = sweep(
        small_scenario.scaled(customers=200),
        Policy.named("none"),
        {"retries.max_attempts": [2, 6], "emails.payment_failed": [False, True]},
        replications=2,
        executor=InlineExecutor(),
    )
    chart = charts.sweep_heatmap(
        table, "retries.max_attempts", "emails.payment_failed", "recovered_revenue", "EUR"
    )
    spec = chart.to_dict()
    cells, text = layers(spec)
    assert mark(cells) == "rect" and mark(text) == "text"
    assert cells["encoding"]["color"]["title"] == "recovered revenue (EUR)"
    assert title_text(spec).startswith("Recovered revenue (EUR) by retries.max_attempts")
    with pytest.raises(ValueError, match="not a swept setting"):
        charts.sweep_heatmap(table, "retries.max_attempts", "nope", "recovery_rate", "EUR")


def test_export_png_and_svg(built, tmp_path: Path) -> None:
    png = charts.export(built["revenue"], tmp_path / "revenue.png")
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1024
    svg = charts.export(built["month"], tmp_path / "month.svg").read_text()
    assert svg.lstrip().startswith("<svg") and "Recovery rate by month" in svg
    with pytest.raises(ValueError, match=".png or .svg"):
        charts.export(built["month"], tmp_path / "month.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["month.svg", "revenue.png"]


def test_money_is_formatted_per_currency() -> None:
    assert charts.format_money(123456, "EUR") == "€1,234.56"
    assert charts.format_money(123456, "JPY") == "¥123,456"
    assert charts.format_money(9900, "BRL", whole=True) == "R$99"
    with pytest.raises(ValueError, match="nothing to chart"):
        charts.revenue_by_policy(pl.DataFrame({"currency": ["EUR"], "metric": ["x"]}), "USD")
