"""docs/stripe.md stays true: it lists every Stripe field and Dashboard CSV column the importer reads."""

from __future__ import annotations

from pathlib import Path

from recovery_sim.stripe.dashboard_csv import CSV_COLUMNS, CSV_REQUIRED
from recovery_sim.stripe.fields import FIELDS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "stripe.md").read_text(encoding="utf-8")


def test_every_field_read_is_documented():
    for kind, fields in FIELDS.items():
        for _, paths, _, required in fields:
            for path in paths:
                mark = f"**`{path}`**" if required and len(paths) == 1 else f"`{path}`"
                assert mark in DOC, (kind, path)


def test_every_csv_column_is_documented():
    for column in CSV_COLUMNS:
        assert f"`{column}`" in DOC, column
    for column in CSV_REQUIRED:
        assert f"| `{column}` |" in DOC and "| yes |" in DOC, column
