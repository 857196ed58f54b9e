"""The compiled model's building blocks agree with the Python functions they transcribe."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_sim.domain.calendar import whole_days
from recovery_sim.domain.rules import card_expires_at
from recovery_sim.settings.config import add_months
from recovery_sim.simulation.compiled import kernel
from recovery_sim.simulation.customers import new_card_expiry
from recovery_sim.simulation.rng import Purpose, Streams

EPOCH = dt.date(1970, 1, 1)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31))


@settings(max_examples=300, deadline=None)
@given(dates)
def test_civil_days_round_trip(day: dt.date) -> None:
    days = (day - EPOCH).days
    assert kernel._days_from_civil(day.year, day.month, day.day) == days
    assert kernel._civil_from_days(days) == (day.year, day.month, day.day)


@settings(max_examples=300, deadline=None)
@given(dates, st.integers(-30, 800))
def test_add_months_matches_config(day: dt.date, months: int) -> None:
    moved = add_months(day, months)
    assert kernel._add_months(day.year, day.month, day.day, months) == (moved.year, moved.month, moved.day)


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(-400, 900), st.floats(0, 0.999), st.integers(0, 60), st.sampled_from([1, 12]))
def test_boundary_matches_periods(start: dt.date, anchor: int, frac: float, k: int, step: int) -> None:
    """Renewal instants: the kernel's calendar equals periods.whole_days + the anchor's fraction."""
    f64, i64 = np.zeros(kernel.F_SIZE), np.zeros(kernel.I_SIZE, dtype=np.int64)
    i64[kernel.I_START_DAY] = (start - EPOCH).days
    i64[kernel.S_ANCHOR_DAY], i64[kernel.S_PLAN], i64[kernel.I_PLAN_STEP] = anchor, 0, step
    f64[kernel.S_ANCHOR_FRAC] = frac
    assert kernel._boundary(f64, i64, k) == whole_days(start, anchor, k * step) + frac


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**40), st.integers(0, 2**20), st.sampled_from(list(Purpose)), st.integers(0, 2**31))
def test_draws_match_streams(seed: int, customer: int, purpose: Purpose, index: int) -> None:
    streams = Streams(seed, 3)
    i64 = np.zeros(kernel.I_SIZE, dtype=np.int64)
    i64[kernel.I_KEYS : kernel.I_KEYS + len(streams.key_table())] = streams.key_table().view(np.int64)
    assert kernel._uniform(i64, int(purpose), customer, index) == streams.uniform(purpose, customer, index)
    assert kernel._exponential(i64, int(purpose), customer, index, 2.5) == streams.exponential(
        purpose, customer, index, 2.5
    )


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(0, 2000), st.floats(0, 1500), st.integers(1, 9))
def test_new_card_matches_cohorts(start: dt.date, customer: int, now: float, version: int) -> None:
    """A replacement card's expiry and R9 email instant, as cohorts.new_card_expiry and rules give them."""
    streams = Streams(5)
    f64, i64 = np.zeros(kernel.F_SIZE), np.zeros(kernel.I_SIZE, dtype=np.int64)
    i64[kernel.I_KEYS : kernel.I_KEYS + len(streams.key_table())] = streams.key_table().view(np.int64)
    i64[kernel.I_START_DAY], i64[kernel.I_CARD], i64[kernel.S_METHOD] = (start - EPOCH).days, 0, 0
    i64[kernel.S_ID], i64[kernel.S_CARD_VERSION] = customer, version - 1
    f64[kernel.S_NOW], f64[kernel.F_HORIZON] = now, 0.0
    rows_f, rows_i = np.zeros((6, 4)), np.zeros((23, 4), dtype=np.int64)
    kernel._new_method(f64, i64, rows_f, rows_i, 0)
    month, year = new_card_expiry(streams, customer, version, now, start)
    assert f64[kernel.S_CARD_EXPIRES] == card_expires_at(month, year, start)
    assert f64[kernel.S_CARD_EMAIL] == float((dt.date(year, month, 1) - start).days)
    assert i64[kernel.S_EVENTS] == 1 and rows_i[kernel.O_EVENT_KIND, 0] == kernel.K_CARD_UPDATED
