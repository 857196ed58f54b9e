"""Shared fixtures: small scenarios built in code (no files), cheap enough for every test to run its own.

`make_scenario(...)` builds a one-cohort scenario from keyword overrides; `small_default` is the shipped
default scenario scaled down. Both are session-scoped, so hypothesis tests may use them.
"""

from __future__ import annotations

from typing import Any

import pytest

from recovery_sim.experiments.compare import Comparison, compare
from recovery_sim.experiments.executors import InlineExecutor
from recovery_sim.settings.config import Policy, Scenario

START_DATE = "2026-01-01"

BASE_COHORT: dict[str, Any] = {
    "name": "base",
    "customers": 400,
    "signup_month": "2024-01",
    "signup_spread_months": 24,
    "plans": [
        {"name": "Monthly", "interval": "month", "price": 1900, "currency": "EUR", "share": 0.7},
        {"name": "Annual", "interval": "year", "price": 19000, "currency": "EUR", "share": 0.3},
    ],
    "countries": [
        {"code": "FR", "share": 0.6, "timezone": "Europe/Paris", "locale": "fr"},
        {"code": "IE", "share": 0.4, "locale": "en"},  # no time zone: R7b falls back to the account's
    ],
    "payment_mix": {"card": 0.9, "sepa_debit": 0.1, "boleto": 0.0},
}


def build_scenario(
    customers: int = 400,
    months: int = 12,
    behaviour: dict[str, Any] | None = None,
    cohorts: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Scenario:
    """A validated scenario starting 2026-01-01.

    `cohorts` is a list of overrides of BASE_COHORT (default: one cohort of `customers`); keys of
    `fields` that name Scenario fields (card_updater_rate, decline_mix, test_mode, ...) set those,
    the rest override the single cohort.
    """
    top = {k: v for k, v in fields.items() if k in Scenario.model_fields}
    cohort = {k: v for k, v in fields.items() if k not in Scenario.model_fields}
    if cohorts is None:
        cohorts = [{"customers": customers, **cohort}]
    elif cohort:
        raise TypeError(f"cohort settings {sorted(cohort)} given alongside explicit cohorts")
    return Scenario.model_validate(
        {
            "name": "test",
            "start_date": START_DATE,
            "horizon_months": months,
            "account_timezone": "Europe/Paris",
            "cohorts": [{**BASE_COHORT, **c} for c in cohorts],
            "behaviour": behaviour or {},
            **top,
        }
    )


@pytest.fixture(scope="session")
def make_scenario():
    """The `build_scenario` factory."""
    return build_scenario


@pytest.fixture(scope="session")
def small_default() -> Scenario:
    """The shipped default scenario (three cohorts, trials, Boleto, send_invoice) at 600 customers."""
    return Scenario.default().scaled(customers=600)


# ------------------------------------------------ one small comparison, for analysis and experiment tests

SHIPPED = ("none", "recommended-minimum", "all-on", "aggressive")


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """The shipped default scenario, 600 customers over 4 months (both currencies, trials, Boleto)."""
    return Scenario.default().scaled(customers=600, months=4)


@pytest.fixture(scope="session")
def shipped_policies() -> dict[str, Policy]:
    return {name: Policy.named(name) for name in SHIPPED}


@pytest.fixture(scope="session")
def small_comparison(small_scenario: Scenario, shipped_policies: dict[str, Policy]) -> Comparison:
    return compare(
        small_scenario, shipped_policies, replications=3, seed=11, executor=InlineExecutor(), shard_size=250
    )
