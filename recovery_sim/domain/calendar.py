"""Billing-period boundaries in simulation days, computed the same way for one customer or a million.

A subscription renews on its anchor's day of month (clipped to short months), every 1 or 12 months.
Both functions return whole days plus the anchor's fraction of a day, so the scalar and the vectorised
results are identical floats.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np

from recovery_sim.settings.config import add_months


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
