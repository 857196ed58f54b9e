"""JSON Lines files and list pages (`{"object": "list", "data": [...]}` or a bare array) → typed rows.

JSON Lines are parsed block by block by polars' NDJSON reader with an explicit schema, so unknown
fields cost nothing and memory stays bounded. Only when polars refuses a block, or reads a value
leniently, are the lines parsed one by one to name the first bad line and field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from recovery_sim.stripe.errors import Source, StripeImportError, describe, fail
from recovery_sim.stripe.fields import row_schema
from recovery_sim.stripe.shapes import ShapeReader

CHUNK_BYTES = 32 * 2**20
"""JSON Lines are parsed in blocks of whole lines this big, so memory stays bounded by the block, not
the file (a memory-mapped gigabyte file would count in full towards the process's resident memory)."""


def _diagnose_objects(source: Source, objects: list[Any], shape: ShapeReader, offset: int = 0) -> None:
    """Find the first object whose fields do not fit the shape and raise with its location."""
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            fail(source, i + offset, None, None, f"expected a JSON object, got {describe(obj)}")
        problem = shape.problem(obj)
        if problem:
            fail(source, i + offset, obj.get("id"), problem[0], problem[1])


def _diagnose_jsonl(source: Source, shape: ShapeReader, original: Exception) -> None:
    row = -1
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            row += 1
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                message = getattr(exc, "msg", str(exc))
                raise StripeImportError(
                    f"{source.path}: line {number}: not valid JSON ({message}). Each line of a JSON Lines "
                    f"file must be one complete Stripe object. Nothing was imported or written."
                ) from None
            _diagnose_objects(source, [obj], shape, offset=row)
    fail(source, None, None, None, f"could not be read ({original})")


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        rest = b""
        while block := handle.read(CHUNK_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut:
                yield block[:cut]
            rest = block[cut:]
        if rest.strip():
            yield rest


def _checked(frame: pl.DataFrame, source: Source, shape: ShapeReader) -> pl.DataFrame:
    """Catch what polars reads leniently: any JSON value read as a string becomes text, so an
    expanded object turns into '{"id": ...}'."""
    text = [c for c, dtype in frame.schema.items() if dtype == pl.String]
    if text and frame.select(pl.any_horizontal(pl.col(text).str.starts_with("{")).any()).item():
        _diagnose_jsonl(source, shape, ValueError("a value of the wrong type"))
    return frame


def read_jsonl(source: Source, shape: ShapeReader) -> pl.DataFrame:
    parts, offset = [], 0
    try:
        for block in _blocks(source.path):
            part = shape.parse(block)
            parts.append(part.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias("_row")))
            offset += part.height
    except pl.exceptions.PolarsError as exc:
        _diagnose_jsonl(source, shape, exc)
        raise  # unreachable: _diagnose_jsonl always raises
    if not parts:
        return pl.DataFrame(schema=row_schema(source.kind))
    frame = pl.concat(parts, rechunk=False)
    return _checked(frame, source, shape).select("_row", pl.exclude("_row"))


def read_json(source: Source, shape: ShapeReader) -> pl.DataFrame:
    """A list page `{"object": "list", "data": [...]}` or a bare JSON array of objects."""
    text = source.path.read_text(encoding="utf-8")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StripeImportError(
            f"{source.path}: line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg}). "
            f"Nothing was imported or written."
        ) from None
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        objects = body["data"]
    elif isinstance(body, list):
        objects = body
    else:
        fail(
            source, None, None, None, 'expected a list page {"object": "list", "data": [...]} or a JSON array'
        )
    _diagnose_objects(source, objects, shape)
    if not objects:
        return pl.DataFrame(schema=row_schema(source.kind))
    data = "\n".join(json.dumps(o) for o in objects).encode()
    frame = shape.parse(data).with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    return _checked(frame, source, shape)
