"""Shared runs for the Stripe tests: simulate once, export, import, calibrate (session-scoped, ~10 s).

`history_none` comes from the control policy (no emails) so calibrated behaviour is the latent one;
`history_all_on` from every email switched on, so the replay can be checked against what the
simulator actually sent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from stripe_helpers import FIXTURES

from recovery_sim.api import simulate
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.stripe.export import export_stripe
from recovery_sim.stripe.importer import import_stripe


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return Scenario.default().scaled(customers=3000, months=12)


@pytest.fixture(scope="session")
def run_none(scenario):
    return simulate(scenario, Policy.named("none"), seed=11)


@pytest.fixture(scope="session")
def run_all_on(scenario):
    return simulate(scenario, Policy.named("all-on"), seed=11)


@pytest.fixture(scope="session")
def export_none(run_none, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export_none")
    export_stripe(run_none, out, csv=False)
    return out


@pytest.fixture(scope="session")
def export_all_on(run_all_on, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export_all_on")
    export_stripe(run_all_on, out, fmt="json", csv=False)
    return out


@pytest.fixture(scope="session")
def history_none(export_none):
    return import_stripe(export_none)


@pytest.fixture(scope="session")
def history_all_on(export_all_on):
    return import_stripe(export_all_on, verified_domains=("verified.example.com",))


@pytest.fixture()
def sample(tmp_path) -> Path:
    """A writable copy of the committed JSON Lines sample export."""
    target = tmp_path / "export"
    shutil.copytree(FIXTURES / "sample", target)
    return target
