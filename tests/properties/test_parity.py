"""The fast path equals the reference path on worlds drawn from the settings models themselves.

Why: hand-kept lists of settings to vary left some never varied in any fast-vs-SimPy comparison (the
spontaneous-fix, 3-D Secure, Boleto and send_invoice delays, the decline mix). Here every setting is
drawn by `strategies.py`, which walks the pydantic models, and `test_every_setting_is_varied` fails
when some leaf setting of Scenario or Policy keeps its default in every example the parity test draws.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache

import polars as pl
from hypothesis import HealthCheck, given, seed, settings
from pydantic import BaseModel

from recovery_sim.api import simulate
from recovery_sim.settings.config import Policy, Scenario

from .strategies import NO_DEFAULT, RESPECTED, leaf_defaults, leaf_values, worlds

FRAMES = ("events", "emails", "invoices", "customers")
EXAMPLES = 150
SEED = 20260101
PARITY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""One fixed seed for the parity test and the coverage test: both see the same examples."""

MUST_VARY = (
    "behaviour.spontaneous_fix_delay_days",
    "behaviour.three_ds_expiry_days",
    "behaviour.boleto_expiry_days",
    "behaviour.send_invoice_pay_delay_days",
    *(f"decline_mix.{code}" for code in ("insufficient_funds", "expired_card", "fraudulent")),
)
"""Settings that no earlier fast-vs-reference comparison varied."""


def first_difference(left: pl.DataFrame, right: pl.DataFrame) -> str | None:
    """Where two frames first differ, in words; None when they are equal."""
    if left.schema != right.schema:
        return f"schemas differ: {left.schema} vs {right.schema}"
    for index in range(min(left.height, right.height)):
        a, b = left.row(index, named=True), right.row(index, named=True)
        if a != b:
            columns = [c for c in a if a[c] != b[c]]
            return f"row {index} differs in {columns}: fast {a} vs reference {b}"
    if left.height != right.height:
        return f"{left.height} rows vs {right.height}"
    return None


def assert_paths_agree(scenario: Scenario, policy: Policy, run_seed: int) -> None:
    fast = simulate(scenario, policy, seed=run_seed, fast=True)
    reference = simulate(scenario, policy, seed=run_seed, fast=False)
    for name in FRAMES:
        left, right = getattr(fast, name), getattr(reference, name)
        if not left.equals(right):
            raise AssertionError(f"{name}: {first_difference(left, right) or 'differ'}")


@PARITY
@seed(SEED)
@given(world=worlds())
def test_fast_path_equals_reference_path(world) -> None:
    assert_paths_agree(*world)


@cache
def drawn_worlds() -> tuple[tuple[Scenario, Policy, int], ...]:
    """The examples the parity test draws (same strategy, settings and seed), without simulating."""
    drawn = []

    @PARITY
    @seed(SEED)
    @given(world=worlds())
    def draw(world) -> None:
        drawn.append(world)

    draw()
    return tuple(drawn)


def never_varied(model: type[BaseModel], examples: Iterable[BaseModel]) -> list[str]:
    """Leaf settings that took fewer than two values, or only their default, across `examples`."""
    seen: dict[str, set] = defaultdict(set)
    for example in examples:
        for path, values in leaf_values(example).items():
            seen[path].update(values)
    return sorted(
        path
        for path, default in leaf_defaults(model).items()
        if len(seen[path]) < 2 or (default is not NO_DEFAULT and seen[path] <= {default})
    )


def test_every_setting_is_varied() -> None:
    worlds_drawn = drawn_worlds()
    assert len(worlds_drawn) == EXAMPLES
    assert never_varied(Scenario, [s for s, _, _ in worlds_drawn]) == []
    assert never_varied(Policy, [p for _, p, _ in worlds_drawn]) == []
    assert len({seed for _, _, seed in worlds_drawn}) > 1


def test_the_coverage_check_names_a_setting_left_alone() -> None:
    """A setting pinned to its default in every example, or to one value, is reported."""
    scenarios = [s for s, _, _ in drawn_worlds()]
    assert set(MUST_VARY) <= set(leaf_defaults(Scenario))
    pinned = [s.with_setting("behaviour.spontaneous_fix_delay_days", 6.0) for s in scenarios]
    assert never_varied(Scenario, pinned) == ["behaviour.spontaneous_fix_delay_days"]
    constant = [s.with_setting("card_updater_rate", 0.5) for s in scenarios]
    assert never_varied(Scenario, constant) == ["card_updater_rate"]


def test_every_validator_is_respected_by_the_strategies() -> None:
    """A new validator must be met by the strategies (else they draw invalid settings): list it there."""
    found, seen, todo = set(), set(), [Scenario, Policy]
    while todo:
        model = todo.pop()
        seen.add(model)
        decorators = model.__pydantic_decorators__
        found |= {(model, name) for name in [*decorators.field_validators, *decorators.model_validators]}
        for info in model.model_fields.values():
            todo.extend(m for m in _models_in(info.annotation) if m not in seen)
    assert found == set(RESPECTED)


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]
