"""Which file holds which object type, and the reader each format needs → one typed-rows frame per type.

Why one dispatch: a new source (another Dashboard CSV, an API pull) or another object shape is a new
entry in `READERS` or in `SHAPES`, and discovery, checks and mapping stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from recovery_sim.stripe.dashboard_csv import read_csv
from recovery_sim.stripe.errors import Source, StripeImportError
from recovery_sim.stripe.fields import FIELDS, OBJECT_TYPES, row_schema
from recovery_sim.stripe.json_files import read_json, read_jsonl
from recovery_sim.stripe.shapes import ShapeReader

SHAPES = {kind: ShapeReader(fields) for kind, fields in FIELDS.items()}
"""The object shape each type is read with from JSON."""
READERS: dict[str, Callable[[Source], pl.DataFrame]] = {
    "jsonl": lambda source: read_jsonl(source, SHAPES[source.kind]),
    "json": lambda source: read_json(source, SHAPES[source.kind]),
    "csv": read_csv,
}
"""File format → reader of typed rows."""
FORMATS = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "json", "csv": "csv"}
"""File extension → format."""


def discover(path: Path) -> tuple[dict[str, list[Source]], list[str]]:
    """Which file holds which object type: `<type>.jsonl|.ndjson|.json`, `<type>_<page>.…`, `invoices.csv`."""
    notes: list[str] = []
    if not path.exists():
        raise StripeImportError(f"{path}: no such file or folder. Nothing was imported or written.")
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    found: dict[str, list[Source]] = {kind: [] for kind in OBJECT_TYPES}
    csv_sources: list[Source] = []
    for file in files:
        source = _source(file)
        if source is None:
            continue
        if source.fmt == "csv":
            csv_sources.append(source)
        else:
            found[source.kind].append(source)
    if csv_sources and found["invoices"]:
        notes.append(
            f"{csv_sources[0].path.name} ignored: invoices come from {found['invoices'][0].path.name}"
        )
    elif csv_sources:
        found["invoices"] = csv_sources
    if not found["invoices"]:
        raise StripeImportError(
            f"{path}: no invoices found; expected invoices.jsonl, invoices.json (a list page) or "
            f"invoices.csv "
            f"(the Dashboard export) beside customers/subscriptions/charges/payment_methods files. "
            f"Nothing was imported or written."
        )
    return found, notes


def _source(file: Path) -> Source | None:
    """The object type and format a file name says, or None for a file that is not read."""
    name = file.name.lower()
    if name.startswith("."):
        return None
    stem, _, ext = name.partition(".")
    kind = next((k for k in OBJECT_TYPES if stem == k or stem.startswith((k + "_", k + "-"))), None)
    fmt = FORMATS.get(ext)
    if kind is None or fmt is None or (fmt == "csv" and kind != "invoices"):
        return None
    return Source(file, kind, fmt)


def read_kind(sources: list[Source], kind: str) -> pl.DataFrame:
    """Every file of one object type as one frame; `_src` indexes `sources`, `_row` the row in its file."""
    frames = [
        READERS[source.fmt](source).with_columns(pl.lit(n, dtype=pl.Int32).alias("_src"))
        for n, source in enumerate(sources)
    ]
    if not frames:
        return pl.DataFrame(schema=row_schema(kind)).with_columns(pl.lit(0, dtype=pl.Int32).alias("_src"))
    return pl.concat(frames, how="vertical_relaxed")
