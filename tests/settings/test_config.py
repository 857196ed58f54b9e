"""Scenario and policy settings: the shipped files load, bad files fail with messages that name the file
and the field, `with_setting` and `scaled` make valid copies, and the retry schedule is what it says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_sim.domain.calendar import add_months
from recovery_sim.domain.enums import DunningAction, PlanInterval
from recovery_sim.resources import DATA_DIR
from recovery_sim.settings.config import (
    RENEWAL_REMINDER_DAYS,
    ConfigError,
    Policy,
    RetrySettings,
    Scenario,
    shipped_policy_names,
)

SCENARIO = """\
name = "tiny"
start_date = "2026-01-01"
horizon_months = 12
account_timezone = "Europe/Paris"

[[cohorts]]
name = "base"
customers = 100
signup_month = "2025-01"
first_attempt_failure_rate = 0.08
plans = [
  { name = "Monthly", interval = "month", price = 1900, currency = "EUR", share = 0.6 },
  { name = "Annual", interval = "year", price = 19000, currency = "EUR", share = 0.4 },
]
countries = [{ code = "FR", share = 1.0, timezone = "Europe/Paris", locale = "fr" }]
payment_mix = { card = 0.9, sepa_debit = 0.1, boleto = 0.0 }
"""

POLICY = """\
name = "tiny"
end_action = "cancel"

[emails]
payment_failed = true
upcoming_renewal = true
upcoming_renewal_days = 7

[retries]
mode = "smart"
max_attempts = 8
window_days = 14
"""


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# ------------------------------------------------------------------------------------- shipped files


def test_default_scenario_loads() -> None:
    scenario = Scenario.load(DATA_DIR / "scenarios" / "default.toml")
    assert scenario == Scenario.default()
    assert scenario.name == "default"
    assert scenario.customers == sum(c.customers for c in scenario.cohorts) > 0
    assert scenario.horizon_days == float(
        (add_months(scenario.start_date, scenario.horizon_months) - scenario.start_date).days
    )
    assert all(
        c.signup_date < add_months(scenario.start_date, scenario.horizon_months) for c in scenario.cohorts
    )


def test_shipped_policy_names() -> None:
    assert shipped_policy_names() == ["aggressive", "all-on", "none", "recommended-minimum"]


@pytest.mark.parametrize("name", shipped_policy_names())
def test_every_shipped_policy_loads(name: str) -> None:
    by_name = Policy.named(name)
    by_path = Policy.load(DATA_DIR / "policies" / f"{name}.toml")
    assert by_name == by_path
    assert by_name.name == name
    assert by_name.description


def test_shipped_policies_differ_as_documented() -> None:
    aggressive = Policy.named("aggressive")
    assert aggressive.end_action is DunningAction.MARK_UNPAID
    assert aggressive.retries.max_attempts == 10
    assert aggressive.emails.upcoming_renewal_days == 30
    assert aggressive.emails.upcoming_renewal_intervals == [PlanInterval.MONTH, PlanInterval.YEAR]
    all_on = Policy.named("all-on")
    assert all_on.end_action is DunningAction.CANCEL
    assert all_on.links.subscription_management == "hosted"
    assert Policy.named("none").emails == Policy().emails


def test_unknown_policy_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="unknown policy 'nope'; shipped policies: aggressive, all-on"):
        Policy.named("nope")


def test_fixtures_are_valid(tmp_path: Path) -> None:
    assert Scenario.load(write(tmp_path, SCENARIO)).customers == 100
    assert Policy.load(write(tmp_path, POLICY, "p.toml")).emails.payment_failed


# ---------------------------------------------------------------------------------------- bad files

SCENARIO_ERRORS = [
    pytest.param(
        "customers = 100\n",
        "customers = 100\ncustomer_count = 5\n",
        ["cohorts.0.customer_count", "unknown field"],
        id="unknown-field",
    ),
    pytest.param(
        "customers = 100\n",
        'customers = "many"\n',
        ["cohorts.0.customers", "valid integer"],
        id="wrong-type",
    ),
    pytest.param(
        "first_attempt_failure_rate = 0.08",
        "first_attempt_failure_rate = 1.5",
        ["cohorts.0.first_attempt_failure_rate", "less than or equal to 1"],
        id="probability-above-1",
    ),
    pytest.param(
        "first_attempt_failure_rate = 0.08",
        "first_attempt_failure_rate = -0.1",
        ["cohorts.0.first_attempt_failure_rate", "greater than or equal to 0"],
        id="negative-probability",
    ),
    pytest.param(
        "price = 1900,",
        "price = -1900,",
        ["cohorts.0.plans.0.price", "greater than 0"],
        id="negative-price",
    ),
    pytest.param(
        'price = 19000, currency = "EUR"',
        'price = 19000, currency = "XYZ"',
        ["cohorts.0.plans.1.currency", "unknown ISO 4217 currency 'XYZ'"],
        id="unknown-currency",
    ),
    pytest.param(
        ', timezone = "Europe/Paris"',
        ', timezone = "Mars/Olympus_Mons"',
        ["cohorts.0.countries.0.timezone", "unknown IANA time zone 'Mars/Olympus_Mons'"],
        id="unknown-timezone",
    ),
    pytest.param(
        'account_timezone = "Europe/Paris"',
        'account_timezone = "Europe/Pariss"',
        ["account_timezone", "unknown IANA time zone 'Europe/Pariss'"],
        id="unknown-account-timezone",
    ),
    pytest.param(
        'locale = "fr"',
        'locale = "tlh"',
        ["cohorts.0.countries.0.locale", "unknown locale 'tlh'", "allowed: en, fr, de, es, pt_BR"],
        id="unknown-locale",
    ),
    pytest.param(
        "share = 0.6",
        "share = 0.5",
        ["cohorts.0", "plans shares must add up to 1, got 0.9"],
        id="plan-shares",
    ),
    pytest.param(
        "share = 1.0, timezone",
        "share = 0.7, timezone",
        ["cohorts.0", "countries shares must add up to 1, got 0.7"],
        id="country-shares",
    ),
    pytest.param(
        "sepa_debit = 0.1",
        "sepa_debit = 0.2",
        ["cohorts.0.payment_mix", "card + sepa_debit + boleto must be 1, got 1.1"],
        id="payment-mix-shares",
    ),
    pytest.param(
        'signup_month = "2025-01"',
        'signup_month = "2027-01"',
        ["cohorts.0.signup_month", "'base'", "after the horizon ends (2027-01-01)"],
        id="cohort-after-horizon",
    ),
    pytest.param(
        'signup_month = "2025-01"',
        'signup_month = "January"',
        ["cohorts.0.signup_month", "YYYY-MM"],
        id="bad-signup-month",
    ),
    pytest.param(
        'start_date = "2026-01-01"',
        'start_date = "soon"',
        ["start_date", "valid date"],
        id="bad-start-date",
    ),
    pytest.param(
        'account_timezone = "Europe/Paris"\n',
        'account_timezone = "Europe/Paris"\ndecline_mix = { insufficient_funds = 0.5, no_such_code = 0.5 }\n',
        ["decline_mix", "unknown decline code(s) ['no_such_code']"],
        id="unknown-decline-code",
    ),
    pytest.param(
        'account_timezone = "Europe/Paris"\n',
        'account_timezone = "Europe/Paris"\n[behaviour]\nfatigue = 2\n',
        ["behaviour.fatigue", "less than or equal to 1"],
        id="behaviour-probability",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), SCENARIO_ERRORS)
def test_bad_scenario_message(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    path = write(tmp_path, replaced(SCENARIO, old, new))
    with pytest.raises(ConfigError) as info:
        Scenario.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message, (part, message)


def test_bad_scenario_message_field_is_dotted_as_in_toml(tmp_path: Path) -> None:
    path = write(
        tmp_path, replaced(SCENARIO, "first_attempt_failure_rate = 0.08", "first_attempt_failure_rate = 2")
    )
    with pytest.raises(ConfigError, match=r"bad\.toml: cohorts\.0\.first_attempt_failure_rate: Input should"):
        Scenario.load(path)


def test_every_problem_is_reported_one_per_line(tmp_path: Path) -> None:
    text = replaced(SCENARIO, "price = 1900,", "price = -1,")
    text = replaced(text, 'currency = "EUR", share = 0.4', 'currency = "XYZ", share = 0.4')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Scenario.load(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{path}: cohorts.0.plans.") for line in lines)


def test_second_cohort_is_named_by_index(tmp_path: Path) -> None:
    second = SCENARIO[SCENARIO.index("[[cohorts]]") :].replace('"base"', '"late"')
    text = SCENARIO + "\n" + replaced(second, 'signup_month = "2025-01"', 'signup_month = "2027-06"')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=r"cohorts\.1\.signup_month: cohort 'late' signs up in 2027-06"):
        Scenario.load(path)


def test_cohort_in_last_month_of_horizon_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, replaced(SCENARIO, 'signup_month = "2025-01"', 'signup_month = "2026-12"'))
    assert Scenario.load(path).cohorts[0].signup_date == dt.date(2026, 12, 1)


def test_currency_is_normalised(tmp_path: Path) -> None:
    path = write(
        tmp_path, replaced(SCENARIO, 'price = 1900, currency = "EUR"', 'price = 1900, currency = "brl"')
    )
    assert Scenario.load(path).cohorts[0].plans[0].currency == "BRL"


def test_country_without_timezone_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, replaced(SCENARIO, ', timezone = "Europe/Paris"', ""))
    assert Scenario.load(path).cohorts[0].countries[0].timezone is None


POLICY_ERRORS = [
    pytest.param(
        "payment_failed = true",
        "payment_failed = true\npayment_faild = true",
        ["emails.payment_faild", "unknown field"],
        id="unknown-field",
    ),
    pytest.param(
        'end_action = "cancel"',
        'end_action = "cancel"\nmystery = 1',
        ["mystery", "unknown field"],
        id="unknown-top-level-field",
    ),
    pytest.param(
        "payment_failed = true",
        'payment_failed = "sometimes"',
        ["emails.payment_failed", "valid boolean"],
        id="wrong-type",
    ),
    *[
        pytest.param(
            "upcoming_renewal_days = 7",
            f"upcoming_renewal_days = {days}",
            ["emails.upcoming_renewal_days", "must be one of 3, 7, 15, 30, 45, 60", f"got {days}"],
            id=f"renewal-days-{days}",
        )
        for days in (0, 5, 14, 90)
    ],
    pytest.param(
        'end_action = "cancel"',
        'end_action = "delete"',
        ["end_action", "'cancel', 'mark_unpaid' or 'leave_past_due'"],
        id="unknown-end-action",
    ),
    pytest.param(
        'mode = "smart"',
        'mode = "clever"',
        ["retries.mode", "'fixed' or 'smart'"],
        id="unknown-retry-mode",
    ),
    pytest.param(
        "max_attempts = 8",
        "max_attempts = 13",
        ["retries.max_attempts", "less than or equal to 12"],
        id="too-many-attempts",
    ),
    pytest.param(
        "window_days = 14",
        "window_days = 30",
        ["retries.window_days", "less than or equal to 28"],
        id="window-too-long",
    ),
    pytest.param(
        "window_days = 14",
        "window_days = 14\nfixed_offsets_days = [8, 3]",
        ["retries.fixed_offsets_days", "distinct and increasing"],
        id="fixed-offsets-order",
    ),
    pytest.param(
        "window_days = 14",
        "window_days = 14\nfixed_offsets_days = [3, 30]",
        ["retries.fixed_offsets_days", "within 28 days"],
        id="fixed-offsets-late",
    ),
    pytest.param(
        "upcoming_renewal = true",
        'upcoming_renewal = true\nupcoming_renewal_intervals = ["week"]',
        ["emails.upcoming_renewal_intervals.0", "'month' or 'year'"],
        id="unknown-interval",
    ),
    pytest.param(
        'end_action = "cancel"',
        'end_action = "cancel"\n[links]\nupdate_payment = "custom"',
        ["links", "update_payment_url must be an https:// URL"],
        id="custom-link-without-url",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), POLICY_ERRORS)
def test_bad_policy_message(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    path = write(tmp_path, replaced(POLICY, old, new), "policy.toml")
    with pytest.raises(ConfigError) as info:
        Policy.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message, (part, message)


def test_every_allowed_renewal_lead_loads(tmp_path: Path) -> None:
    for days in RENEWAL_REMINDER_DAYS:
        path = write(
            tmp_path, replaced(POLICY, "upcoming_renewal_days = 7", f"upcoming_renewal_days = {days}")
        )
        assert Policy.load(path).emails.upcoming_renewal_days == days
    assert RENEWAL_REMINDER_DAYS == (3, 7, 15, 30, 45, 60)


@pytest.mark.parametrize("model", [Scenario, Policy])
def test_invalid_toml_syntax(tmp_path: Path, model: type[Scenario] | type[Policy]) -> None:
    path = write(tmp_path, 'name = "broken\n[emails\n')
    with pytest.raises(ConfigError) as info:
        model.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid TOML")
    assert "line 1" in message


@pytest.mark.parametrize("model", [Scenario, Policy])
def test_missing_file(tmp_path: Path, model: type[Scenario] | type[Policy]) -> None:
    path = tmp_path / "nowhere" / "missing.toml"
    with pytest.raises(ConfigError, match="missing.toml: file not found"):
        model.load(path)
    with pytest.raises(ConfigError, match="missing.toml: file not found"):
        model.load(str(path))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="latin1.toml: not UTF-8 text"):
        Policy.load(path)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# -------------------------------------------------------------------------------------- with_setting


def test_with_setting_nested() -> None:
    base = Policy.named("all-on")
    changed = base.with_setting("retries.max_attempts", 4)
    assert changed.retries.max_attempts == 4
    assert len(changed.retries.offsets()) == 3
    assert base.retries.max_attempts == 8  # the original is untouched
    assert changed.emails == base.emails
    assert changed.with_setting("emails.upcoming_renewal_days", 30).emails.upcoming_renewal_days == 30


def test_with_setting_top_level() -> None:
    policy = Policy().with_setting("end_action", "leave_past_due")
    assert policy.end_action is DunningAction.LEAVE_PAST_DUE
    scenario = Scenario.default().with_setting("horizon_months", 6)
    assert scenario.horizon_months == 6


def test_with_setting_list_path() -> None:
    base = Scenario.default()
    changed = base.with_setting("cohorts.0.customers", 5)
    assert changed.cohorts[0].customers == 5
    assert changed.customers == base.customers - base.cohorts[0].customers + 5
    assert changed.cohorts[1:] == base.cohorts[1:]
    deep = base.with_setting("cohorts.0.plans.0.price", 12900)
    assert deep.cohorts[0].plans[0].price == 12900
    assert base.with_setting("behaviour.fatigue", 0.5).behaviour.fatigue == 0.5


@pytest.mark.parametrize(
    "dotted",
    [
        "retries.max_attemps",
        "retry.max_attempts",
        "emails.payment_failed.on",
        "cohorts.99.customers",
        "cohorts.-1.customers",
        "cohorts.first.customers",
        "cohorts.0.customerz",
        "",
    ],
)
def test_with_setting_bad_path(dotted: str) -> None:
    target = Scenario.default() if dotted.startswith("cohorts") else Policy()
    with pytest.raises(ConfigError, match="no setting"):
        target.with_setting(dotted, 4)


def test_with_setting_bad_value_names_the_setting() -> None:
    with pytest.raises(ConfigError) as info:
        Scenario.default().with_setting("cohorts.0.first_attempt_failure_rate", 1.5)
    message = str(info.value)
    assert "cohorts.0.first_attempt_failure_rate" in message
    assert "less than or equal to 1" in message
    with pytest.raises(ConfigError, match="upcoming_renewal_days must be one of"):
        Policy().with_setting("emails.upcoming_renewal_days", 10)


# -------------------------------------------------------------------------------------------- scaled


def test_scaled_totals_exactly() -> None:
    base = Scenario.default()
    scaled = base.scaled(customers=1000)
    assert scaled.customers == 1000
    for before, after in zip(base.cohorts, scaled.cohorts, strict=True):
        assert after.name == before.name
        assert abs(after.customers - before.customers * 1000 / base.customers) < 1
    assert scaled.horizon_months == base.horizon_months
    assert base.customers == sum(c.customers for c in base.cohorts)  # the original is untouched


def test_scaled_months() -> None:
    scaled = Scenario.default().scaled(months=3)
    assert scaled.horizon_months == 3
    assert scaled.horizon_days == float((add_months(scaled.start_date, 3) - scaled.start_date).days)
    assert scaled.customers == Scenario.default().customers


def test_scaled_months_rechecks_cohorts() -> None:
    short = Scenario.default().scaled(months=1)
    late = add_months(short.start_date, 2).strftime("%Y-%m")
    with pytest.raises(ConfigError, match="cohorts.0.signup_month: .* after the horizon ends"):
        short.with_setting("cohorts.0.signup_month", late)


def test_scaled_below_one_customer_per_cohort() -> None:
    base = Scenario.default()
    cohorts = [base.cohorts[0], base.cohorts[0], base.cohorts[0]]
    three = base.model_copy(update={"cohorts": cohorts})
    with pytest.raises(ConfigError, match="cannot scale 3 cohorts to 2 customers"):
        three.scaled(customers=2)
    assert [c.customers for c in three.scaled(customers=3).cohorts] == [1, 1, 1]


@given(
    sizes=st.lists(st.integers(1, 100_000), min_size=1, max_size=8),
    data=st.data(),
)
@settings(max_examples=30, deadline=None)
def test_scaled_property(sizes: list[int], data: st.DataObject) -> None:
    base = Scenario.default()
    template = min(base.cohorts, key=lambda c: len(c.countries))  # fewest countries: fast validation
    cohorts = [template.model_copy(update={"customers": n}) for n in sizes]
    scenario = base.model_copy(update={"cohorts": cohorts})
    customers = data.draw(st.integers(len(sizes), 200_000))
    scaled = scenario.scaled(customers=customers)
    got = [c.customers for c in scaled.cohorts]
    assert sum(got) == customers
    assert min(got) >= 1
    total = sum(sizes)
    # Each cohort is within one customer of its exact share, unless it had to be raised to one.
    lifted = sum(1 for n in sizes if n * customers / total < 1)
    for n, m in zip(sizes, got, strict=True):
        assert abs(m - n * customers / total) <= 1 + lifted


# ------------------------------------------------------------------------------------- retry offsets


def test_fixed_offsets() -> None:
    retries = RetrySettings(mode="fixed", fixed_offsets_days=[1.0, 3.0, 5.0, 9.5])
    assert retries.offsets() == [1.0, 3.0, 5.0, 9.5]
    assert RetrySettings(mode="fixed").offsets() == [3.0, 8.0, 15.0]
    assert RetrySettings(mode="fixed", fixed_offsets_days=[]).offsets() == []


def test_smart_offsets_default() -> None:
    offsets = RetrySettings().offsets()
    assert len(offsets) == 7  # 8 attempts: the first one plus 7 retries
    assert offsets[-1] == 14.0
    assert offsets == sorted(set(offsets))
    assert offsets[0] > 0


@given(max_attempts=st.integers(1, 12), window=st.floats(0.5, 28))
@settings(max_examples=100, deadline=None)
def test_smart_offsets_property(max_attempts: int, window: float) -> None:
    offsets = RetrySettings(mode="smart", max_attempts=max_attempts, window_days=window).offsets()
    assert len(offsets) == max_attempts - 1
    assert all(a < b for a, b in zip([0.0, *offsets], offsets, strict=False))
    if offsets:
        assert offsets[-1] == pytest.approx(window, abs=1e-3)
        assert all(o <= window + 1e-3 for o in offsets)
    # Spacing grows: later retries are further apart (catching paydays, not transient declines).
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    assert all(b >= a - 2e-3 for a, b in zip(gaps, gaps[1:], strict=False))


def test_smart_offsets_with_max_attempts_4() -> None:
    offsets = Policy().with_setting("retries.max_attempts", 4).retries.offsets()
    assert len(offsets) == 3
    assert offsets[-1] == 14.0


# ---------------------------------------------------------------------------------------- add_months


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2026, 12, 1), 1, dt.date(2027, 1, 1)),
        (dt.date(2026, 11, 15), 2, dt.date(2027, 1, 15)),
        (dt.date(2026, 1, 1), 12, dt.date(2027, 1, 1)),
        (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)),
        (dt.date(2026, 1, 1), -1, dt.date(2025, 12, 1)),
    ],
)
def test_add_months(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected
