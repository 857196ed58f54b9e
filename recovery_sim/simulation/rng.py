"""Keyed random numbers: every draw is a pure function of (seed, replication, purpose, entity, index).

Why keyed and not sequential: two policies must see the same customers, cards and failures (common
random numbers), shards and workers must not change results, and the fast engine path must draw
exactly what the reference path draws although it visits events in another order. A counter-based
generator gives all three: a draw depends on its key, never on how many draws came before it.

The mixer is SplitMix64's finaliser, evaluated identically on numpy uint64 arrays (vectorised paths)
and on Python ints (per-event paths); `tests/simulation/test_rng.py` proves the two agree bit for bit.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_TO_UNIT = 2.0**-53


class Purpose(IntEnum):
    """One stream per use, so adding a draw for one purpose never shifts another."""

    COHORT = 1
    PLAN = 2
    COUNTRY = 3
    SIGNUP = 4
    TRIAL = 5
    TRIAL_NO_METHOD = 6
    COLLECTION = 7
    METHOD_KIND = 8
    CARD_EXPIRY = 9
    RECIPIENT = 10
    FIRST_ATTEMPT = 11
    DECLINE_CODE = 12
    NEEDS_CONFIRMATION = 13
    RETRY = 14
    SPONTANEOUS_FIX = 15
    SPONTANEOUS_DELAY = 16
    ACT = 17
    ACT_DELAY = 18
    NEW_METHOD = 19
    CONFIRM_UNPROMPTED = 20
    CONFIRM_DELAY = 21
    CARD_UPDATER = 22
    CARD_SELF_UPDATE = 23
    CHURN = 24
    REMINDER_CANCEL = 25
    INVOICE_PAY = 26
    INVOICE_PAY_DELAY = 27
    TRIAL_CANCEL = 28
    NEW_CARD_EXPIRY = 29
    SIGNUP_TIME = 30


def _mix(z: int) -> int:
    z = (z + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def _mix_array(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def stream_key(seed: int, replication: int, purpose: Purpose) -> int:
    """The 64-bit key of one purpose's stream in one replication."""
    return _mix(_mix(_mix(seed & _MASK) ^ (replication & _MASK)) ^ int(purpose))


class Streams:
    """All streams of one (seed, replication); cheap to build, safe to share across processes."""

    def __init__(self, seed: int, replication: int = 0) -> None:
        self.seed = seed
        self.replication = replication
        self._keys = {p: stream_key(seed, replication, p) for p in Purpose}

    def key_table(self) -> np.ndarray:
        """Every purpose's stream key, indexed by purpose value (for compiled code)."""
        table = np.zeros(max(Purpose) + 1, dtype=np.uint64)
        for purpose, key in self._keys.items():
            table[purpose] = key
        return table

    def uniform(self, purpose: Purpose, entity: int, index: int = 0) -> float:
        """One U[0,1) draw for an entity (customer) and an index (invoice number, attempt, ...)."""
        # _mix(_mix(key ^ entity) ^ index), inlined: this is the engine's hottest scalar function.
        z = ((self._keys[purpose] ^ entity) + _GOLDEN) & _MASK
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        z = ((z ^ (z >> 31) ^ index) + _GOLDEN) & _MASK
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        return ((z ^ (z >> 31)) >> 11) * _TO_UNIT

    def uniforms(self, purpose: Purpose, entities: np.ndarray, index: int | np.ndarray = 0) -> np.ndarray:
        """The same draws as `uniform`, for arrays of entities (and indices)."""
        with np.errstate(over="ignore"):
            key = np.uint64(self._keys[purpose])
            z = _mix_array(np.asarray(entities, dtype=np.uint64) ^ key)
            z = _mix_array(z ^ np.asarray(index, dtype=np.uint64))
        return (z >> np.uint64(11)).astype(np.float64) * _TO_UNIT

    def exponential(self, purpose: Purpose, entity: int, index: int, mean: float) -> float:
        return -mean * math.log1p(-self.uniform(purpose, entity, index))

    def exponentials(
        self, purpose: Purpose, entities: np.ndarray, index: int | np.ndarray, mean: float
    ) -> np.ndarray:
        return -mean * np.log1p(-self.uniforms(purpose, entities, index))
