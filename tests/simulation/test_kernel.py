"""The compiled model's building blocks agree with the Python functions they compile or mirror, and
every SimPy process has its compiled twin."""

from __future__ import annotations

import datetime as dt
import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_sim.domain import formulas
from recovery_sim.domain.calendar import add_months, whole_days
from recovery_sim.domain.enums import SubscriptionStatus
from recovery_sim.domain.rules import card_expires_at
from recovery_sim.simulation import slots
from recovery_sim.simulation.compiled import jit, lifecycle, processes, state
from recovery_sim.simulation.compiled import layout as kernel
from recovery_sim.simulation.customers import new_card_expiry
from recovery_sim.simulation.reference.engine import Engine
from recovery_sim.simulation.rng import Purpose, Streams

EPOCH = dt.date(1970, 1, 1)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31))


@settings(max_examples=300, deadline=None)
@given(dates)
def test_civil_days_round_trip(day: dt.date) -> None:
    days = (day - EPOCH).days
    assert jit.days_from_civil(day.year, day.month, day.day) == days
    assert jit.civil_from_days(days) == (day.year, day.month, day.day)


@settings(max_examples=300, deadline=None)
@given(dates, st.integers(-30, 800))
def test_add_months_matches_config(day: dt.date, months: int) -> None:
    moved = add_months(day, months)
    assert jit.add_civil_months(day.year, day.month, day.day, months) == (moved.year, moved.month, moved.day)


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(-400, 900), st.floats(0, 0.999), st.integers(0, 60), st.sampled_from([1, 12]))
def test_boundary_matches_periods(start: dt.date, anchor: int, frac: float, k: int, step: int) -> None:
    """Renewal instants: the kernel's calendar equals periods.whole_days + the anchor's fraction."""
    f64, i64 = np.zeros(kernel.F_SIZE), np.zeros(kernel.I_SIZE, dtype=np.int64)
    i64[kernel.I_START_DAY] = (start - EPOCH).days
    i64[kernel.S_ANCHOR_DAY], i64[kernel.S_PLAN], i64[kernel.I_PLAN_STEP] = anchor, 0, step
    f64[kernel.S_ANCHOR_FRAC] = frac
    assert state.boundary(f64, i64, k) == whole_days(start, anchor, k * step) + frac


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**40), st.integers(0, 2**20), st.sampled_from(list(Purpose)), st.integers(0, 2**31))
def test_draws_match_streams(seed: int, customer: int, purpose: Purpose, index: int) -> None:
    streams = Streams(seed, 3)
    i64 = np.zeros(kernel.I_SIZE, dtype=np.int64)
    i64[kernel.I_KEYS : kernel.I_KEYS + len(streams.key_table())] = streams.key_table().view(np.int64)
    assert state.uniform(i64, int(purpose), customer, index) == streams.uniform(purpose, customer, index)
    assert state.exponential(i64, int(purpose), customer, index, 2.5) == streams.exponential(
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
    state.new_method(f64, i64, rows_f, rows_i, 0)
    month, year = new_card_expiry(streams, customer, version, now, start)
    assert f64[kernel.S_CARD_EXPIRES] == card_expires_at(month, year, start)
    assert f64[kernel.S_CARD_EMAIL] == float((dt.date(year, month, 1) - start).days)
    assert i64[kernel.S_EVENTS] == 1 and rows_i[kernel.O_EVENT_KIND, 0] == kernel.K_CARD_UPDATED


# ---------------------------------------------------------------------- formulas: compiled == Python

days = st.floats(-2000, 2000, allow_nan=False)
maybe_days = st.one_of(days, st.just(math.nan))
chances = st.floats(0, 1)
statuses = st.sampled_from([formulas.STATUS_CODE[s] for s in SubscriptionStatus])
months = st.tuples(st.integers(1900, 2200), st.integers(1, 12))
start_days = st.integers(-40_000, 60_000)

FORMULA_INPUTS = {
    "payment_failed_email_due": (st.booleans(), st.booleans(), st.booleans()),
    "dunning_ends_at": (days, st.floats(0, 28)),
    "final_notice_due": (st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    "final_notice_at": (days, st.floats(0.01, 60), days),
    "invoice_reminder_at": (days, st.integers(-30, 90).map(float)),
    "trial_reminder_at": (days, days),
    "renewal_reminder_at": (days, days, st.sampled_from([3.0, 7.0, 15.0, 30.0, 45.0, 60.0])),
    "next_confirmation_reminder": (days, st.floats(1 / 24, 30)),
    "before_expiry": (days, days),
    "link_live_until": (st.booleans(), days, days, maybe_days, st.booleans()),
    "status_kills_link": (statuses,),
    "link_is_live": (days, days, statuses, days),
    "act_chance": (chances, chances, st.integers(0, 40)),
    "period_churn_chance": (chances, st.sampled_from([1, 12])),
    "invoice_id": (st.integers(0, 2**31), st.integers(0, 30_000)),
}


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("name", sorted(FORMULA_INPUTS))
def test_compiled_formula_equals_python(name: str) -> None:
    """Each formula, compiled by numba for the kernel, gives the Python function's value bit for bit."""
    python, compiled = getattr(formulas, name), getattr(jit, name)

    @settings(max_examples=300, deadline=None)
    @given(st.tuples(*FORMULA_INPUTS[name]))
    def check(args) -> None:
        assert _same(compiled(*args), python(*args)), args

    check()


def test_every_formula_is_compiled_and_tested() -> None:
    plain = {
        n for n, f in inspect.getmembers(formulas, inspect.isfunction) if f.__module__ == formulas.__name__
    }
    assert plain == set(FORMULA_INPUTS) | {"card_expires_day", "card_expiring_email_day"}
    assert all(hasattr(jit, name) for name in plain)


@settings(max_examples=300, deadline=None)
@given(months, start_days)
def test_compiled_card_days_equal_python(month: tuple[int, int], start_day: int) -> None:
    """R9: a card's last working day and its email day, compiled and in Python, and as dates say."""
    year, m = month
    for name in ("card_expires_day", "card_expiring_email_day"):
        assert getattr(jit, name)(year, m, start_day) == getattr(formulas, name)(year, m, start_day)
    start = EPOCH + dt.timedelta(days=start_day)
    assert formulas.card_expires_day(year, m, start_day) == card_expires_at(m, year, start)
    assert formulas.card_expiring_email_day(year, m, start_day) == (dt.date(year, m, 1) - start).days


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**20), st.integers(0, 30_000), st.sampled_from([64, 100, 1500]))
def test_compiled_draw_index_equals_python(period: int, slot: int, per_period: int) -> None:
    assert jit.draw_index(period, slot, per_period) == slots.draw_index(period, slot, per_period)


def test_fatigue_power_is_the_c_library_pow() -> None:
    """`x ** n` compiles to repeated multiplication under numba; the formulas use `math.pow` on both sides."""
    for fatigue in (0.8, 0.7, 0.93, 0.61):
        for earlier in range(40):
            assert jit.act_chance(0.3, fatigue, earlier) == 0.3 * math.pow(fatigue, earlier)


# ------------------------------------------------------------------------------- process twins


def test_every_simpy_process_has_its_compiled_twin() -> None:
    """The SimPy processes (generator methods of Engine) are exactly the declared list, and each has a
    compiled function of the same name."""
    simpy_side = {name.lstrip("_") for name, f in inspect.getmembers(Engine, inspect.isgeneratorfunction)}
    assert simpy_side == set(kernel.SIMPY_PROCESSES)
    for name in kernel.SIMPY_PROCESSES:
        twin = getattr(lifecycle, name, None) or getattr(processes, name)
        assert hasattr(twin, "py_func"), name  # a compiled function
