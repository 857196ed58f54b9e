"""Fixtures for the experiment tests: a small default scenario and one comparison computed in-process."""

from __future__ import annotations

import pytest

from recovery_sim.experiments.compare import Comparison, compare
from recovery_sim.experiments.executors import InlineExecutor
from recovery_sim.settings.config import Policy, Scenario

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
