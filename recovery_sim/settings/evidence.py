"""The evidence table as the rest of the toolkit uses it: every row checked against the settings it
documents, and the page (docs/assumptions.md) that shows it.

`load_evidence` is what a sensitivity analysis reads: each row's setting exists in the default
scenario, accepts its value, low and high, and its value is the one the default scenario runs with,
so a range tried on a setting is a range of the model actually simulated.
"""

from __future__ import annotations

from pathlib import Path

from recovery_sim.settings.config import Scenario
from recovery_sim.settings.evidence_table import EVIDENCE_FILE, NUMBERS, Evidence, field_lines, read_evidence
from recovery_sim.settings.reading import ConfigError

__all__ = ["Evidence", "assumptions_markdown", "load_evidence"]


def _setting_problems(row: Evidence, scenario: Scenario) -> list[tuple[str, str]]:
    """(field, message) for a row whose setting the scenario lacks, refuses or runs with another value."""
    try:
        current = scenario.setting(row.setting)
    except ConfigError:
        return [("setting", f"{row.setting!r} is not a setting of the default scenario (see with_setting)")]
    problems = []
    for field in NUMBERS:
        number = getattr(row, field)
        try:
            scenario.with_setting(row.setting, number)
        except ConfigError as exc:
            reason = str(exc).rsplit(": ", 1)[-1]
            problems.append((field, f"{row.setting} does not accept {number}: {reason}"))
    if current != row.value:
        problems.append(("value", f"{row.value} is not the default scenario's {row.setting}: {current}"))
    return problems


def load_evidence(path: str | Path = EVIDENCE_FILE) -> tuple[Evidence, ...]:
    """Every behavioural default with its range and source; problems name the file, line and field."""
    path = Path(path)
    rows = read_evidence(path)
    lines = field_lines(path.read_text(encoding="utf-8"))
    scenario = Scenario.default()
    problems = [
        f"{path}:{lines[index].get(field, lines[index][''])}: evidence[{index}].{field}: {message}"
        for index, row in enumerate(rows)
        for field, message in _setting_problems(row, scenario)
    ]
    if problems:
        raise ConfigError("\n".join(problems))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _source_cell(row: Evidence) -> str:
    if row.is_assumption:
        reason = row.source.split(":", 1)[1].strip()
        informed = f" (informed by [{_host(row.link)}]({row.link}))" if row.link else ""
        return f"**assumption**: {_cell(reason)}{informed}"
    return f"[{_cell(row.source)}]({row.link})"


def _host(link: str) -> str:
    return link.split("//", 1)[-1].split("/", 1)[0].removeprefix("www.")


def assumptions_markdown(rows: tuple[Evidence, ...]) -> str:
    """The table as docs/assumptions.md shows it: one line per setting, in the file's order."""
    lines = ["| setting | value | range | unit | meaning | source |", "|---|---|---|---|---|---|"]
    for row in rows:
        cells = [
            f"`{row.setting}`",
            f"{row.value:g}",
            f"{row.low:g} – {row.high:g}",
            _cell(row.unit),
            _cell(row.meaning),
            _source_cell(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
