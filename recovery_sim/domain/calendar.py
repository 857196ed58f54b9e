"""Billing-period boundaries in simulation days, computed the same way for one customer or a million.

A subscription renews on its anchor's day of month (clipped to short months), every 1 or 12 months.
Both functions return whole days plus the anchor's fraction of a day, so the scalar and the vectorised
results are identical floats.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np


def boundary(start: dt.date, anchor_day: int, anchor_frac: float, k: int, step_months: int) -> float:
    """The k-th renewal instant after an anchor given as whole day offset and fraction of a day."""
    return whole_days(start, anchor_day, k * step_months) + anchor_frac


@lru_cache(maxsize=1 << 16)
def whole_days(start: dt.date, anchor_day: int, months: int) -> float:
    """Days from `start` to the anchor day moved by `months` (cached: anchors repeat across customers)."""
    anchor_date = start + dt.timedelta(days=anchor_day)
    return float((add_months(anchor_date, months) - start).days)


def boundaries(
    start: dt.date, anchor_day: np.ndarray, anchor_frac: np.ndarray, k: int, step_months: np.ndarray
) -> np.ndarray:
    """`boundary` for arrays of anchors at the same k (vectorised month arithmetic)."""
    start64 = np.datetime64(start, "D")
    anchor = start64 + anchor_day.astype("timedelta64[D]")
    month = anchor.astype("datetime64[M]")
    day_of_month = (anchor - month.astype("datetime64[D]")).astype(np.int64)
    target = month + (k * step_months).astype("timedelta64[M]")
    days_in_month = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    day = np.minimum(day_of_month, days_in_month - 1)
    date = target.astype("datetime64[D]") + day.astype("timedelta64[D]")
    return (date - start64).astype(np.int64).astype(np.float64) + anchor_frac


# Civil-date arithmetic on day counts since 1970-01-01, in plain integer operations so the compiled
# engine runs the very same code (it compiles these with numba) and lands on the same days.


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    year -= 1 if month <= 2 else 0
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01."""
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar month arithmetic, clipping to the month's last day (31 January + 1 month = 28/29 February)."""
    return dt.date(*add_civil_months(day.year, day.month, day.day, months))


def add_civil_months(year: int, month: int, day: int, months: int) -> tuple[int, int, int]:
    """The same day `months` later, clipped to the month, on a (year, month, day)."""
    index = year * 12 + month - 1 + months
    to_year, to_month = index // 12, index % 12 + 1
    next_first = days_from_civil(to_year + (1 if to_month == 12 else 0), to_month % 12 + 1, 1)
    last = next_first - days_from_civil(to_year, to_month, 1)
    return to_year, to_month, min(day, last)
