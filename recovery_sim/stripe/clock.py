"""The imported history's clock: its start date, its horizon, and Unix seconds → days since the start,
as a simulation counts time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from recovery_sim.domain.calendar import add_months

MAX_MONTHS = 60
"""The scenario horizon's limit; a longer history is cut to it, with a warning."""


def epoch_of(day: dt.date) -> int:
    """Unix seconds at 00:00 UTC of `day`."""
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())


@dataclass(frozen=True)
class Clock:
    start: dt.date
    epoch: int
    months: int
    end: float
    """The horizon in days."""

    def days(self, column: str | pl.Expr) -> pl.Expr:
        expr = pl.col(column) if isinstance(column, str) else column
        return (expr - self.epoch) / 86_400.0


def history_clock(
    tables: dict[str, pl.DataFrame],
    start: dt.date | None,
    horizon_months: int | None,
    warn: Callable[[str], None],
) -> Clock:
    """Start at the UTC date of the first invoice (or `start`); run to the first whole month after the
    last timestamp (or for `horizon_months`)."""
    inv = tables["invoices"]
    first = int(inv["created"].min())
    start = start or dt.datetime.fromtimestamp(first, dt.UTC).date()
    stamps = [
        inv["created"].max(),
        inv["paid_at"].max(),
        inv["voided_at"].max(),
        inv["uncollectible_at"].max(),
        tables["charges"]["created"].max(),
        tables["subscriptions"]["canceled_at"].max(),
    ]
    last = max(int(s) for s in stamps if s is not None)
    months = horizon_months or 1
    while horizon_months is None and epoch_of(add_months(start, months)) <= last:
        months += 1
    if months > MAX_MONTHS:
        warn(f"history spans {months} months; the scenario horizon is capped at {MAX_MONTHS} months")
        months = MAX_MONTHS
    return Clock(start, epoch_of(start), months, float((add_months(start, months) - start).days))
