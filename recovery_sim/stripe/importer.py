"""Stripe export files → the simulator's frames (events, invoices, customers, emails), so every metric,
the replay and the calibration run on a real history exactly as on a simulated one.

Reads a folder of list-endpoint JSON pages (`{"object": "list", "data": [...]}`), JSON arrays or JSON Lines,
one file (or several `<type>_*.jsonl` pages) per object type, and/or the Dashboard "Invoices" CSV.
JSON Lines are parsed block by block by polars' NDJSON reader with an explicit schema, so unknown
fields cost nothing and memory stays bounded. Bad input raises `StripeImportError` naming the file, the
line or object id and the field; unknown enum values only add to `ImportedHistory.warnings`.
docs/stripe.md lists every field read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl
from babel.numbers import get_currency_name, get_currency_precision

from recovery_sim.domain.declines import decline_code_names
from recovery_sim.domain.enums import CollectionMethod, InvoiceStatus, SubscriptionStatus
from recovery_sim.settings.config import SUPPORTED_LOCALES, ConfigError, Policy, add_months
from recovery_sim.simulation.events import (
    ActorEnum,
    DeclineEnum,
    EmailTypeEnum,
    EventKindEnum,
    InvoiceStatusEnum,
)

OBJECT_TYPES = ("customers", "subscriptions", "invoices", "charges", "payment_methods")
AUTHENTICATION_REQUIRED = "authentication_required"
TRIAL_INVOICE_TOLERANCE_S = 3600
"""The first invoice after a trial is created at `trial_end`; an hour's slack covers Stripe's finalisation."""


class StripeImportError(ConfigError):
    """Bad export data; the message names the file, the line or object id, and the field."""


# ------------------------------------------------------------------------------------- fields read

STR, INT, BOOL = pl.String, pl.Int64, pl.Boolean
FIELDS: dict[str, list[tuple[str, tuple[str, ...], Any, bool]]] = {
    # flat column, Stripe paths (first non-null wins; `[0]` = first list element), dtype, required
    "customers": [
        ("id", ("id",), STR, True),
        ("created", ("created",), INT, False),
        ("email", ("email",), STR, False),
        ("currency", ("currency",), STR, False),
        ("country", ("address.country",), STR, False),
        ("locales", ("preferred_locales",), pl.List(STR), False),
        ("default_pm", ("invoice_settings.default_payment_method",), STR, False),
        ("timezone", ("metadata.timezone",), STR, False),
        ("livemode", ("livemode",), BOOL, False),
    ],
    "subscriptions": [
        ("id", ("id",), STR, True),
        ("customer", ("customer",), STR, True),
        ("status", ("status",), STR, True),
        ("collection_method", ("collection_method",), STR, False),
        ("created", ("created",), INT, False),
        ("start_date", ("start_date",), INT, False),
        ("trial_start", ("trial_start",), INT, False),
        ("trial_end", ("trial_end",), INT, False),
        ("current_period_start", ("current_period_start", "items.data[0].current_period_start"), INT, False),
        ("current_period_end", ("current_period_end", "items.data[0].current_period_end"), INT, False),
        ("cancel_at_period_end", ("cancel_at_period_end",), BOOL, False),
        ("canceled_at", ("canceled_at",), INT, False),
        ("ended_at", ("ended_at",), INT, False),
        ("cancel_reason", ("cancellation_details.reason",), STR, False),
        ("days_until_due", ("days_until_due",), INT, False),
        ("price_id", ("items.data[0].price.id",), STR, False),
        ("plan", ("items.data[0].price.nickname",), STR, False),
        ("unit_amount", ("items.data[0].price.unit_amount",), INT, True),
        ("price_currency", ("items.data[0].price.currency",), STR, True),
        ("interval", ("items.data[0].price.recurring.interval",), STR, True),
        ("interval_count", ("items.data[0].price.recurring.interval_count",), INT, False),
        ("livemode", ("livemode",), BOOL, False),
    ],
    "invoices": [
        ("id", ("id",), STR, True),
        ("customer", ("customer",), STR, True),
        ("subscription", ("subscription", "parent.subscription_details.subscription"), STR, False),
        ("status", ("status",), STR, True),
        ("amount_due", ("amount_due",), INT, True),
        ("amount_paid", ("amount_paid",), INT, False),
        ("currency", ("currency",), STR, True),
        ("collection_method", ("collection_method",), STR, False),
        ("billing_reason", ("billing_reason",), STR, False),
        ("attempt_count", ("attempt_count",), INT, False),
        ("next_payment_attempt", ("next_payment_attempt",), INT, False),
        ("due_date", ("due_date",), INT, False),
        ("created", ("created",), INT, True),
        ("period_start", ("period_start",), INT, False),
        ("period_end", ("period_end",), INT, False),
        ("line_start", ("lines.data[0].period.start",), INT, False),
        ("line_end", ("lines.data[0].period.end",), INT, False),
        ("finalized_at", ("status_transitions.finalized_at",), INT, False),
        ("paid_at", ("status_transitions.paid_at",), INT, False),
        ("voided_at", ("status_transitions.voided_at",), INT, False),
        ("uncollectible_at", ("status_transitions.marked_uncollectible_at",), INT, False),
        ("livemode", ("livemode",), BOOL, False),
    ],
    "charges": [
        ("id", ("id",), STR, True),
        ("customer", ("customer",), STR, False),
        ("invoice", ("invoice",), STR, False),
        ("amount", ("amount",), INT, True),
        ("currency", ("currency",), STR, True),
        ("status", ("status",), STR, True),
        ("failure_code", ("failure_code",), STR, False),
        ("outcome_type", ("outcome.type",), STR, False),
        ("outcome_reason", ("outcome.reason",), STR, False),
        ("created", ("created",), INT, True),
        ("payment_method", ("payment_method",), STR, False),
        ("method_type", ("payment_method_details.type",), STR, False),
        ("livemode", ("livemode",), BOOL, False),
    ],
    "payment_methods": [
        ("id", ("id",), STR, True),
        ("type", ("type",), STR, True),
        ("customer", ("customer",), STR, False),
        ("created", ("created",), INT, False),
        ("exp_month", ("card.exp_month",), INT, False),
        ("exp_year", ("card.exp_year",), INT, False),
        ("livemode", ("livemode",), BOOL, False),
    ],
}

CSV_COLUMNS = {
    "id": "id",
    "Customer": "customer",
    "Subscription": "subscription",
    "Status": "status",
    "Amount Due": "amount_due",
    "Amount Paid": "amount_paid",
    "Currency": "currency",
    "Date (UTC)": "created",
    "Attempt Count": "attempt_count",
    "Billing": "collection_method",
    "Billing Reason": "billing_reason",
    "Due Date (UTC)": "due_date",
    "Paid At (UTC)": "paid_at",
    "Finalized At (UTC)": "finalized_at",
    "Period Start (UTC)": "period_start",
    "Period End (UTC)": "period_end",
}
"""Dashboard "Invoices" CSV column → invoice field. Amounts are decimal major units; times UTC."""
CSV_REQUIRED = ("id", "Customer", "Status", "Amount Due", "Currency", "Date (UTC)")
CSV_AMOUNTS = ("Amount Due", "Amount Paid")
CSV_TIMES = (
    "Date (UTC)",
    "Due Date (UTC)",
    "Paid At (UTC)",
    "Finalized At (UTC)",
    "Period Start (UTC)",
    "Period End (UTC)",
)

ENUMS = {
    ("subscriptions", "status"): [s.value for s in SubscriptionStatus],
    ("subscriptions", "collection_method"): [c.value for c in CollectionMethod],
    ("subscriptions", "interval"): ["month", "year", "week", "day"],
    ("subscriptions", "cancel_reason"): ["cancellation_requested", "payment_disputed", "payment_failed"],
    ("invoices", "status"): [s.value for s in InvoiceStatus],
    ("invoices", "collection_method"): [c.value for c in CollectionMethod],
    ("invoices", "billing_reason"): [
        "automatic_pending_invoice_item_invoice",
        "manual",
        "quote_accept",
        "subscription",
        "subscription_create",
        "subscription_cycle",
        "subscription_threshold",
        "subscription_update",
        "upcoming",
    ],
    ("charges", "status"): ["succeeded", "pending", "failed"],
    ("charges", "outcome_type"): ["authorized", "manual_review", "issuer_declined", "blocked", "invalid"],
    ("payment_methods", "type"): ["card", "sepa_debit", "boleto"],
}
"""Known values; anything else is reported in the warnings and handled as the docs say."""


# -------------------------------------------------------------------------------- schema plumbing


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


def schema_for(kind: str) -> pl.Schema:
    """The nested polars schema of the fields read from one object type (everything else is skipped)."""
    tree: dict = {}
    for _, paths, dtype, _ in FIELDS[kind]:
        for path in paths:
            _insert(tree, path.split("."), dtype)
    return pl.Schema({name: _dtype(node) for name, node in tree.items()})


def _text_fields(kind: str) -> set[str]:
    """Top-level fields holding lists of objects (`items`, `lines`): read as raw JSON text and picked with
    JSON paths, because polars parses deep lists of objects several times slower than plain text."""
    return {_split(p.split(".")[0])[0] for _, paths, _, _ in FIELDS[kind] for p in paths if "[0]" in p}


def read_schema(kind: str) -> pl.Schema:
    """`schema_for` with the list-holding fields as text (see `_text_fields`)."""
    text = _text_fields(kind)
    return pl.Schema({k: (pl.String if k in text else v) for k, v in schema_for(kind).items()})


def _path_expr(path: str, text: set[str]) -> pl.Expr:
    top, _, rest = path.partition(".")
    if top in text:  # `_parse_ndjson` has already decoded `<top>.data[0]` into the column `<top>`
        path = top + "." + rest.partition(".")[2]
    expr: pl.Expr | None = None
    for part in path.split("."):
        name, is_list = _split(part)
        expr = pl.col(name) if expr is None else expr.struct.field(name)
        if is_list:
            expr = expr.list.first()
    assert expr is not None
    return expr


def _flatten(kind: str) -> list[pl.Expr]:
    text = _text_fields(kind)
    out = []
    for flat, paths, _, _ in FIELDS[kind]:
        exprs = [_path_expr(p, text) for p in paths]
        out.append((exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)).alias(flat))
    return out


def _describe(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


_EXPECTED = {pl.String: "a string", pl.Int64: "an integer", pl.Boolean: "true or false"}


def _type_problem(value: Any, dtype: Any, path: str) -> tuple[str, str] | None:
    """(field path, problem) for the first value that does not fit the schema, or None."""
    if value is None:
        return None
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return path, f"expected an object, got {_describe(value)}"
        for f in dtype.fields:
            problem = _type_problem(value.get(f.name), f.dtype, f"{path}.{f.name}" if path else f.name)
            if problem:
                return problem
        return None
    if isinstance(dtype, pl.List):
        if not isinstance(value, list):
            return path, f"expected a list, got {_describe(value)}"
        for i, item in enumerate(value[:1] if isinstance(dtype.inner, pl.Struct) else value):
            problem = _type_problem(item, dtype.inner, f"{path}[{i}]")
            if problem:
                return problem
        return None
    ok = {
        pl.String: isinstance(value, str),
        pl.Int64: isinstance(value, int) and not isinstance(value, bool),
        pl.Boolean: isinstance(value, bool),
    }[dtype.base_type() if hasattr(dtype, "base_type") else dtype]
    if ok:
        return None
    hint = " (an expanded object? export ids, not expanded objects)" if isinstance(value, dict) else ""
    return path, f"expected {_EXPECTED[dtype]}, got {_describe(value)}{hint}"


# ---------------------------------------------------------------------------------------- reading


@dataclass
class _Source:
    path: Path
    kind: str
    fmt: str  # "jsonl" | "json" | "csv"

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


def _fail(source: _Source, row: int | None, object_id: Any, field_name: str | None, problem: str) -> None:
    where = f"{source.path}"
    if row is not None:
        where += f": {source.where(row)}"
    if object_id:
        where += f" (id {object_id})"
    what = f": field `{field_name}`" if field_name else ""
    raise StripeImportError(f"{where}{what}: {problem}. Nothing was imported or written.")


def _diagnose_objects(source: _Source, objects: list[Any], schema: pl.Schema, offset: int = 0) -> None:
    """Find the first object whose fields do not fit the schema and raise with its location."""
    struct = pl.Struct(schema)
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            _fail(source, i + offset, None, None, f"expected a JSON object, got {_describe(obj)}")
        problem = _type_problem(obj, struct, "")
        if problem:
            _fail(source, i + offset, obj.get("id"), problem[0], problem[1])


def _diagnose_jsonl(source: _Source, schema: pl.Schema, original: Exception) -> None:
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
            _diagnose_objects(source, [obj], schema, offset=row)
    _fail(source, None, None, None, f"could not be read ({original})")


CHUNK_BYTES = 32 * 2**20
"""JSON Lines are parsed in blocks of whole lines this big, so memory stays bounded by the block, not
the file (a memory-mapped gigabyte file would count in full towards the process's resident memory)."""


def _blocks(path: Path):
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


def _first_element(dtype: pl.Struct) -> Any:
    return next(f.dtype for f in dtype.fields if f.name == "data").inner


def _parse_ndjson(data: bytes, kind: str) -> pl.DataFrame:
    """Parse whole lines; a list-holding field's first element is cut out as text and decoded alone."""
    schema = schema_for(kind)
    frame = pl.read_ndjson(io.BytesIO(data), schema=read_schema(kind))
    firsts = [
        pl.col(top).str.json_path_match("$.data[0]").str.json_decode(_first_element(schema[top])).alias(top)
        for top in _text_fields(kind)
    ]
    return frame.with_columns(firsts).select(_flatten(kind))


def _checked(frame: pl.DataFrame, source: _Source, schema: pl.Schema) -> pl.DataFrame:
    """Catch what polars reads leniently: any JSON value read as a string becomes text, so an
    expanded object turns into '{"id": ...}'."""
    text = [c for c, dtype in frame.schema.items() if dtype == pl.String]
    if text and frame.select(pl.any_horizontal(pl.col(text).str.starts_with("{")).any()).item():
        _diagnose_jsonl(source, schema, ValueError("a value of the wrong type"))
    return frame


def _read_jsonl(source: _Source) -> pl.DataFrame:
    schema = schema_for(source.kind)
    parts, offset = [], 0
    try:
        for block in _blocks(source.path):
            part = _parse_ndjson(block, source.kind)
            parts.append(part.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias("_row")))
            offset += part.height
    except pl.exceptions.PolarsError as exc:
        _diagnose_jsonl(source, schema, exc)
        raise  # unreachable: _diagnose_jsonl always raises
    if not parts:
        return _empty(source.kind)
    frame = pl.concat(parts, rechunk=False)
    return _checked(frame, source, schema).select("_row", pl.exclude("_row"))


def _empty(kind: str) -> pl.DataFrame:
    return pl.DataFrame(schema={"_row": pl.Int64, **{flat: dtype for flat, _, dtype, _ in FIELDS[kind]}})


def _read_json(source: _Source) -> pl.DataFrame:
    """A list page `{"object": "list", "data": [...]}` or a bare JSON array of objects."""
    schema = schema_for(source.kind)
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
        _fail(
            source, None, None, None, 'expected a list page {"object": "list", "data": [...]} or a JSON array'
        )
    _diagnose_objects(source, objects, schema)
    if not objects:
        return _empty(source.kind)
    data = "\n".join(json.dumps(o) for o in objects).encode()
    frame = (
        _parse_ndjson(data, source.kind).with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    )
    return _checked(frame, source, schema)


def _read_csv(source: _Source) -> pl.DataFrame:
    """The Dashboard invoices CSV: check the header, convert major units and UTC times."""
    try:
        frame = pl.read_csv(source.path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        _fail(source, None, None, None, f"is not a readable CSV file ({str(exc).splitlines()[0]})")
    missing = [c for c in CSV_REQUIRED if c not in frame.columns]
    if missing:
        optional = ", ".join(c for c in CSV_COLUMNS if c not in CSV_REQUIRED)
        found = ", ".join(frame.columns[:8]) + (" ..." if len(frame.columns) > 8 else "")
        names = ", ".join(f"`{c}`" for c in missing)
        raise StripeImportError(
            f"{source.path}: line 1 (header): missing column(s) {names}. A Dashboard invoices export needs "
            f"at least {', '.join(CSV_REQUIRED)} and may add {optional} (docs/stripe.md); found {found}. "
            f"Nothing was imported or written."
        )
    frame = frame.with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    frame = frame.with_columns(pl.col(c).replace("", None) for c in frame.columns if c != "_row")
    for column in CSV_TIMES:
        if column in frame.columns:
            frame = frame.with_columns(_csv_time(frame, column, source).alias(column))
    for column in CSV_AMOUNTS:
        if column in frame.columns:
            frame = frame.with_columns(_csv_amount(frame, column, source).alias(column))
    if "Attempt Count" in frame.columns:
        bad = frame.filter(
            pl.col("Attempt Count").is_not_null() & ~pl.col("Attempt Count").str.contains(r"^\d+$")
        )
        if bad.height:
            _fail(
                source,
                bad["_row"][0],
                bad["id"][0],
                "Attempt Count",
                f"expected a whole number, got {bad['Attempt Count'][0]!r}",
            )
        frame = frame.with_columns(pl.col("Attempt Count").cast(pl.Int64))
    select = [pl.col("_row")]
    for flat, _, dtype, _ in FIELDS["invoices"]:
        column = next((c for c, f in CSV_COLUMNS.items() if f == flat and c in frame.columns), None)
        expr = pl.col(column) if column else pl.lit(None)
        select.append(expr.cast(dtype).alias(flat))
    return frame.select(select).with_columns(
        pl.col("status").str.to_lowercase(), pl.col("currency").str.to_lowercase()
    )


def _csv_time(frame: pl.DataFrame, column: str, source: _Source) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    parsed = pl.coalesce(
        text.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="us")
        for fmt in (
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M:%SZ",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d",
        )
    )
    bad = frame.filter(pl.col(column).is_not_null() & parsed.is_null())
    if bad.height:
        _fail(
            source,
            bad["_row"][0],
            bad["id"][0],
            column,
            f"expected a UTC time like 2026-01-31 12:00:00, got {bad[column][0]!r}",
        )
    return parsed.dt.epoch("s")


def _csv_amount(frame: pl.DataFrame, column: str, source: _Source) -> pl.Expr:
    pairs = frame.select(pl.col(column), pl.col("Currency").str.to_uppercase().alias("cur"), "_row", "id")
    pairs = pairs.filter(pl.col(column).is_not_null()).unique([column, "cur"], keep="first")
    minor: dict[tuple[str, str], int] = {}
    for text, currency, row, object_id in pairs.iter_rows():
        digits = _precision(currency or "")
        try:
            value = Decimal(text.replace(",", ""))
        except InvalidOperation:
            _fail(source, row, object_id, column, f"expected an amount like 49.00, got {text!r}")
        scaled = value * (10**digits)
        if digits is None or scaled != scaled.to_integral_value():
            _fail(
                source,
                row,
                object_id,
                column,
                f"{text!r} has more decimals than {currency} allows (Dashboard amounts are major units)",
            )
        minor[(text, currency)] = int(scaled)
    keys = pl.concat_str(pl.col(column), pl.lit("\x00"), pl.col("Currency").str.to_uppercase())
    mapping = {f"{t}\x00{c}": v for (t, c), v in minor.items()}
    return keys.replace_strict(mapping, default=None, return_dtype=pl.Int64)


def _precision(currency: str) -> int:
    try:
        return get_currency_precision(currency.upper())
    except Exception:  # babel: unknown code; reported by the currency check
        return 2


def _discover(path: Path) -> tuple[dict[str, list[_Source]], list[str]]:
    """Which file holds which object type: `<type>.jsonl|.ndjson|.json`, `<type>_<page>.…`, `invoices.csv`."""
    notes: list[str] = []
    if not path.exists():
        raise StripeImportError(f"{path}: no such file or folder. Nothing was imported or written.")
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    found: dict[str, list[_Source]] = {kind: [] for kind in OBJECT_TYPES}
    csv_sources: list[_Source] = []
    for file in files:
        name = file.name.lower()
        if name.startswith("."):
            continue
        stem, _, ext = name.partition(".")
        kind = next((k for k in OBJECT_TYPES if stem == k or stem.startswith((k + "_", k + "-"))), None)
        if kind is None:
            continue
        fmt = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "json", "csv": "csv"}.get(ext)
        if fmt == "csv" and kind == "invoices":
            csv_sources.append(_Source(file, kind, fmt))
        elif fmt in ("jsonl", "json"):
            found[kind].append(_Source(file, kind, fmt))
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


def _read_kind(sources: list[_Source], kind: str) -> pl.DataFrame:
    frames = []
    for n, source in enumerate(sources):
        reader = {"jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv}[source.fmt]
        frames.append(reader(source).with_columns(pl.lit(n, dtype=pl.Int32).alias("_src")))
    if not frames:
        return _empty(kind).with_columns(pl.lit(0, dtype=pl.Int32).alias("_src"))
    return pl.concat(frames, how="vertical_relaxed")


# ------------------------------------------------------------------------------------- validation


class _Checker:
    """Validation over the flat frames: errors raise at once, unknown values collect as warnings."""

    def __init__(self, tables: dict[str, pl.DataFrame], sources: dict[str, list[_Source]]) -> None:
        self.tables = tables
        self.sources = sources
        self.warnings: list[str] = []

    def fail_row(self, kind: str, row: dict, field_name: str | None, problem: str) -> None:
        _fail(self.sources[kind][row["_src"]], row["_row"], row.get("id"), field_name, problem)

    def label(self, kind: str, row: dict) -> str:
        source = self.sources[kind][row["_src"]]
        return f"{source.path.name} {source.where(row['_row'])} (id {row.get('id')})"

    def required(self) -> None:
        for kind, frame in self.tables.items():
            csv = bool(self.sources[kind]) and self.sources[kind][0].fmt == "csv"
            for flat, paths, _, required in FIELDS[kind]:
                if not required or (csv and flat not in CSV_COLUMNS.values()):
                    continue
                missing = frame.filter(pl.col(flat).is_null())
                if missing.height:
                    more = f" ({missing.height - 1} more objects lack it too)" if missing.height > 1 else ""
                    name = next(c for c, f in CSV_COLUMNS.items() if f == flat) if csv else " or ".join(paths)
                    self.fail_row(kind, missing.row(0, named=True), name, f"required field is missing{more}")

    def unique_ids(self) -> None:
        for kind, frame in self.tables.items():
            dup = frame.filter(pl.col("id").is_duplicated()).sort("id", "_src", "_row")
            if dup.height:
                first, second = dup.row(0, named=True), dup.row(1, named=True)
                self.fail_row(
                    kind,
                    second,
                    "id",
                    f"duplicate id {second['id']!r}, already at {self.label(kind, first)}; "
                    f"export each object once",
                )

    def currencies(self) -> None:
        for kind, column in (
            ("customers", "currency"),
            ("subscriptions", "price_currency"),
            ("invoices", "currency"),
            ("charges", "currency"),
        ):
            frame = self.tables[kind]
            for code in frame[column].drop_nulls().unique().to_list():
                if not _known_currency(code):
                    row = frame.filter(pl.col(column) == code).row(0, named=True)
                    path = next(p for f, p, _, _ in FIELDS[kind] if f == column)[0]
                    self.fail_row(kind, row, path, f"unknown ISO 4217 currency {code!r}")

    def one_currency_per_customer(self) -> None:
        """Stripe bills a customer in one currency; a mix means ids from two accounts or a broken export."""
        sources = (
            ("customers", "id", "currency"),
            ("subscriptions", "customer", "price_currency"),
            ("invoices", "customer", "currency"),
            ("charges", "customer", "currency"),
        )
        pairs = pl.concat(
            [
                self.tables[kind]
                .select(pl.col(who).alias("who"), pl.col(column).str.to_uppercase().alias("cur"))
                .drop_nulls()
                .unique()
                for kind, who, column in sources
            ]
        )
        mixed = pairs.group_by("who").agg(pl.col("cur").n_unique().alias("n")).filter(pl.col("n") > 1)
        if not mixed.height:
            return
        who = sorted(mixed["who"].to_list())[0]
        long = pl.concat(
            [
                self.tables[kind]
                .filter(pl.col(who_col) == who)
                .select(
                    pl.col(who_col).alias("who"),
                    pl.col(column).str.to_uppercase().alias("cur"),
                    "id",
                    "_src",
                    "_row",
                    pl.lit(kind).alias("kind"),
                    pl.lit(column).alias("column"),
                )
                .drop_nulls("cur")
                for kind, who_col, column in sources
            ]
        )
        rows = long.filter(pl.col("who") == who).unique("cur", keep="first", maintain_order=True)
        a, b = rows.row(0, named=True), rows.row(1, named=True)
        path_b = next(p for f, p, _, _ in FIELDS[b["kind"]] if f == b["column"])[0]
        self.fail_row(
            b["kind"],
            b,
            path_b,
            f"{b['cur'].lower()!r} but {self.label(a['kind'], a)} bills customer {who} in "
            f"{a['cur'].lower()!r}: inconsistent currencies for one customer "
            f"({mixed.height} customer(s) affected)",
        )

    def enums(self) -> None:
        for (kind, column), allowed in ENUMS.items():
            frame = self.tables[kind]
            odd = frame.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(allowed))
            if odd.height:
                values = sorted(odd[column].unique().to_list())[:5]
                self.warnings.append(
                    f"{kind}.{column}: {odd.height} object(s) with unknown value(s) {values} "
                    f"(first: {self.label(kind, odd.row(0, named=True))}); {_CONSEQUENCE[(kind, column)]}"
                )


_CONSEQUENCE = {
    ("subscriptions", "status"): "kept as the customer's final status, ignored by churn metrics",
    ("subscriptions", "collection_method"): "treated as charge_automatically",
    ("subscriptions", "interval"): "kept; calibration skips plans that are not monthly or yearly",
    ("subscriptions", "cancel_reason"): "cancellation counted as voluntary",
    ("invoices", "status"): "those invoices are left out",
    ("invoices", "collection_method"): "treated as charge_automatically",
    ("invoices", "billing_reason"): "treated as a renewal (subscription_cycle)",
    ("charges", "status"): "those charges are left out",
    ("charges", "outcome_type"): "ignored (status decides)",
    (
        "payment_methods",
        "type",
    ): "kept; such customers get no card emails and are left out of the payment mix",
}


def _known_currency(code: str) -> bool:
    upper = code.upper()
    if len(upper) != 3:
        return False
    try:
        return get_currency_name(upper, locale="en") != upper
    except Exception:  # babel raises for malformed codes
        return False


# ---------------------------------------------------------------------------------------- history


@dataclass
class ImportedHistory:
    """A Stripe history in the simulator's frames, plus the Stripe detail the replay and calibration need.

    `events`, `invoices`, `customers` and `emails` have the simulator's columns and dtypes, so
    `metrics.summary(history)` works unchanged (`emails` is empty: Stripe exports no sent emails).
    Times are days since `start_date` 00:00 UTC, as in a simulation.
    """

    events: pl.DataFrame
    emails: pl.DataFrame
    invoices: pl.DataFrame
    customers: pl.DataFrame
    subscriptions: pl.DataFrame
    invoice_details: pl.DataFrame
    charges: pl.DataFrame
    payment_methods: pl.DataFrame
    start_date: dt.date
    horizon_months: int
    test_mode: bool
    source: Path
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    policy: Policy = field(
        default_factory=lambda: Policy(name="history", description="observed Stripe history")
    )
    seed: int | None = None
    replication: int = 0

    @property
    def horizon_days(self) -> float:
        return float((add_months(self.start_date, self.horizon_months) - self.start_date).days)

    @cached_property
    def scenario(self):
        """What is knowable as a Scenario: the calibrated one (calibrate.fit) for this history."""
        from recovery_sim.stripe.calibrate import (
            fit,  # the calibration reads ImportedHistory; import here to avoid a cycle,
        )

        return fit(self).scenario


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
    sources, notes = _discover(path)
    tables = {kind: _read_kind(sources[kind], kind) for kind in OBJECT_TYPES}
    checker = _Checker(tables, sources)
    checker.required()
    checker.unique_ids()
    checker.currencies()
    checker.one_currency_per_customer()
    checker.enums()
    history = _Builder(
        tables, path, checker.warnings, start, horizon_months, verified_domains, team_emails
    ).build()
    history.notes = notes
    return history


# ------------------------------------------------------------------------------------------ mapping

_DECLINES = set(decline_code_names())


def _lower(column: str) -> pl.Expr:
    return pl.col(column).str.to_lowercase()


class _Builder:
    """Flat Stripe frames → the simulator's frames. Each step is a polars expression over whole columns."""

    def __init__(self, tables, path, warnings, start, horizon_months, verified_domains, team_emails) -> None:
        self.t = tables
        self.path = path
        self.warnings = warnings
        self.start_override = start
        self.horizon_override = horizon_months
        self.verified = tuple(d.lower().lstrip("@") for d in verified_domains)
        self.team = tuple(e.lower() for e in team_emails)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    # ---------------------------------------------------------------------------------- the clock

    def _clock(self) -> None:
        inv = self.t["invoices"]
        first = int(inv["created"].min())
        start = self.start_override or dt.datetime.fromtimestamp(first, dt.UTC).date()
        self.start = start
        self.epoch = int(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC).timestamp())
        stamps = [
            inv["created"].max(),
            inv["paid_at"].max(),
            inv["voided_at"].max(),
            inv["uncollectible_at"].max(),
            self.t["charges"]["created"].max(),
            self.t["subscriptions"]["canceled_at"].max(),
        ]
        last = max(int(s) for s in stamps if s is not None)
        months = self.horizon_override or 1
        while self.horizon_override is None and self._epoch_of(add_months(start, months)) <= last:
            months += 1
        if months > 60:
            self.warn(f"history spans {months} months; the scenario horizon is capped at 60 months")
            months = 60
        self.months = months
        self.end = float((add_months(start, months) - start).days)

    def _epoch_of(self, day: dt.date) -> int:
        return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())

    def days(self, column: str | pl.Expr) -> pl.Expr:
        expr = pl.col(column) if isinstance(column, str) else column
        return (expr - self.epoch) / 86_400.0

    # ------------------------------------------------------------------------------------- build

    def build(self) -> ImportedHistory:
        self._clock()
        livemode = pl.concat([self.t[k].select("livemode") for k in OBJECT_TYPES])["livemode"].drop_nulls()
        subs = self._subscriptions()
        customers = self._customer_ids(subs)
        pms = self._payment_methods(customers)
        invoices = self._invoices(customers, subs)
        charges = self._charges(invoices, pms)
        subs = self._trial_facts(subs, customers, pms)
        details, frame = self._invoice_frame(invoices, charges, subs, customers, pms)
        customer_frame = self._customer_frame(customers, subs, pms)
        sub_frame = self._sub_frame(subs, customers, charges, details)
        events = self._events(frame, details, charges, sub_frame, customer_frame, pms)
        test_mode = bool(livemode.len() and not livemode.any())
        if livemode.len() and livemode.any() and not livemode.all():
            self.warn("the export mixes live-mode and test-mode objects; treated as live mode")
        return ImportedHistory(
            events=events,
            emails=empty_emails(),
            invoices=frame,
            customers=customer_frame,
            subscriptions=sub_frame,
            invoice_details=details,
            charges=charges,
            payment_methods=pms,
            start_date=self.start,
            horizon_months=self.months,
            test_mode=test_mode,
            source=self.path,
            warnings=self.warnings,
        )

    # ------------------------------------------------------------------------------ subscriptions

    def _subscriptions(self) -> pl.DataFrame:
        subs = (
            self.t["subscriptions"]
            .with_columns(
                _lower("status"),
                _lower("interval"),
                pl.col("price_currency").str.to_uppercase(),
                pl.coalesce("start_date", "created").alias("signup"),
            )
            .sort("customer", "signup", "id")
        )
        several = subs.group_by("customer").len().filter(pl.col("len") > 1).height
        if several:
            self.warn(
                f"{several} customer(s) have more than one subscription; each customer is described "
                f"by the latest one (invoices of every subscription are kept)"
            )
        return subs.group_by("customer", maintain_order=True).last()

    def _customer_ids(self, subs: pl.DataFrame) -> pl.DataFrame:
        """One row per customer with a subscription or an invoice; dense ids in signup order."""
        cust = self.t["customers"].with_columns(pl.col("currency").str.to_uppercase())
        inv = self.t["invoices"]
        first_invoice = inv.group_by("customer").agg(
            pl.col("created").min().alias("first_invoice"), pl.col("currency").first().str.to_uppercase()
        )
        known = pl.concat(
            [subs.select(pl.col("customer").alias("id")), inv.select(pl.col("customer").alias("id"))]
        )
        ids = known.unique()
        missing = ids.join(cust.select("id"), on="id", how="anti").height
        if missing and cust.height:
            self.warn(
                f"{missing} customer(s) referenced by subscriptions or invoices are not in the customers "
                f"file; their country, locale and email are unknown"
            )
        unused = cust.join(ids, on="id", how="anti").height
        if unused:
            self.warn(f"{unused} customer(s) without any subscription or invoice left out")
        out = (
            ids.join(cust.drop("_row", "_src"), on="id", how="left")
            .join(
                subs.select(pl.col("customer").alias("id"), "signup", pl.col("price_currency")),
                on="id",
                how="left",
            )
            .join(first_invoice.rename({"customer": "id", "currency": "inv_currency"}), on="id", how="left")
            .with_columns(
                pl.coalesce("signup", "created", "first_invoice").alias("signup"),
                pl.coalesce("currency", "price_currency", "inv_currency").alias("currency"),
            )
            .sort("signup", "id")
            .with_row_index("customer_id")
            .with_columns(pl.col("customer_id").cast(pl.Int64))
        )
        return out

    def _payment_methods(self, customers: pl.DataFrame) -> pl.DataFrame:
        pms = self.t["payment_methods"].with_columns(_lower("type"))
        ids = customers.select(pl.col("id").alias("customer"), "customer_id")
        return (
            pms.join(ids, on="customer", how="inner")
            .sort("customer_id", "created", "id")
            .select(
                "customer_id",
                "id",
                "type",
                self.days("created").alias("created"),
                pl.col("exp_month").fill_null(0).cast(pl.Int16),
                pl.col("exp_year").fill_null(0).cast(pl.Int16),
            )
            .with_columns(pl.int_range(pl.len()).over("customer_id").alias("rank"))
        )

    # ----------------------------------------------------------------------------------- invoices

    def _invoices(self, customers: pl.DataFrame, subs: pl.DataFrame) -> pl.DataFrame:
        inv = self.t.pop("invoices").select(  # only what is used, and the raw table let go: memory
            "id",
            "customer",
            _lower("status"),
            "amount_due",
            pl.col("currency").str.to_uppercase(),
            _lower("billing_reason"),
            _lower("collection_method"),
            "attempt_count",
            "due_date",
            "created",
            "paid_at",
            "voided_at",
            "uncollectible_at",
            "line_start",
            "line_end",
        )
        zero = inv.filter(pl.col("amount_due") <= 0).height
        if zero:
            self.warn(f"{zero} invoice(s) with amount_due 0 (e.g. trial-start invoices) left out: no revenue")
        known = [s.value for s in InvoiceStatus]
        inv = inv.filter((pl.col("amount_due") > 0) & pl.col("status").is_in(known))
        sub_collection = subs.select(
            "customer",
            pl.col("collection_method").str.to_lowercase().alias("sub_collection"),
            "interval",
            "interval_count",
        )
        inv = (
            inv.join(customers.select(pl.col("id").alias("customer"), "customer_id"), on="customer")
            .join(sub_collection, on="customer", how="left")
            .with_columns(
                pl.coalesce("collection_method", "sub_collection").alias("collection"),
                pl.when(pl.col("interval") == "year")
                .then(12)
                .otherwise(1)
                .mul(pl.col("interval_count").fill_null(1))
                .alias("step"),
            )
            .with_columns(
                pl.when(pl.col("collection").is_in([c.value for c in CollectionMethod]))
                .then("collection")
                .otherwise(pl.lit(CollectionMethod.CHARGE_AUTOMATICALLY.value))
                .alias("collection"),
            )
            .drop("customer", "collection_method", "sub_collection", "interval", "interval_count")
            .sort("customer_id", "created", "id")
            .with_row_index("invoice_id")
            .with_columns(pl.col("invoice_id").cast(pl.Int64))
        )
        start = pl.coalesce("line_start", "created")
        natural_end = (
            pl.from_epoch(start, "s")
            .dt.replace_time_zone("UTC")
            .dt.offset_by(pl.format("{}mo", pl.col("step")))
            .dt.epoch("s")
        )
        return inv.with_columns(
            start.alias("service_start"), pl.coalesce("line_end", natural_end).alias("service_end")
        ).drop("line_start", "line_end")

    def _charges(self, invoices: pl.DataFrame, pms: pl.DataFrame) -> pl.DataFrame:
        ch = self.t.pop("charges").select(
            "id",
            "invoice",
            "amount",
            _lower("status"),
            _lower("failure_code"),
            _lower("outcome_reason"),
            "created",
            "payment_method",
            _lower("method_type"),
        )
        loose = ch.filter(pl.col("invoice").is_null()).height
        if loose:
            self.warn(f"{loose} charge(s) without an invoice (one-off payments) left out")
        ch = ch.filter(pl.col("status").is_in(["succeeded", "failed", "pending"]))
        ch = ch.join(
            invoices.select(pl.col("id").alias("invoice"), "invoice_id", "customer_id"), on="invoice"
        )
        pm_types = pms.select(pl.col("id").alias("payment_method"), pl.col("type").alias("pm_type"))
        needs_action = (pl.col("failure_code") == AUTHENTICATION_REQUIRED) | (
            pl.col("outcome_reason") == AUTHENTICATION_REQUIRED
        )
        failed = (pl.col("status") == "failed") & ~pl.col("needs_action")
        reason = pl.col("outcome_reason")
        code = pl.col("failure_code")
        decline = (
            pl.when(~failed)
            .then(pl.lit(""))
            .when(reason.is_in(list(_DECLINES)))
            .then(reason)
            .when(code.is_in(list(_DECLINES)))
            .then(code)
            .otherwise(pl.lit("generic_decline"))
        )
        ch = (
            ch.join(pm_types, on="payment_method", how="left")
            .with_columns(needs_action.fill_null(False).alias("needs_action"))
            .with_columns(
                decline.alias("decline_code"), pl.coalesce("method_type", "pm_type").alias("method_type")
            )
            .sort("invoice_id", "created", "id")
            .with_columns((pl.int_range(pl.len()).over("invoice_id") + 1).cast(pl.Int16).alias("rank"))
        )
        odd = ch.filter(
            failed
            & (pl.col("decline_code") == "generic_decline")
            & reason.is_not_null()
            & ~reason.is_in(list(_DECLINES) + ["generic_decline"])
        )
        if odd.height:
            values = sorted(odd["outcome_reason"].unique().to_list())[:5]
            self.warn(
                f"charges.outcome.reason: {odd.height} failed charge(s) with decline code(s) {values} "
                f"not in data/decline_codes.csv; counted as generic_decline"
            )
        return ch.select(
            "invoice_id",
            "customer_id",
            "id",
            self.days("created").alias("time"),
            "status",
            "decline_code",
            "needs_action",
            "payment_method",
            "method_type",
            "rank",
            "amount",
        )

    def _trial_facts(self, subs: pl.DataFrame, customers: pl.DataFrame, pms: pl.DataFrame) -> pl.DataFrame:
        """R6b facts: whether a payment method was on file when the trial ended."""
        first_pm = pms.group_by("customer_id").agg(pl.col("created").min().alias("first_pm_at"))
        trial_end = self.days("trial_end")
        return (
            subs.join(customers.select(pl.col("id").alias("customer"), "customer_id"), on="customer")
            .join(first_pm, on="customer_id", how="left")
            .with_columns(
                (pl.col("first_pm_at") <= trial_end + 1 / 86_400)
                .fill_null(False)
                .alias("method_at_trial_end"),
            )
            .with_columns(
                (
                    pl.col("trial_end").is_not_null()
                    & (trial_end >= 0)
                    & (trial_end < self.end)
                    & ~pl.col("method_at_trial_end")
                ).alias("paused_at_trial_end"),
            )
        )

    def _invoice_frame(self, inv, charges, subs, customers, pms) -> tuple[pl.DataFrame, pl.DataFrame]:
        succeeded = pl.col("status") == "succeeded"
        failed = (pl.col("status") == "failed") & ~pl.col("needs_action")
        per_invoice = charges.group_by("invoice_id").agg(
            pl.col("status").first().alias("first_status"),
            pl.col("time").first().alias("first_charge_at"),
            pl.col("payment_method").first().alias("first_pm"),
            pl.col("method_type").first().alias("first_type"),
            pl.col("needs_action").any().alias("auth_required"),
            pl.col("decline_code").filter(failed).first().alias("decline"),
            pl.len().alias("n_charges"),
            pl.col("time").filter(succeeded).last().alias("paid_time"),
            pl.col("payment_method").filter(succeeded).last().alias("paid_pm"),
            pl.col("rank").filter(succeeded).last().alias("paid_rank"),
        )
        method = self._customer_method(customers, pms)
        trial = subs.select("customer_id", "trial_end", "paused_at_trial_end")
        if charges.height == 0 and inv.height:
            self.warn(
                "no charges file: at-risk invoices approximated from attempt_count and status; "
                "decline codes unknown"
            )
        x = (
            inv.join(per_invoice, on="invoice_id", how="left")
            .join(method, on="customer_id", how="left")
            .join(trial, on="customer_id", how="left")
            .with_columns(pl.coalesce("first_type", "customer_method").alias("method_type"))
        )
        charge_auto = pl.col("collection") == CollectionMethod.CHARGE_AUTOMATICALLY.value
        paid = pl.col("status") == InvoiceStatus.PAID.value
        first_invoice = pl.col("created") == pl.col("created").min().over("customer_id")
        paused_trial = (
            pl.col("paused_at_trial_end").fill_null(False)
            & first_invoice
            & ((pl.col("created") - pl.col("trial_end")).abs() <= TRIAL_INVOICE_TOLERANCE_S)
        )
        paused_trial = paused_trial.fill_null(False)
        # Boleto always waits for the customer (R8), except at checkout and before activation (R6b)
        boleto = (
            (pl.col("method_type") == "boleto")
            & (pl.col("billing_reason").fill_null("") != "subscription_create")
            & ~paused_trial
        ).fill_null(False)
        needs_action = pl.col("auth_required").fill_null(False) | boleto
        if charges.height:
            first_failed = (pl.col("first_status") == "failed").fill_null(False)
        else:
            first_failed = (
                (pl.col("attempt_count").fill_null(1) > 1)
                | (~paid & (pl.col("attempt_count").fill_null(0) > 0))
            ).fill_null(False)
        x = x.with_columns(
            paused_trial.alias("paused_trial"),
            needs_action.alias("needs_action"),
            ((charge_auto & (first_failed | boleto)) | paused_trial).fill_null(False).alias("at_risk"),
        )
        closed_at = pl.coalesce("voided_at", "uncollectible_at")
        paid_at = pl.when(paid).then(pl.coalesce("paid_at", self.days("paid_time") * 86_400 + self.epoch))
        first_decline = (
            pl.when(pl.col("decline").is_not_null())
            .then("decline")
            .when(pl.col("needs_action") & ~paid & closed_at.is_not_null())
            .then(pl.lit("authentication_expired"))
            .otherwise(pl.lit(""))
        )
        paid_by = (
            pl.when(~paid)
            .then(pl.lit("system"))
            .when(~charge_auto)
            .then(pl.lit("customer"))
            .when(pl.col("n_charges").is_null() & (pl.col("attempt_count").fill_null(1) <= 1))
            .then(pl.lit("system"))
            .when((pl.col("paid_rank") == 1) & (pl.col("first_status") == "succeeded"))
            .then(pl.lit("system"))
            .when(pl.col("paused_trial") | (pl.col("paid_pm") != pl.col("first_pm")))
            .then(pl.lit("customer_link"))
            .when(pl.col("needs_action"))
            .then(pl.lit("customer_self"))
            .otherwise(pl.lit("retry"))
        )
        anchor = pl.coalesce("trial_end", pl.col("created").min().over("customer_id"))
        period = (
            ((pl.col("service_start") - anchor) / 86_400 / 30.44 / pl.col("step")).round(0).clip(0, 32_000)
        )
        frame = x.select(
            "invoice_id",
            "customer_id",
            period.cast(pl.Int16).alias("period"),
            self.days("created").alias("created_at"),
            pl.col("amount_due").alias("amount"),
            pl.col("status").cast(InvoiceStatusEnum),
            self.days(paid_at).alias("paid_at"),
            pl.coalesce("attempt_count", "n_charges", pl.lit(0)).clip(0, 127).cast(pl.Int8).alias("attempts"),
            first_decline.cast(DeclineEnum).alias("first_decline"),
            "at_risk",
            paid_by.cast(ActorEnum).alias("paid_by"),
            self.days("due_date").alias("due_at"),
            pl.col("currency").cast(pl.Categorical),
        ).sort("invoice_id")
        details = x.select(
            "invoice_id",
            "customer_id",
            "id",
            pl.col("collection").alias("collection_method"),
            pl.col("billing_reason").fill_null("subscription_cycle"),
            "method_type",
            self.days("service_start").alias("period_start"),
            self.days("service_end").alias("period_end"),
            self.days(closed_at).alias("closed_at"),
            self.days(paid_at).alias("paid_at"),
            self.days("due_date").alias("due_at"),
            self.days("created").alias("created_at"),
            "needs_action",
            "paused_trial",
            "first_charge_at",
            "status",
        ).sort("invoice_id")
        return details, frame

    def _customer_method(self, customers: pl.DataFrame, pms: pl.DataFrame) -> pl.DataFrame:
        first = pms.group_by("customer_id").agg(pl.col("type").first().alias("first_type"))
        default = customers.select("customer_id", pl.col("default_pm").alias("id")).join(
            pms.select("id", pl.col("type").alias("default_type")), on="id", how="left"
        )
        return (
            customers.select("customer_id")
            .join(first, on="customer_id", how="left")
            .join(default.select("customer_id", "default_type"), on="customer_id", how="left")
            .select("customer_id", pl.coalesce("first_type", "default_type").alias("customer_method"))
        )

    # ---------------------------------------------------------------------------------- customers

    def _customer_frame(self, customers: pl.DataFrame, subs: pl.DataFrame, pms: pl.DataFrame) -> pl.DataFrame:
        first_card = (
            pms.filter(pl.col("type") == "card")
            .group_by("customer_id")
            .agg(
                pl.col("exp_month").first().alias("card_exp_month"),
                pl.col("exp_year").first().alias("card_exp_year"),
            )
        )
        method = self._customer_method(customers, pms)
        sub = subs.select(
            "customer_id",
            pl.coalesce("plan", "price_id").alias("plan"),
            "interval",
            pl.col("unit_amount").alias("price"),
            pl.col("trial_start"),
            pl.col("trial_end"),
            pl.col("collection_method").str.to_lowercase().alias("sub_collection"),
            pl.col("status"),
        )
        email = pl.col("email").str.to_lowercase()
        domain = email.str.split("@").list.last()
        recipient = (
            pl.when(email.is_in(list(self.team)))
            .then(pl.lit("team_member"))
            .when(domain.is_in(list(self.verified)))
            .then(pl.lit("verified_domain"))
            .otherwise(pl.lit("external"))
        )
        trial_days = (
            ((pl.col("trial_end") - pl.col("trial_start")) / 86_400).round(0).fill_null(0).cast(pl.Int32)
        )
        frame = (
            customers.join(sub, on="customer_id", how="left")
            .join(method, on="customer_id", how="left")
            .join(first_card, on="customer_id", how="left")
            .with_columns(
                self.days("signup").alias("signup_at"),
                pl.when(pl.col("sub_collection") == CollectionMethod.SEND_INVOICE.value)
                .then(pl.lit(CollectionMethod.SEND_INVOICE.value))
                .otherwise(pl.lit(CollectionMethod.CHARGE_AUTOMATICALLY.value))
                .alias("collection_method"),
            )
        )
        frame = frame.with_columns(
            pl.when(pl.col("signup_at") < 0)
            .then(pl.lit("existing "))
            .otherwise(pl.lit("new "))
            .add(pl.col("currency"))
            .alias("cohort"),
            _locale(pl.col("locales").list.first()).alias("locale"),
            _timezone(pl.col("timezone")).alias("timezone"),
        )
        cohorts = sorted(frame["cohort"].drop_nulls().unique().to_list())
        return frame.select(
            "customer_id",
            pl.col("cohort")
            .replace_strict(cohorts, list(range(len(cohorts))), default=0)
            .cast(pl.Int16)
            .alias("cohort_index"),
            "plan",
            "interval",
            pl.col("price").cast(pl.Int64),
            "currency",
            "country",
            "timezone",
            "locale",
            "signup_at",
            trial_days.alias("trial_days"),
            "collection_method",
            pl.col("customer_method").alias("payment_method"),
            pl.col("card_exp_month").fill_null(0).cast(pl.Int16),
            pl.col("card_exp_year").fill_null(0).cast(pl.Int16),
            recipient.alias("recipient"),
            "cohort",
            pl.col("status").alias("final_status"),
        ).sort("customer_id")

    def _sub_frame(self, subs, customers, charges, details) -> pl.DataFrame:
        """Per customer: the subscription facts the replay needs (R6, R7, R11b) and the calibration."""
        last_failure = (
            charges.filter(pl.col("status") == "failed")
            .group_by("customer_id")
            .agg(pl.col("time").max().alias("last_failure"))
        )
        last_invoice = details.group_by("customer_id").agg(pl.col("created_at").max().alias("last_invoice"))
        ended = self.days(pl.coalesce("canceled_at", "ended_at"))
        status = pl.col("status")
        since = (
            pl.when(status == SubscriptionStatus.CANCELED.value)
            .then(ended)
            .when(status == SubscriptionStatus.UNPAID.value)
            .then(pl.coalesce("last_failure", "last_invoice"))
            .when(status == SubscriptionStatus.INCOMPLETE_EXPIRED.value)
            .then(pl.coalesce(ended, self.days("signup") + 1))
        )
        return (
            subs.join(last_failure, on="customer_id", how="left")
            .join(last_invoice, on="customer_id", how="left")
            .select(
                "customer_id",
                pl.col("id").alias("subscription"),
                "customer",
                "status",
                since.alias("status_since"),
                self.days("signup").alias("signup_at"),
                self.days("trial_start").alias("trial_start"),
                self.days("trial_end").alias("trial_end"),
                "method_at_trial_end",
                "paused_at_trial_end",
                "interval",
                (
                    pl.when(pl.col("interval") == "year").then(12).otherwise(1)
                    * pl.col("interval_count").fill_null(1)
                )
                .cast(pl.Int32)
                .alias("step_months"),
                pl.col("collection_method").str.to_lowercase().fill_null("charge_automatically"),
                self.days("current_period_start").alias("current_period_start"),
                self.days("current_period_end").alias("current_period_end"),
                self.days(pl.coalesce("canceled_at", "ended_at")).alias("canceled_at"),
                pl.col("cancel_reason").str.to_lowercase(),
                "days_until_due",
            )
            .sort("customer_id")
        )

    # ------------------------------------------------------------------------------------- events

    def _events(self, invoices, details, charges, subs, customers, pms) -> pl.DataFrame:
        """The event log as the simulator writes it, from what Stripe kept (docs/stripe.md, "Events")."""
        d = details.select(
            "invoice_id",
            "customer_id",
            "created_at",
            "collection_method",
            "method_type",
            "needs_action",
            "paid_at",
            "closed_at",
            "paused_trial",
        ).join(invoices.select("invoice_id", "amount", pl.col("status").alias("status_inv")), on="invoice_id")
        charge_auto = pl.col("collection_method") == CollectionMethod.CHARGE_AUTOMATICALLY.value
        ch = charges.select(
            "invoice_id", "customer_id", "time", "status", "needs_action", "decline_code", "rank"
        ).join(
            d.filter(charge_auto).select("invoice_id", pl.col("amount").alias("amount_invoice")),
            on="invoice_id",
        )
        retry = pl.when(pl.col("rank") > 1).then(pl.lit("retry")).otherwise(pl.lit("system"))
        ev = _Events(self.end)
        ev.add(d, "created_at", "invoice_created", amount="amount")
        ev.add(
            ch.filter(pl.col("status") == "failed", ~pl.col("needs_action")),
            "time",
            "payment_failed",
            amount="amount_invoice",
            decline="decline_code",
            actor=retry,
            attempt="rank",
        )
        ev.add(ch.filter(pl.col("needs_action")), "time", "payment_action_required", amount="amount_invoice")
        ev.add(
            d.filter(charge_auto, pl.col("method_type") == "boleto", pl.col("needs_action")),
            "created_at",
            "payment_action_required",
            amount="amount",
        )
        ev.add(
            ch.filter(pl.col("status") == "succeeded"),
            "time",
            "payment_succeeded",
            amount="amount_invoice",
            actor=retry,
            attempt="rank",
        )
        ev.add(
            d.filter(~charge_auto, pl.col("paid_at").is_not_null()),
            "paid_at",
            "invoice_paid",
            amount="amount",
            actor=pl.lit("customer"),
            attempt=pl.lit(1),
        )
        ev.add(d.filter(pl.col("status_inv") == "void"), "closed_at", "invoice_voided", amount="amount")
        ev.add(
            d.filter(pl.col("status_inv") == "uncollectible"),
            "closed_at",
            "invoice_uncollectible",
            amount="amount",
        )
        ev.add(
            d.filter(pl.col("needs_action"), pl.col("paid_at").is_null(), pl.col("closed_at").is_not_null()),
            "closed_at",
            "payment_expired",
            amount="amount",
            decline=pl.lit("authentication_expired"),
        )
        ev.add(subs.filter(pl.col("signup_at") >= 0), "signup_at", "subscription_created")
        ev.add(subs.filter(pl.col("trial_end").is_not_null()), "trial_end", "trial_ended")
        ev.add(subs.filter(pl.col("paused_at_trial_end")), "trial_end", "subscription_paused")
        ev.add(
            d.filter(pl.col("paused_trial"), pl.col("paid_at").is_not_null()),
            "paid_at",
            "subscription_activated",
            actor=pl.lit("customer_link"),
        )
        later = pms.filter(pl.col("rank") > 0)
        ev.add(
            later.filter(pl.col("type") == "card"), "created", "card_updated", actor=pl.lit("customer_self")
        )
        ev.add(
            later.filter(pl.col("type") != "card"),
            "created",
            "payment_method_updated",
            actor=pl.lit("customer_self"),
        )
        ev.add(
            subs.filter(pl.col("status") == "unpaid", pl.col("status_since").is_not_null()),
            "status_since",
            "subscription_unpaid",
        )
        ev.add(
            _with_write_off(subs, d).filter(pl.col("canceled_at").is_not_null()),
            "canceled_at",
            "subscription_canceled",
            actor=_CANCEL_ACTOR,
        )
        origin = dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)
        micros = (pl.col("time") * 86_400_000_000).round(0).cast(pl.Int64)
        currency = customers.select("customer_id", pl.col("currency").cast(pl.Categorical))
        return (
            pl.concat(ev.parts)
            .sort("time", "customer_id", "_order", "invoice_id", nulls_last=False)
            .join(currency, on="customer_id", how="left", maintain_order="left")
            .select(
                "time",
                (pl.lit(origin) + pl.duration(microseconds=micros)).dt.cast_time_unit("us").alias("at"),
                "customer_id",
                "invoice_id",
                "kind",
                "amount",
                "currency",
                "decline_code",
                "actor",
                "attempt",
            )
        )


_EVENT_ORDER = (
    "subscription_created",
    "trial_ended",
    "subscription_paused",
    "invoice_created",
    "payment_action_required",
    "payment_failed",
    "payment_succeeded",
    "invoice_paid",
    "subscription_activated",
    "payment_expired",
    "invoice_voided",
    "invoice_uncollectible",
    "card_updated",
    "payment_method_updated",
    "subscription_unpaid",
    "subscription_canceled",
)
"""Order of events at the same instant for one customer (the engine's recording order)."""


class _Events:
    """Collects the event log's rows kind by kind, typed as the simulator types them, inside the horizon."""

    def __init__(self, end: float) -> None:
        self.end = end
        self.parts: list[pl.DataFrame] = []

    def add(
        self,
        frame: pl.DataFrame,
        time: str,
        kind: str,
        amount: str | None = None,
        decline: str | pl.Expr | None = None,
        actor: pl.Expr | None = None,
        attempt: str | pl.Expr | None = None,
    ) -> None:
        def col(value: Any, default: Any) -> pl.Expr:
            if value is None:
                return pl.lit(default)
            return pl.col(value) if isinstance(value, str) else value

        invoice = pl.col("invoice_id") if "invoice_id" in frame.columns else pl.lit(None, dtype=pl.Int64)
        self.parts.append(
            frame.filter((pl.col(time) >= 0) & (pl.col(time) < self.end)).select(
                pl.col(time).alias("time"),
                pl.col("customer_id").cast(pl.Int64),
                invoice.alias("invoice_id"),
                pl.lit(kind).cast(EventKindEnum).alias("kind"),
                pl.lit(_EVENT_ORDER.index(kind), pl.Int8).alias("_order"),
                col(amount, 0).cast(pl.Int64).alias("amount"),
                col(decline, "").cast(DeclineEnum).alias("decline_code"),
                col(actor, "system").cast(ActorEnum).alias("actor"),
                col(attempt, 0).cast(pl.Int8).alias("attempt"),
            )
        )


def _with_write_off(subs: pl.DataFrame, details: pl.DataFrame) -> pl.DataFrame:
    """Each customer's last write-off time, to tell a dunning cancellation when no reason was exported."""
    written_off = (
        details.filter(pl.col("status_inv") == "uncollectible")
        .group_by("customer_id")
        .agg(pl.col("closed_at").max().alias("_written_off"))
    )
    return subs.join(written_off, on="customer_id", how="left")


_CANCEL_ACTOR = (
    pl.when(pl.col("cancel_reason") == "payment_failed")
    .then(pl.lit("system"))
    .when(
        pl.col("cancel_reason").is_null()
        & ((pl.col("_written_off") - pl.col("canceled_at")).abs() < 1 / 1440)
    )
    .then(pl.lit("system"))
    .otherwise(pl.lit("customer"))
)
"""`payment_failed` cancellations are involuntary (system); so is one with no reason beside a write-off."""


def _locale(first: pl.Expr) -> pl.Expr:
    """preferred_locales[0] → a supported locale: "pt-BR" → pt_BR, "fr-FR" → fr, anything else → en."""
    text = first.str.replace("-", "_")
    base = text.str.split("_").list.first().str.to_lowercase()
    exact = {loc.lower(): loc for loc in SUPPORTED_LOCALES}
    return (
        pl.when(text.str.to_lowercase().is_in(list(exact)))
        .then(text.str.to_lowercase().replace(exact))
        .when(base.is_in([loc for loc in SUPPORTED_LOCALES if "_" not in loc]))
        .then(base)
        .otherwise(pl.lit("en"))
    )


_ZONES = zoneinfo.available_timezones()


def _timezone(column: pl.Expr) -> pl.Expr:
    """metadata.timezone when it names an IANA zone; otherwise none (R7b falls back to the account's)."""
    return pl.when(column.is_in(list(_ZONES))).then(column)


def empty_emails() -> pl.DataFrame:
    """The emails frame with no rows: Stripe exports do not include the emails it sent."""
    utc = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        schema={
            "time": pl.Float64,
            "sent_at": utc,
            "customer_id": pl.Int64,
            "invoice_id": pl.Int64,
            "email_type": EmailTypeEnum,
            "link_included": pl.Boolean,
            "link_live_until": utc,
            "management_link": pl.Boolean,
            "delivered": pl.Boolean,
            "acted": pl.Boolean,
        }
    )
