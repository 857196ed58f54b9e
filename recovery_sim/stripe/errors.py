"""Where a bad value sits in an export, and the one error that names it.

Every reader and check reports through `fail`, so each message has the same form: file, line (JSON
Lines, CSV) or `data[i]` (list page), object id, field, problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recovery_sim.settings.config import ConfigError


class StripeImportError(ConfigError):
    """Bad export data; the message names the file, the line or object id, and the field."""


@dataclass
class Source:
    """One file holding objects of one type, in one format ("jsonl" | "json" | "csv")."""

    path: Path
    kind: str
    fmt: str

    def where(self, row: int) -> str:
        if self.fmt == "jsonl":
            return f"line {_line_of(self.path, row)}"
        if self.fmt == "csv":
            return f"line {row + 2}"
        return f"data[{row}]"


def _line_of(path: Path, row: int) -> int:
    """The 1-based line of the row-th non-blank line (polars skips blank lines in JSON Lines)."""
    seen = -1
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                seen += 1
                if seen == row:
                    return number
    return row + 1


def fail(source: Source, row: int | None, object_id: Any, field_name: str | None, problem: str) -> None:
    where = f"{source.path}"
    if row is not None:
        where += f": {source.where(row)}"
    if object_id:
        where += f" (id {object_id})"
    what = f": field `{field_name}`" if field_name else ""
    raise StripeImportError(f"{where}{what}: {problem}. Nothing was imported or written.")


def describe(value: Any) -> str:
    """A bad value as it appears in a message: its JSON, cut to 40 characters."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
