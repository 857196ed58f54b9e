"""Calibration recovers the generating scenario's parameters within statistical tolerance.

The history comes from the shipped default scenario (3,000 customers, 12 months, `none` policy).
Segments map to its cohorts: existing EUR → "existing base", new EUR → "2026 signups", both BRL
segments → "Brasil". Rates are checked within 3.5 binomial standard errors; the card-expiry spread
(a discrete uniform maximum) within its 99.9 % one-sided interval; retry success per decline code against
data/decline_codes.csv.
"""

from __future__ import annotations

import pytest
from stripe_helpers import within_binomial

from recovery_sim.analysis.metrics import summary
from recovery_sim.api import simulate
from recovery_sim.domain.declines import decline_codes
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.stripe.calibrate import first_attempts, fit

GENERATOR = {
    "existing EUR": "existing base",
    "new EUR": "2026 signups",
    "existing BRL": "Brasil",
    "new BRL": "Brasil",
}


@pytest.fixture(scope="module")
def calibration(history_none):
    return fit(history_none)


def _truth(scenario: Scenario, segment: str):
    return next(c for c in scenario.cohorts if c.name == GENERATOR[segment])


def _fitted(calibration, segment: str):
    return next(c for c in calibration.scenario.cohorts if c.name == segment)


def _n(calibration, segment: str, key: str) -> int:
    """The observation count written in the value's comment ("k of n ...")."""
    fits = next(f for f in calibration.cohorts if f["name"].value == segment)
    return int(fits[key].note.split(" of ")[1].split()[0])


def test_one_cohort_per_segment(calibration):
    assert sorted(c.name for c in calibration.scenario.cohorts) == sorted(GENERATOR)


@pytest.mark.parametrize("segment", list(GENERATOR))
def test_first_attempt_failure_rate(calibration, scenario, segment):
    truth = _truth(scenario, segment).first_attempt_failure_rate
    fitted = _fitted(calibration, segment).first_attempt_failure_rate
    assert within_binomial(fitted, truth, _n(calibration, segment, "first_attempt_failure_rate"))


@pytest.mark.parametrize("segment", list(GENERATOR))
def test_three_ds_share(calibration, scenario, segment):
    truth = _truth(scenario, segment).three_ds_share
    fitted = _fitted(calibration, segment).three_ds_share
    assert within_binomial(fitted, truth, _n(calibration, segment, "three_ds_share"))


@pytest.mark.parametrize("segment", list(GENERATOR))
def test_plan_mix(calibration, scenario, segment):
    truth = {(p.name, p.price, p.currency): p.share for p in _truth(scenario, segment).plans}
    fitted = {(p.name, p.price, p.currency): p.share for p in _fitted(calibration, segment).plans}
    assert set(fitted) == set(truth)
    n = _fitted(calibration, segment).customers
    for key, share in truth.items():
        assert within_binomial(fitted[key], share, n), key


@pytest.mark.parametrize("segment", list(GENERATOR))
def test_payment_mix_and_send_invoice_share(calibration, scenario, segment):
    truth, fitted = _truth(scenario, segment), _fitted(calibration, segment)
    n = fitted.customers
    assert within_binomial(fitted.send_invoice_share, truth.send_invoice_share, n)
    for kind in ("card", "sepa_debit", "boleto"):
        assert within_binomial(getattr(fitted.payment_mix, kind), getattr(truth.payment_mix, kind), n), kind


@pytest.mark.parametrize("segment", ["new EUR", "new BRL"])
def test_trials(calibration, scenario, segment):
    truth, fitted = _truth(scenario, segment), _fitted(calibration, segment)
    assert within_binomial(fitted.trial_share, truth.trial_share, fitted.customers)
    assert fitted.trial_days == truth.trial_days
    trials = _n(calibration, segment, "trial_without_payment_method_share")
    assert within_binomial(
        fitted.trial_without_payment_method_share, truth.trial_without_payment_method_share, trials
    )


@pytest.mark.parametrize("segment", list(GENERATOR))
def test_card_expiry_spread(calibration, scenario, segment):
    """The largest of n draws from 1..M: M̂ ≤ M, and P(M̂ < M·0.001^(1/n)) < 0.001."""
    truth = _truth(scenario, segment).card_expiry_months_max
    fitted = _fitted(calibration, segment).card_expiry_months_max
    n = int(
        next(f for f in calibration.cohorts if f["name"].value == segment)["card_expiry_months_max"]
        .note.split(" of ")[1]
        .split()[0]
    )
    assert truth * 0.001 ** (1 / n) <= fitted <= truth


def test_decline_mix(calibration):
    n = int(calibration.decline_mix["insufficient_funds"].note.split(" of ")[1].split()[0])
    assert n > 300
    for code in decline_codes():
        assert within_binomial(calibration.scenario.decline_mix[code.code], code.share, n), code.code


def test_retry_success_by_decline_code(calibration):
    table = {code: (n, ok) for code, n, ok, _ in calibration.retry_by_code.iter_rows()}
    checked = 0
    for code in decline_codes():
        if code.code in table and table[code.code][0] >= 20:
            n, ok = table[code.code]
            assert within_binomial(ok / n, code.retry_success, n), code.code
            checked += 1
    assert checked >= 4
    assert not any(c.hard and c.code in table for c in decline_codes())  # hard declines are never retried


def test_behaviour(calibration, scenario):
    b = calibration.scenario.behaviour
    truth = scenario.behaviour
    trials = int(calibration.behaviour["trial_cancel_share"].note.split(" of ")[1].split()[0])
    assert within_binomial(b.trial_cancel_share, truth.trial_cancel_share, trials)
    renewals = int(calibration.behaviour["voluntary_churn_monthly"].note.split(" of ")[1].split()[0])
    assert within_binomial(b.voluntary_churn_monthly, truth.voluntary_churn_monthly, renewals)
    paid = int(calibration.behaviour["send_invoice_pay_delay_days"].note.split(" to ")[1].split()[0])
    assert abs(b.send_invoice_pay_delay_days - truth.send_invoice_pay_delay_days) <= 3.5 * 20 / paid**0.5
    invoices = int(calibration.behaviour["send_invoice_pay_share"].note.split(" of ")[1].split()[0])
    assert within_binomial(b.send_invoice_pay_share, truth.send_invoice_pay_share, invoices)
    assert b.send_invoice_write_off_days == truth.send_invoice_write_off_days


def test_first_attempts_exclude_expired_cards(history_none):
    attempts = first_attempts(history_none)
    assert not attempts["card_expired"].any()
    expired = attempts.filter(attempts["decline_code"] == "expired_card")
    assert expired.height < attempts["failed"].sum() * 0.2  # only the random share of expired_card remains


def test_toml_has_a_comment_per_value_loads_and_simulates(calibration, tmp_path):
    path = calibration.write(tmp_path / "fitted.toml")
    for line in path.read_text().splitlines():
        if (
            "=" in line
            and not line.startswith(("#", "[", "name =", "description ="))
            and not line.endswith("[")
        ):
            assert "#" in line, line
    loaded = Scenario.load(path)
    assert loaded == calibration.scenario
    run = simulate(loaded.scaled(customers=600), Policy.named("none"), seed=3)
    assert summary(run)["billed"].sum() > 0


def test_history_scenario_is_the_calibrated_one(history_none, calibration):
    assert history_none.scenario == calibration.scenario
