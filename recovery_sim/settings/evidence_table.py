"""data/evidence.toml read into rows, each row checked on its own: where every behavioural number
of the model comes from, published or assumed, and the range it could plausibly take.

Why a table: a revenue team acts on the model's comparisons, and an unsourced default can decide
a verdict on its own, so each number carries its source (or says it is an assumption, and why its
range is plausible). Behaviour's defaults are read from here, so the table is their one home.
Whether each row's setting exists and accepts its numbers needs the settings models; that check
is `recovery_sim.settings.evidence.load_evidence`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from recovery_sim.resources import DATA_DIR
from recovery_sim.settings.reading import ConfigError, read_toml

EVIDENCE_FILE = DATA_DIR / "evidence.toml"
ASSUMPTION = "assumption:"
"""How a `source` without a published figure begins; the reason for the range follows."""

NUMBERS = ("value", "low", "high")
TEXTS = ("setting", "unit", "meaning", "source")
FIELDS = ("setting", *NUMBERS, "unit", "meaning", "source", "link")
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One behavioural default: its setting path, value, plausible range, and where it comes from."""

    setting: str
    """The dotted path `Scenario.with_setting` takes, e.g. `behaviour.fatigue`, `cohorts.0.trial_share`."""
    value: int | float
    """What the model uses by default (an int for whole-number settings)."""
    low: int | float
    high: int | float
    unit: str
    meaning: str
    source: str
    """A short citation of a published figure, or `assumption: <why this range>`."""
    link: str
    """The published page; for an assumption, what informed it, or empty."""

    @property
    def is_assumption(self) -> bool:
        return self.source.startswith(ASSUMPTION)


def field_lines(text: str) -> list[dict[str, int]]:
    """For each `[[evidence]]` table, the line (1-based) of each of its keys, and of the header as ""."""
    rows: list[dict[str, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped == "[[evidence]]":
            rows.append({"": number})
        elif rows and (key := re.match(r"^([A-Za-z_]+)\s*=", stripped)):
            rows[-1].setdefault(key.group(1), number)
    return rows


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _row_problems(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with one row taken on its own."""
    problems = [(key, f"unknown field; allowed: {', '.join(FIELDS)}") for key in row if key not in FIELDS]
    for key in (*TEXTS, *NUMBERS):
        if key not in row:
            problems.append(("", f"missing field {key!r}"))
    for key in (*TEXTS, "link"):
        if key in row and not (isinstance(row[key], str) and (row[key].strip() or key == "link")):
            problems.append((key, f"must be a non-empty string, got {row[key]!r}"))
    for key in NUMBERS:
        if key in row and not _is_number(row[key]):
            problems.append((key, f"must be a finite number, got {row[key]!r}"))
    if not problems:
        low, value, high = row["low"], row["value"], row["high"]
        if low > high:
            problems.append(("low", f"low {low} is above high {high}"))
        elif not low <= value <= high:
            problems.append(("value", f"value {value} lies outside low..high ({low}..{high})"))
        problems += _source_problems(row["source"], row.get("link", ""))
    return problems


def _source_problems(source: str, link: str) -> list[tuple[str, str]]:
    if link and not _URL.match(link):
        return [("link", f"must be an http(s) URL, got {link!r}")]
    if source.startswith(ASSUMPTION):
        if not source.removeprefix(ASSUMPTION).strip():
            return [("source", "an assumption must say why its range is plausible: 'assumption: <reason>'")]
        return []
    if source.lower().startswith("assumption"):
        return [("source", f"write an assumption as '{ASSUMPTION} <reason>', got {source!r}")]
    if not link:
        return [("link", "a published source needs its link (or write the source as 'assumption: <reason>')")]
    return []


def read_evidence(path: Path = EVIDENCE_FILE) -> tuple[Evidence, ...]:
    """Every row of an evidence file, each checked on its own; problems name the file, line and field."""
    raw = read_toml(path)
    lines = field_lines(path.read_text(encoding="utf-8"))
    unknown = sorted(set(raw) - {"evidence"})
    rows = raw.get("evidence")
    if unknown or not isinstance(rows, list) or not rows or len(rows) != len(lines):
        found = f"other keys {unknown}" if unknown else "no [[evidence]] table headers"
        raise ConfigError(f"{path}: expected only [[evidence]] tables, one per setting; found {found}")
    problems, seen, out = [], {}, []
    for index, row in enumerate(rows):
        at = lines[index]
        found = _row_problems(row)
        setting = row.get("setting")
        if isinstance(setting, str) and setting in seen:
            found.append(("setting", f"{setting!r} already has a row (line {seen[setting]})"))
        elif isinstance(setting, str):
            seen[setting] = at.get("setting", at[""])
        for field, message in found:
            where = f"evidence[{index}].{field}" if field else f"evidence[{index}]"
            problems.append(f"{path}:{at.get(field, at[''])}: {where}: {message}")
        if not found:
            out.append(Evidence(**{key: row.get(key, "") for key in FIELDS}))
    if problems:
        raise ConfigError("\n".join(problems))
    return tuple(out)


@cache
def _shipped_values() -> dict[str, int | float]:
    return {row.setting: row.value for row in read_evidence(EVIDENCE_FILE)}


def shipped_value(setting: str) -> int | float:
    """The shipped table's value for `setting`: where a model default that it documents is read from."""
    values = _shipped_values()
    if setting not in values:
        raise ConfigError(f"{EVIDENCE_FILE}: no row for {setting!r}, whose default is read from this table")
    return values[setting]


def shipped_values_under(prefix: str) -> dict[str, int | float]:
    """The shipped rows whose setting starts with `prefix`, keyed by the rest, in the table's order."""
    values = {k.removeprefix(prefix): v for k, v in _shipped_values().items() if k.startswith(prefix)}
    if not values:
        raise ConfigError(f"{EVIDENCE_FILE}: no rows under {prefix!r}, whose defaults are read from here")
    return values
