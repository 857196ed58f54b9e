"""`recovery_sim.notebook` without a kernel: how tables read, what-if settings, the offline renderer."""

from __future__ import annotations

import base64
import datetime as dt
import re

import altair as alt
import polars as pl
import pytest

import recovery_sim as rs
from recovery_sim.notebook import chart_display, whatif
from recovery_sim.notebook.tables import table

UTC = dt.UTC


def _cells(frame: pl.DataFrame, **options) -> dict[str, list[str]]:
    return table(frame, **options).formatted.to_dict(as_series=False)


def test_money_reads_in_major_units_of_each_rows_currency():
    frame = pl.DataFrame({"currency": ["EUR", "BRL", "JPY"], "billed": [123456, 9900, 5000]})
    assert _cells(frame)["billed"] == ["€1,234.56", "R$99.00", "¥5,000"]
    assert _cells(frame.drop("currency"), currency="EUR")["billed"] == ["€1,234.56", "€99.00", "€50.00"]
    cells = table(frame)._repr_html_()  # JupyterLab right-aligns every cell unless the cell says otherwise
    assert (
        '<td style="text-align: left">BRL</td>' in cells
        and 'style="text-align: right; white-space: nowrap">R$99.00' in cells
    )
    with pytest.raises(ValueError, match="currency"):
        table(frame.drop("currency"))


def test_rates_counts_ids_and_missing_values():
    frame = pl.DataFrame(
        {
            "customer_id": [12345, 7],
            "recovery_rate": [0.8123, None],
            "invoices": [104.0, 2000.0],  # means of counts that came out whole
            "emails": [104.26, 3.0],
            "customers": [20000, 5],
            "delivered": [True, False],
        }
    )
    cells = _cells(frame)
    assert cells["customer_id"] == ["12345", "7"]
    assert cells["recovery_rate"] == ["81.2%", "–"]
    assert cells["invoices"] == ["104", "2,000"]
    assert cells["emails"] == ["104.3", "3.0"]
    assert cells["customers"] == ["20,000", "5"]
    assert cells["delivered"] == ["yes", "no"]


def test_timestamps_to_the_minute_with_their_zone():
    at = dt.datetime(2026, 3, 4, 9, 15, 42, 123456, tzinfo=UTC)
    frame = pl.DataFrame({"sent_at": [at], "local": [at.replace(tzinfo=None)]})
    cells = _cells(frame)
    assert cells["sent_at"] == ["2026-03-04 09:15 UTC"]
    assert cells["local"] == ["2026-03-04 09:15"]


def test_no_cell_is_cut_and_html_is_escaped():
    subject = "Action requise : confirmez votre paiement de 49,00 € avant le 5 mars 2026 <important>"
    shown = table(pl.DataFrame({"email": ["payment_action_required"], "fr": [subject]}))
    assert "confirmez votre paiement de 49,00 € avant le 5 mars 2026 &lt;important&gt;" in shown._repr_html_()
    assert subject in repr(shown)


def test_long_frames_say_how_many_rows_are_left_out():
    shown = table(pl.DataFrame({"n": list(range(120))}), rows=10)
    assert shown._repr_html_().count("<tr>") == 11  # header + 10 rows
    assert "first 10 of 120 rows" in repr(shown)


@pytest.mark.parametrize("preset", whatif.presets())
def test_a_presets_settings_give_back_its_policy(preset: str):
    settings = whatif.settings_for(preset, rs.Scenario.default())
    policy, shipped = whatif.policy_from(settings), rs.Policy.named(preset)
    assert policy.emails == shipped.emails and policy.end_action == shipped.end_action
    assert (policy.retries.mode, policy.retries.max_attempts, policy.retries.window_days) == (
        shipped.retries.mode, shipped.retries.max_attempts, shipped.retries.window_days,
    )  # fmt: skip
    assert whatif.describe(settings).startswith(f"{preset} · ")


def test_settings_change_the_policy_and_the_scenario():
    base = rs.Scenario.default()
    settings = whatif.settings_for("recommended-minimum", base) | {
        "emails.card_expiring": True,
        "retries.mode": "fixed",
        "retries.max_attempts": 4,
        "retries.window_days": 12.0,
        "customers": 1000,
        "failure_rate_factor": 2.0,
        "card_updater_rate": 0.1,
    }
    policy, scenario = whatif.policy_from(settings), whatif.scenario_from(settings, base)
    assert policy.emails.card_expiring and policy.retries.fixed_offsets_days == [4.0, 8.0, 12.0]
    assert scenario.customers == 1000 and scenario.card_updater_rate == 0.1
    for fitted, default in zip(scenario.cohorts, base.cohorts, strict=True):
        assert fitted.first_attempt_failure_rate == pytest.approx(
            min(1.0, 2 * default.first_attempt_failure_rate)
        )
    assert "with R9 card expiring on ·" in whatif.describe(settings)
    assert "R4" not in whatif.describe(settings)  # unchanged switches are not listed


def _chart() -> alt.Chart:
    data = pl.DataFrame({"policy": ["none", "all-on"], "rate": [0.4, 0.7]})
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(x="policy:N", y="rate:Q", tooltip=["policy", "rate"])
        .properties(title="</script> in a title")
    )


def test_the_renderer_ships_vega_and_a_static_svg_with_each_chart():
    html = chart_display.render(_chart().to_dict())["text/html"]
    assert html.count("<script>") == 1
    urls = re.findall(r"https?://[^\"' ]+", html)
    assert [u for u in urls if "vega.github.io/schema/" not in u] == [], "the chart links something"
    static = html.split('<img src="data:image/svg+xml;base64,', 1)[1].split('"', 1)[0]
    assert base64.b64decode(static).startswith(b"<svg")
    script = html.split("<script>", 1)[1].rsplit("</script>", 1)[0]
    assert "</script" not in script, "the spec's text can close the script tag"
    assert len(chart_display._bundle()) > 200_000  # the whole Vega bundle, not a loader
    assert '"title": "<\\/script> in a title"' in script and '"type": "bar"' in script


def test_offline_charts_becomes_altairs_renderer():
    before = alt.renderers.active
    try:
        rs.notebook.offline_charts()
        assert alt.renderers.active == chart_display.RENDERER
        bundle = _chart()._repr_mimebundle_()
        bundle = bundle[0] if isinstance(bundle, tuple) else bundle
        assert "rs-chart" in bundle["text/html"]
    finally:
        alt.renderers.enable(before)
