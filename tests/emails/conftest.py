"""Fixtures of the email tests: a fixed signing key, the all-on policy, and a tiny hand-built run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from email_fixtures import TEST_KEY, tiny_run

from recovery_sim.emails.links import SigningKey
from recovery_sim.settings.config import Policy


@pytest.fixture(scope="session")
def key() -> SigningKey:
    return TEST_KEY


@pytest.fixture(scope="session")
def all_on() -> Policy:
    """Hosted update link and hosted management link (R3, R3b)."""
    return Policy.named("all-on")


@pytest.fixture
def run() -> SimpleNamespace:
    return tiny_run()
