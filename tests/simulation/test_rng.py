"""Keyed random streams: the scalar and vectorised draws agree bit for bit, look uniform, and the
streams of different purposes, seeds, replications, entities and indices do not move together."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_sim.domain import rules
from recovery_sim.settings.config import (
    INVOICE_REMINDER_OFFSET_DAYS,
    MAX_EXPIRY_DAYS,
    MIN_CONFIRMATION_REMINDER_DAYS,
    Behaviour,
    Policy,
)
from recovery_sim.simulation.rng import Purpose, Streams, stream_key
from recovery_sim.simulation.slots import PERIOD_KEYS, SlotLayout, counts, draw_index

U64 = st.integers(min_value=0, max_value=2**64 - 1)
ENTITY = st.integers(min_value=0, max_value=2**63 - 1)


def chi2_critical(df: int, z: float = 5.0) -> float:
    """Upper chi-square quantile by Wilson-Hilferty; z=5 is a tail of about 3e-7 (a loose check)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi2_uniform(u: np.ndarray, bins: int) -> float:
    counts = np.bincount(np.minimum((u * bins).astype(np.int64), bins - 1), minlength=bins)
    expected = len(u) / bins
    return float(((counts - expected) ** 2 / expected).sum())


def bits(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).view(np.uint64)


@pytest.mark.parametrize("purpose", list(Purpose))
def test_scalar_equals_vectorised_bit_for_bit(purpose: Purpose) -> None:
    streams = Streams(seed=20260101, replication=3)
    rng = np.random.default_rng(int(purpose))
    entities = np.concatenate(
        [np.arange(200), rng.integers(0, 2**63 - 1, size=300, dtype=np.int64), [2**63 - 1]]
    ).astype(np.int64)
    indices = rng.integers(0, 2**40, size=len(entities), dtype=np.int64)
    vector = streams.uniforms(purpose, entities, indices)
    scalar = np.array(
        [streams.uniform(purpose, int(e), int(i)) for e, i in zip(entities, indices, strict=True)]
    )
    assert np.array_equal(bits(vector), bits(scalar))
    # A scalar index broadcasts over the entities exactly like the per-entity loop.
    vector0 = streams.uniforms(purpose, entities, 7)
    assert np.array_equal(bits(vector0), bits([streams.uniform(purpose, int(e), 7) for e in entities]))


@settings(max_examples=300, deadline=None)
@given(
    seed=U64,
    replication=st.integers(0, 2**32),
    entity=ENTITY,
    index=st.integers(0, 2**63 - 1),
    purpose=st.sampled_from(list(Purpose)),
)
def test_scalar_equals_vectorised_property(seed, replication, entity, index, purpose) -> None:
    streams = Streams(seed, replication)
    scalar = streams.uniform(purpose, entity, index)
    vector = streams.uniforms(purpose, np.array([entity], dtype=np.int64), np.array([index], dtype=np.int64))
    assert bits(vector)[0] == bits([scalar])[0]
    assert 0.0 <= scalar < 1.0


def test_exponentials_match_the_scalar_draws() -> None:
    streams = Streams(5)
    ids = np.arange(2_000, dtype=np.int64)
    vector = streams.exponentials(Purpose.ACT_DELAY, ids, 3, mean=1.5)
    scalar = np.array([streams.exponential(Purpose.ACT_DELAY, int(i), 3, 1.5) for i in ids])
    # Same uniforms; log1p of numpy and of math may differ in the last place only.
    assert np.allclose(vector, scalar, rtol=4e-16, atol=0)
    assert (vector >= 0).all()
    assert abs(vector.mean() - 1.5) < 5 * 1.5 / math.sqrt(len(ids))


def test_same_key_same_draw_whatever_came_before() -> None:
    """Counter-based: a draw depends on its key only, so subsets, orders and repeats agree."""
    a, b = Streams(11, 2), Streams(11, 2)
    ids = np.arange(1_000, dtype=np.int64)
    full = a.uniforms(Purpose.FIRST_ATTEMPT, ids, 4)
    b.uniforms(Purpose.RETRY, ids, 9)  # unrelated draws first
    subset = ids[::-7]
    assert np.array_equal(b.uniforms(Purpose.FIRST_ATTEMPT, subset, 4), full[subset])


def test_uniformity_chi_square() -> None:
    streams = Streams(42)
    ids = np.arange(200_000, dtype=np.int64)
    for purpose in (Purpose.FIRST_ATTEMPT, Purpose.ACT, Purpose.CARD_EXPIRY):
        u = streams.uniforms(purpose, ids, 0)
        assert u.min() >= 0.0 and u.max() < 1.0
        assert chi2_uniform(u, 100) < chi2_critical(99)
        assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / len(u))
    # Along the index axis for one entity (how retries and periods draw).
    u = streams.uniforms(Purpose.RETRY, np.full(100_000, 17, dtype=np.int64), np.arange(100_000))
    assert chi2_uniform(u, 50) < chi2_critical(49)


def test_uniformity_ks() -> None:
    u = np.sort(Streams(3).uniforms(Purpose.SIGNUP, np.arange(50_000, dtype=np.int64)))
    n = len(u)
    grid = np.arange(1, n + 1) / n
    d = max(np.max(grid - u), np.max(u - (grid - 1 / n)))
    assert d < 1.95 / math.sqrt(n)  # the 0.1 % critical value of the Kolmogorov-Smirnov statistic


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    ids = np.arange(100_000, dtype=np.int64)
    s = Streams(99)
    return [
        ("purposes", s.uniforms(Purpose.FIRST_ATTEMPT, ids, 1), s.uniforms(Purpose.DECLINE_CODE, ids, 1)),
        ("purposes-adjacent", s.uniforms(Purpose.ACT, ids, 1), s.uniforms(Purpose.ACT_DELAY, ids, 1)),
        ("indices", s.uniforms(Purpose.RETRY, ids, 130), s.uniforms(Purpose.RETRY, ids, 131)),
        ("entities", s.uniforms(Purpose.CHURN, ids, 0), s.uniforms(Purpose.CHURN, ids + 1, 0)),
        ("seeds", s.uniforms(Purpose.PLAN, ids), Streams(100).uniforms(Purpose.PLAN, ids)),
        ("replications", s.uniforms(Purpose.PLAN, ids), Streams(99, 1).uniforms(Purpose.PLAN, ids)),
        # The same (entity, index) value swapped must not give the same draw.
        (
            "entity-index-swap",
            s.uniforms(Purpose.ACT, ids, 5),
            s.uniforms(Purpose.ACT, np.full_like(ids, 5), ids),
        ),
    ]


@pytest.mark.parametrize("name,x,y", _pairs(), ids=[p[0] for p in _pairs()])
def test_independence(name: str, x: np.ndarray, y: np.ndarray) -> None:
    n = len(x)
    assert not np.array_equal(x, y)
    assert abs(np.corrcoef(x, y)[0, 1]) < 5 / math.sqrt(n)
    # Joint 10 x 10 cells are uniform too (catches dependence a correlation misses).
    cells = np.minimum((x * 10).astype(np.int64), 9) * 10 + np.minimum((y * 10).astype(np.int64), 9)
    counts = np.bincount(cells, minlength=100)
    chi2 = float(((counts - n / 100) ** 2 / (n / 100)).sum())
    assert chi2 < chi2_critical(99)


def test_stream_keys_are_distinct() -> None:
    keys = {stream_key(seed, rep, p) for seed in range(5) for rep in range(5) for p in Purpose}
    assert len(keys) == 5 * 5 * len(Purpose)


def test_seed_and_replication_change_the_draws() -> None:
    ids = np.arange(1_000, dtype=np.int64)
    base = Streams(1, 0).uniforms(Purpose.FIRST_ATTEMPT, ids)
    assert np.array_equal(base, Streams(1, 0).uniforms(Purpose.FIRST_ATTEMPT, ids))
    assert not np.array_equal(base, Streams(2, 0).uniforms(Purpose.FIRST_ATTEMPT, ids))
    assert not np.array_equal(base, Streams(1, 1).uniforms(Purpose.FIRST_ATTEMPT, ids))
    assert len(np.unique(base)) == len(base)


# ------------------------------------------------------------------------- the draw-slot layout


expiries = st.floats(0.01, MAX_EXPIRY_DAYS)
policies = st.builds(
    lambda offsets, reminders, step, mode, attempts, fixed: Policy.model_validate(
        {
            "emails": {
                "invoice_reminders": True,
                "invoice_reminder_offsets": offsets,
                "payment_action_reminders": reminders,
                "payment_action_reminder_days": step,
            },
            "retries": {"mode": mode, "max_attempts": attempts, "fixed_offsets_days": fixed},
        }
    ),
    st.lists(st.integers(*INVOICE_REMINDER_OFFSET_DAYS), unique=True, max_size=121).map(sorted),
    st.booleans(),
    st.floats(MIN_CONFIRMATION_REMINDER_DAYS, 30),
    st.sampled_from(["fixed", "smart"]),
    st.integers(1, 12),
    st.lists(st.floats(0.5, 28), unique=True, max_size=11).map(sorted),
)
"""Policies anywhere within the pydantic bounds that size a slot range."""


def _draws(layout: SlotLayout, policy: Policy, behaviour: Behaviour) -> list[tuple[str, int]]:
    """Every (use, draw index) one customer's run can take, over 62 consecutive periods and 5 cards."""
    need = counts(policy, behaviour)
    uses = {
        "attempt": range(layout.attempt + 1, layout.attempt + need["attempt"]),
        "confirmation": range(layout.confirmation, layout.confirmation + need["confirmation"]),
        "invoice_reminder": range(
            layout.invoice_reminder, layout.invoice_reminder + need["invoice_reminder"]
        ),
        "renewal_reminder": [layout.renewal_reminder],
        "trial_reminder": [layout.trial_reminder],
        "trial_paused": [layout.trial_paused],
        "final_notice": [layout.final_notice],
        "link_payment": [layout.link_payment],
    }
    out = [(f"{use}@{k}", draw_index(k, slot, layout.per_period)) for use, slots in uses.items()
           for slot in slots for k in range(1000, 1062)]  # fmt: skip
    return out + [(f"card{v}", layout.card + v) for v in range(5)]


@settings(max_examples=150, deadline=None)
@given(policies, expiries, expiries)
def test_no_two_uses_share_a_draw(policy: Policy, three_ds: float, boleto: float) -> None:
    """For any valid policy and expiry, every use of a draw gets its own index (per purpose, per
    customer), and the ranges hold every count the run can reach."""
    behaviour = Behaviour(three_ds_expiry_days=three_ds, boleto_expiry_days=boleto)
    layout = SlotLayout.for_run(policy, behaviour)
    ranges = layout.ranges()
    taken = [slot for r in ranges.values() for slot in r]
    assert len(taken) == len(set(taken)) and max(taken) < layout.per_period
    for name, need in counts(policy, behaviour).items():
        assert len(ranges[name]) >= need, name
    assert layout.card >= PERIOD_KEYS * layout.per_period
    indices = [index for _use, index in _draws(layout, policy, behaviour)]
    assert len(indices) == len(set(indices))


@settings(max_examples=150, deadline=None)
@given(policies, expiries, st.floats(0, 1000))
def test_confirmation_range_holds_every_email(policy: Policy, expiry: float, requested_at: float) -> None:
    """R8: the request plus its reminders (as the rules list them, from any start) fit their range."""
    behaviour = Behaviour(three_ds_expiry_days=expiry)
    reminders = rules.confirmation_reminder_times(policy, requested_at, requested_at + expiry)
    assert 1 + len(reminders) <= len(SlotLayout.for_run(policy, behaviour).ranges()["confirmation"])


def test_default_layout_is_unchanged_for_shipped_policies() -> None:
    """Runs whose counts fit the default sizes keep the default slots, so their draws stay put."""
    for name in ("none", "recommended-minimum", "all-on", "aggressive"):
        layout = SlotLayout.for_run(Policy.named(name), Behaviour())
        assert (layout.attempt, layout.confirmation, layout.invoice_reminder) == (0, 16, 32)
        assert (layout.renewal_reminder, layout.trial_reminder, layout.trial_paused) == (48, 49, 50)
        assert layout.final_notice == 51  # taken from the unused slots: nothing else moved
        assert (layout.link_payment, layout.per_period, layout.card) == (60, 64, 100_000)


def test_frequent_confirmation_reminders_widen_their_range() -> None:
    """Reminders every 0.2 days for a 7-day 3-D Secure wait: 37 emails, which the default 16 slots
    would have let run into the invoice reminders and the renewal reminder."""
    policy = Policy.named("all-on").with_setting("emails.payment_action_reminder_days", 0.2)
    layout = SlotLayout.for_run(policy, Behaviour())
    assert len(layout.ranges()["confirmation"]) >= 37
    assert layout.invoice_reminder >= layout.confirmation + 37 and layout.per_period > 64
