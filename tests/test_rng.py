"""Keyed random streams: the scalar and vectorised draws agree bit for bit, look uniform, and the
streams of different purposes, seeds, replications, entities and indices do not move together."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_sim.simulation.rng import Purpose, Streams, stream_key

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
