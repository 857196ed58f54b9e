"""Stripe export files → the simulator's frames (events, invoices, customers, emails), so every metric,
the replay and the calibration run on a real history exactly as on a simulated one.

Reads a folder of list-endpoint JSON pages (`{"object": "list", "data": [...]}`), JSON arrays or JSON Lines,
one file (or several `<type>_*.jsonl` pages) per object type, and/or the Dashboard "Invoices" CSV
(`reading`). Bad input raises `StripeImportError` naming the file, the line or object id and the field
(`integrity`); unknown enum values only add to `ImportedHistory.warnings`. The checked rows are then
mapped (`history`). docs/stripe.md lists every field read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from recovery_sim.stripe.fields import OBJECT_TYPES
from recovery_sim.stripe.history import ImportedHistory, build_history
from recovery_sim.stripe.integrity import Checker
from recovery_sim.stripe.reading import discover, read_kind


def import_stripe(
    path: str | Path,
    *,
    start: dt.date | None = None,
    horizon_months: int | None = None,
    verified_domains: tuple[str, ...] = (),
    team_emails: tuple[str, ...] = (),
) -> ImportedHistory:
    """Read a Stripe export folder (or one file) into an `ImportedHistory`.

    `start` defaults to the UTC date of the first invoice; the horizon runs to the first whole month
    after the last timestamp. `verified_domains`/`team_emails` say which addresses a test account
    may email (R12).
    """
    path = Path(path)
    sources, notes = discover(path)
    tables = {kind: read_kind(sources[kind], kind) for kind in OBJECT_TYPES}
    warnings = Checker(tables, sources).run()
    history = build_history(tables, path, warnings, start, horizon_months, (verified_domains, team_emails))
    history.notes = notes
    return history
