"""Helpers for the Stripe tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import math
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "stripe"
Z = 3.5
"""Two-sided tolerance in standard errors (about 1 in 2,000 per check for a correct estimator)."""


def within_binomial(estimate: float, truth: float, n: int, z: float = Z) -> bool:
    """|p̂ − p| within z binomial standard errors (at least one count's worth when p is 0 or 1)."""
    variance = max(truth * (1 - truth), 1.0 / n) / n
    return abs(estimate - truth) <= z * math.sqrt(variance)
