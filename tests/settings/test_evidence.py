"""data/evidence.toml: it loads, every behavioural default and every rate of the default scenario has
a row, Behaviour's defaults are its values, and a wrong row is refused naming file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import recovery_sim as rs
from recovery_sim.settings.config import Behaviour, Cohort, Scenario
from recovery_sim.settings.evidence import load_evidence
from recovery_sim.settings.evidence_table import read_evidence, shipped_value

COHORT_RATES_NOT_BEHAVIOUR = {"payment_mix"}
"""Cohort fields that are the base's composition (shares that add up to 1), not behaviour."""
COHORT_WHOLE_NUMBERS = {"card_expiry_months_max"}
"""Whole-number cohort settings that still describe behaviour (how long a card lives)."""

GOOD_ROW = """\
    [[evidence]]
    setting = "behaviour.fatigue"
    value = 0.8
    low = 0.5
    high = 1.0
    unit = "multiplier per earlier email"
    meaning = "each earlier email multiplies the chance"
    source = "assumption: no published per-email decay"
    link = ""
"""


@pytest.fixture(scope="module")
def rows() -> tuple[rs.Evidence, ...]:
    return rs.load_evidence()


@pytest.fixture(scope="module")
def by_setting(rows) -> dict[str, rs.Evidence]:
    return {row.setting: row for row in rows}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "evidence.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_shipped_table_loads_with_sources_and_ranges(rows):
    assert len(rows) == len({row.setting for row in rows})
    for row in rows:
        assert row.low <= row.value <= row.high, row.setting
        assert row.is_assumption or row.link.startswith(("https://", "http://")), row.setting
    sourced = [row for row in rows if not row.is_assumption]
    assert sourced and len(sourced) < len(rows)  # some published figures, the rest labelled


def behaviour_settings() -> list[str]:
    settings = []
    for name in Behaviour.model_fields:
        if name == "act_on_email":
            settings += [f"behaviour.act_on_email.{kind.value}" for kind in Behaviour().act_on_email]
        else:
            settings.append(f"behaviour.{name}")
    return settings


def test_every_behaviour_default_has_a_row_and_comes_from_it(by_setting):
    behaviour = Behaviour()
    for setting in behaviour_settings():
        assert setting in by_setting, f"{setting} has no row in data/evidence.toml"
        name = setting.removeprefix("behaviour.")
        if name.startswith("act_on_email."):
            current = behaviour.act_on_email[name.removeprefix("act_on_email.")]
        else:
            current = getattr(behaviour, name)
        assert current == by_setting[setting].value
        assert type(current) is type(by_setting[setting].value), f"{setting}: a whole number stays one"


def cohort_rate_fields() -> list[str]:
    """Cohort fields bounded to [0, 1] (rates), plus the whole-number behaviour settings."""
    rates = [
        name
        for name, field in Cohort.model_fields.items()
        if field.annotation is float and any(getattr(m, "le", None) == 1.0 for m in field.metadata)
    ]
    return sorted(set(rates) - COHORT_RATES_NOT_BEHAVIOUR | COHORT_WHOLE_NUMBERS)


def test_every_rate_of_the_default_scenario_has_a_row(by_setting):
    scenario = Scenario.default()
    fields = cohort_rate_fields()
    assert {"first_attempt_failure_rate", "three_ds_share", "trial_share"} <= set(fields)
    for index in range(len(scenario.cohorts)):
        for name in fields:
            assert f"cohorts.{index}.{name}" in by_setting, f"cohorts.{index}.{name} has no row"
    assert by_setting["card_updater_rate"].value == scenario.card_updater_rate


def test_rows_describe_the_default_scenario(rows):
    scenario = Scenario.default()
    for row in rows:
        assert scenario.setting(row.setting) == row.value, row.setting


def test_a_scenario_still_overrides_a_default():
    changed = Scenario.default().with_setting("behaviour.reminder_cancel_propensity", 0.0)
    assert changed.behaviour.reminder_cancel_propensity == 0.0
    assert Behaviour(fatigue=0.6).fatigue == 0.6
    assert shipped_value("behaviour.reminder_cancel_propensity") == Behaviour().reminder_cancel_propensity


def test_a_good_row_loads(tmp_path):
    (row,) = read_evidence(write(tmp_path, GOOD_ROW))
    assert row == rs.Evidence(
        "behaviour.fatigue", 0.8, 0.5, 1.0, "multiplier per earlier email",
        "each earlier email multiplies the chance", "assumption: no published per-email decay", "",
    )  # fmt: skip
    assert row.is_assumption


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("value = 0.8", "value = 1.2", 4, "value", "lies outside low..high"),
        ("low = 0.5", "low = 1.5", 5, "low", "is above high"),
        ("high = 1.0", 'high = "one"', 6, "high", "must be a finite number"),
        ('source = "assumption: no published per-email decay"', 'source = "Someone, 2024"', 10, "link",
         "needs its link"),
        ('source = "assumption: no published per-email decay"', 'source = "assumption:"', 9, "source",
         "must say why"),
        ('link = ""', 'link = "www.example.com"', 10, "link", "http(s) URL"),
        ('unit = "multiplier per earlier email"', 'units = "x"', 7, "units", "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_row_names_file_line_and_field(tmp_path, old, new, line, field, message):
    path = write(tmp_path, "# a comment line first\n" + textwrap.dedent(GOOD_ROW).replace(old, new))
    with pytest.raises(rs.ConfigError) as caught:
        read_evidence(path)
    text = str(caught.value)
    assert f"{path}:{line}: evidence[0].{field}: " in text
    assert message in text


def test_a_missing_field_names_the_row(tmp_path):
    path = write(tmp_path, GOOD_ROW.replace('    unit = "multiplier per earlier email"\n', ""))
    with pytest.raises(rs.ConfigError, match=rf"{path}:1: evidence\[0\]: missing field 'unit'"):
        read_evidence(path)


def test_a_duplicate_setting_is_refused_at_its_second_row(tmp_path):
    path = write(tmp_path, GOOD_ROW + "\n" + GOOD_ROW)
    second = rf"{path}:12: evidence\[1\].setting: .*already has a row \(line 2\)"
    with pytest.raises(rs.ConfigError, match=second):
        read_evidence(path)


FATIGUE = 'setting = "behaviour.fatigue"'
RANGE = "value = 0.8\n    low = 0.5\n    high = 1.0"


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (FATIGUE, 'setting = "behaviour.fatigues"', 2, "setting", "is not a setting"),
        (FATIGUE, 'setting = "cohorts.7.trial_share"', 2, "setting", "is not a setting"),
        (RANGE, RANGE.replace("1.0", "1.5"), 5, "high", "does not accept 1.5"),
        (RANGE, RANGE.replace("0.8", "0.7"), 3, "value", "is not the default scenario's"),
    ],
)
def test_a_row_the_settings_refuse_names_file_line_and_field(tmp_path, old, new, line, field, message):
    path = write(tmp_path, GOOD_ROW.replace(old, new))
    with pytest.raises(rs.ConfigError) as caught:
        load_evidence(path)
    assert f"{path}:{line}: evidence[0].{field}: " in str(caught.value)
    assert message in str(caught.value)


def test_a_file_without_evidence_tables_is_refused(tmp_path):
    path = write(tmp_path, 'evidence = [{setting = "behaviour.fatigue"}]\n')
    with pytest.raises(rs.ConfigError, match="expected only \\[\\[evidence\\]\\] tables"):
        read_evidence(path)
