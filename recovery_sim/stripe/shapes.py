"""One object type's field table → how polars parses it, flattens it into typed rows, and what in an
object does not fit.

Why a class per table: the JSON readers only ask a `ShapeReader` to parse lines and to name the first
misfit, so a different object shape (another API version, another object type) is another field table,
or another class with these three methods, and no reader changes.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl

from recovery_sim.stripe.errors import describe
from recovery_sim.stripe.fields import Field

_EXPECTED = {pl.String: "a string", pl.Int64: "an integer", pl.Boolean: "true or false"}


def _split(part: str) -> tuple[str, bool]:
    return (part[:-3], True) if part.endswith("[0]") else (part, False)


def _insert(tree: dict, parts: list[str], dtype: Any) -> None:
    name, is_list = _split(parts[0])
    if len(parts) == 1:
        tree[name] = dtype
        return
    node = tree.setdefault(name, {"list": is_list, "fields": {}})
    _insert(node["fields"], parts[1:], dtype)


def _dtype(node: Any) -> Any:
    if isinstance(node, dict):
        struct = pl.Struct({name: _dtype(child) for name, child in node["fields"].items()})
        return pl.List(struct) if node["list"] else struct
    return node


def _path_expr(path: str, text: set[str]) -> pl.Expr:
    top, _, rest = path.partition(".")
    if top in text:  # `ShapeReader.parse` has already decoded `<top>.data[0]` into the column `<top>`
        path = top + "." + rest.partition(".")[2]
    expr: pl.Expr | None = None
    for part in path.split("."):
        name, is_list = _split(part)
        expr = pl.col(name) if expr is None else expr.struct.field(name)
        if is_list:
            expr = expr.list.first()
    assert expr is not None
    return expr


def _first_element(dtype: pl.Struct) -> Any:
    return next(f.dtype for f in dtype.fields if f.name == "data").inner


class ShapeReader:
    """Parses objects of one shape into typed rows, and finds the first value that does not fit."""

    def __init__(self, fields: list[Field]) -> None:
        self.fields = fields
        tree: dict = {}
        for field in fields:
            for path in field.paths:
                _insert(tree, path.split("."), field.dtype)
        self.schema = pl.Schema({name: _dtype(node) for name, node in tree.items()})
        # Top-level fields holding lists of objects (`items`, `lines`) are read as raw JSON text and
        # picked with JSON paths: polars parses deep lists of objects several times slower than text.
        self.text = {_split(p.split(".")[0])[0] for f in fields for p in f.paths if "[0]" in p}
        self.read_schema = pl.Schema(
            {k: (pl.String if k in self.text else v) for k, v in self.schema.items()}
        )
        self.flatten = [self._column(f) for f in fields]
        self._struct = pl.Struct(self.schema)

    def _column(self, field: Field) -> pl.Expr:
        exprs = [_path_expr(p, self.text) for p in field.paths]
        return (exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)).alias(field.column)

    def parse(self, data: bytes) -> pl.DataFrame:
        """Whole JSON lines → typed rows; a list-holding field's first element is decoded on its own."""
        frame = pl.read_ndjson(io.BytesIO(data), schema=self.read_schema)
        firsts = [
            pl.col(top)
            .str.json_path_match("$.data[0]")
            .str.json_decode(_first_element(self.schema[top]))
            .alias(top)
            for top in self.text
        ]
        return frame.with_columns(firsts).select(self.flatten)

    def problem(self, obj: dict) -> tuple[str, str] | None:
        """(field path, problem) for the first value of `obj` that does not fit the schema, or None."""
        return _type_problem(obj, self._struct, "")


def _type_problem(value: Any, dtype: Any, path: str) -> tuple[str, str] | None:
    if value is None:
        return None
    if isinstance(dtype, pl.Struct):
        return _struct_problem(value, dtype, path)
    if isinstance(dtype, pl.List):
        return _list_problem(value, dtype, path)
    return _scalar_problem(value, dtype, path)


def _struct_problem(value: Any, dtype: pl.Struct, path: str) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return path, f"expected an object, got {describe(value)}"
    for f in dtype.fields:
        problem = _type_problem(value.get(f.name), f.dtype, f"{path}.{f.name}" if path else f.name)
        if problem:
            return problem
    return None


def _list_problem(value: Any, dtype: pl.List, path: str) -> tuple[str, str] | None:
    if not isinstance(value, list):
        return path, f"expected a list, got {describe(value)}"
    for i, item in enumerate(value[:1] if isinstance(dtype.inner, pl.Struct) else value):
        problem = _type_problem(item, dtype.inner, f"{path}[{i}]")
        if problem:
            return problem
    return None


def _scalar_problem(value: Any, dtype: Any, path: str) -> tuple[str, str] | None:
    ok = {
        pl.String: isinstance(value, str),
        pl.Int64: isinstance(value, int) and not isinstance(value, bool),
        pl.Boolean: isinstance(value, bool),
    }[dtype.base_type() if hasattr(dtype, "base_type") else dtype]
    if ok:
        return None
    hint = " (an expanded object? export ids, not expanded objects)" if isinstance(value, dict) else ""
    return path, f"expected {_EXPECTED[dtype]}, got {describe(value)}{hint}"
