"""The Dashboard "Invoices" CSV export → invoice typed rows: header checked, decimal major units to
integer minor units (exactly, by the currency's ISO 4217 precision), UTC times to Unix seconds."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import polars as pl
from babel.numbers import get_currency_precision

from recovery_sim.stripe.errors import Source, StripeImportError, fail
from recovery_sim.stripe.fields import FIELDS

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
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def column_for(field_name: str) -> str:
    """The CSV column an invoice field is read from (for messages naming a missing field)."""
    return next(c for c, f in CSV_COLUMNS.items() if f == field_name)


def read_csv(source: Source) -> pl.DataFrame:
    """The Dashboard invoices CSV: check the header, convert major units and UTC times."""
    try:
        frame = pl.read_csv(source.path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        fail(source, None, None, None, f"is not a readable CSV file ({str(exc).splitlines()[0]})")
    _check_header(frame, source)
    frame = frame.with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    frame = frame.with_columns(pl.col(c).replace("", None) for c in frame.columns if c != "_row")
    for column in CSV_TIMES:
        if column in frame.columns:
            frame = frame.with_columns(_csv_time(frame, column, source).alias(column))
    for column in CSV_AMOUNTS:
        if column in frame.columns:
            frame = frame.with_columns(_csv_amount(frame, column, source).alias(column))
    if "Attempt Count" in frame.columns:
        frame = _attempt_count(frame, source)
    select = [pl.col("_row")]
    for field in FIELDS["invoices"]:
        column = next((c for c, f in CSV_COLUMNS.items() if f == field.column and c in frame.columns), None)
        expr = pl.col(column) if column else pl.lit(None)
        select.append(expr.cast(field.dtype).alias(field.column))
    return frame.select(select).with_columns(
        pl.col("status").str.to_lowercase(), pl.col("currency").str.to_lowercase()
    )


def _check_header(frame: pl.DataFrame, source: Source) -> None:
    missing = [c for c in CSV_REQUIRED if c not in frame.columns]
    if not missing:
        return
    optional = ", ".join(c for c in CSV_COLUMNS if c not in CSV_REQUIRED)
    found = ", ".join(frame.columns[:8]) + (" ..." if len(frame.columns) > 8 else "")
    names = ", ".join(f"`{c}`" for c in missing)
    raise StripeImportError(
        f"{source.path}: line 1 (header): missing column(s) {names}. A Dashboard invoices export needs "
        f"at least {', '.join(CSV_REQUIRED)} and may add {optional} (docs/stripe.md); found {found}. "
        f"Nothing was imported or written."
    )


def _attempt_count(frame: pl.DataFrame, source: Source) -> pl.DataFrame:
    bad = frame.filter(
        pl.col("Attempt Count").is_not_null() & ~pl.col("Attempt Count").str.contains(r"^\d+$")
    )
    if bad.height:
        fail(
            source,
            bad["_row"][0],
            bad["id"][0],
            "Attempt Count",
            f"expected a whole number, got {bad['Attempt Count'][0]!r}",
        )
    return frame.with_columns(pl.col("Attempt Count").cast(pl.Int64))


def _csv_time(frame: pl.DataFrame, column: str, source: Source) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    parsed = pl.coalesce(
        text.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="us") for fmt in TIME_FORMATS
    )
    bad = frame.filter(pl.col(column).is_not_null() & parsed.is_null())
    if bad.height:
        fail(
            source,
            bad["_row"][0],
            bad["id"][0],
            column,
            f"expected a UTC time like 2026-01-31 12:00:00, got {bad[column][0]!r}",
        )
    return parsed.dt.epoch("s")


def _csv_amount(frame: pl.DataFrame, column: str, source: Source) -> pl.Expr:
    pairs = frame.select(pl.col(column), pl.col("Currency").str.to_uppercase().alias("cur"), "_row", "id")
    pairs = pairs.filter(pl.col(column).is_not_null()).unique([column, "cur"], keep="first")
    minor: dict[tuple[str, str], int] = {}
    for text, currency, row, object_id in pairs.iter_rows():
        digits = _precision(currency or "")
        try:
            value = Decimal(text.replace(",", ""))
        except InvalidOperation:
            fail(source, row, object_id, column, f"expected an amount like 49.00, got {text!r}")
        scaled = value * (10**digits)
        if digits is None or scaled != scaled.to_integral_value():
            fail(
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
