"""Stripe objects → the files of an export: list pages, JSON Lines, the Dashboard "Invoices" CSV, and
writing them together (all land under their final names, or none does)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl
from babel.numbers import get_currency_precision

from recovery_sim.atomic import write_all

if TYPE_CHECKING:
    from recovery_sim.stripe.export import StripeObjects

DASHBOARD_COLUMNS = (
    "id",
    "Customer",
    "Customer Email",
    "Subscription",
    "Status",
    "Billing",
    "Billing Reason",
    "Currency",
    "Amount Due",
    "Amount Paid",
    "Amount Remaining",
    "Attempt Count",
    "Attempted",
    "Date (UTC)",
    "Due Date (UTC)",
    "Finalized At (UTC)",
    "Paid At (UTC)",
    "Period Start (UTC)",
    "Period End (UTC)",
)
"""The Dashboard "Invoices" export columns this toolkit writes (and reads: docs/stripe.md)."""

_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False, ensure_ascii=False)


def list_page(objects: list[dict], name: str) -> str:
    """A list endpoint's response body holding every object (one page, `has_more` false)."""
    return _ENCODER.encode({"object": "list", "url": f"/v1/{name}", "has_more": False, "data": objects})


def json_lines(objects: list[dict]) -> str:
    encode = _ENCODER.encode
    return "\n".join(encode(o) for o in objects) + ("\n" if objects else "")


def _major(amount: int, currency: str) -> str:
    """Minor units → the Dashboard's decimal major units (exact: integer arithmetic, no floats)."""
    digits = get_currency_precision(currency.upper())
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{part:0{digits}d}"


def _stamp(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def dashboard_invoices_csv(invoices: list[dict]) -> str:
    """The Dashboard "Invoices" CSV export: amounts in major units, times as `YYYY-MM-DD HH:MM:SS` UTC."""
    rows = []
    for inv in invoices:
        st = inv.get("status_transitions") or {}
        rows.append(
            {
                "id": inv["id"],
                "Customer": inv["customer"],
                "Customer Email": inv.get("customer_email") or "",
                "Subscription": inv.get("subscription") or "",
                "Status": inv["status"],
                "Billing": inv.get("collection_method") or "",
                "Billing Reason": inv.get("billing_reason") or "",
                "Currency": inv["currency"],
                "Amount Due": _major(inv["amount_due"], inv["currency"]),
                "Amount Paid": _major(inv.get("amount_paid") or 0, inv["currency"]),
                "Amount Remaining": _major(inv.get("amount_remaining") or 0, inv["currency"]),
                "Attempt Count": str(inv.get("attempt_count") or 0),
                "Attempted": str(bool(inv.get("attempted"))).lower(),
                "Date (UTC)": _stamp(inv["created"]),
                "Due Date (UTC)": _stamp(inv.get("due_date")),
                "Finalized At (UTC)": _stamp(st.get("finalized_at")),
                "Paid At (UTC)": _stamp(st.get("paid_at")),
                "Period Start (UTC)": _stamp(inv.get("period_start")),
                "Period End (UTC)": _stamp(inv.get("period_end")),
            }
        )
    frame = pl.DataFrame(rows, schema={c: pl.String for c in DASHBOARD_COLUMNS})
    buffer = io.StringIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def render_export(
    objects: StripeObjects, fmt: Literal["jsonl", "json"] = "jsonl", csv: bool = True
) -> dict[str, str]:
    """File name → content for every file of an export (nothing touches the disk here)."""
    files = {}
    for name, items in objects.by_type().items():
        files[f"{name}.{fmt}"] = json_lines(items) if fmt == "jsonl" else list_page(items, name)
    if csv:
        files["invoices.csv"] = dashboard_invoices_csv(objects.invoices)
    return files


def write_export(files: dict[str, str], out_dir: str | Path) -> list[Path]:
    """Write the rendered files together: all of them land under their final names, or none does."""
    out = Path(out_dir)

    def writer(text: str):
        return lambda tmp: tmp.write_text(text, encoding="utf-8")

    return write_all({out / name: writer(text) for name, text in files.items()})
