"""docs/assumptions.md shows data/evidence.toml as it is. `UPDATE_DOCS=1 pytest
tests/settings/test_assumptions_doc.py` rewrites the doc's generated table."""

from __future__ import annotations

import os
import re
from pathlib import Path

import recovery_sim as rs
from recovery_sim.settings.evidence import assumptions_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "assumptions.md"
BEGIN, END = "<!-- table: generated from data/evidence.toml -->", "<!-- end of table -->"


def test_doc_shows_the_table():
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    assert pattern.search(text), f"{DOC.name} lacks the markers {BEGIN} … {END}"
    fresh = pattern.sub(lambda _: f"{BEGIN}\n{assumptions_markdown(rs.load_evidence())}\n{END}", text)
    if os.environ.get("UPDATE_DOCS") == "1":
        DOC.write_text(fresh, encoding="utf-8")
        text = DOC.read_text(encoding="utf-8")
    assert text == fresh, "docs/assumptions.md is out of date; UPDATE_DOCS=1 rewrites its table"


def test_each_row_shows_its_source_or_says_assumption():
    table = assumptions_markdown(rs.load_evidence())
    for row in rs.load_evidence():
        line = next(line for line in table.splitlines() if line.startswith(f"| `{row.setting}` |"))
        assert f"{row.low:g} – {row.high:g}" in line
        if row.is_assumption:
            assert "**assumption**" in line
        else:
            assert f"]({row.link})" in line and "assumption" not in line.split("|")[-2]
