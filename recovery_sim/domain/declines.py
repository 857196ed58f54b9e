"""The decline-code table (data/decline_codes.csv): which codes are hard, how often, how retries fare."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from recovery_sim.resources import DATA_DIR


@dataclass(frozen=True, slots=True)
class DeclineCode:
    """One row of data/decline_codes.csv."""

    code: str
    hard: bool
    share: float
    retry_success: float
    source: str


@cache
def decline_codes() -> tuple[DeclineCode, ...]:
    """The decline-code table, in file order (that order is the code's integer id)."""
    path = DATA_DIR / "decline_codes.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return tuple(
        DeclineCode(
            code=row["code"],
            hard=row["kind"] == "hard",
            share=float(row["share"]),
            retry_success=float(row["retry_success"]),
            source=row["source"],
        )
        for row in rows
    )


def decline_code_names() -> list[str]:
    return [d.code for d in decline_codes()]


EXPIRED_CARD = "expired_card"
NO_DECLINE = ""
