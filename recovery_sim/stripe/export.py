"""A simulated run as Stripe API objects: customers, subscriptions, invoices, charges, payment methods.

Why: the importer, the replay and the calibration must work on real Stripe exports. Writing simulated
runs in exactly Stripe's shapes (field names, enum values, Unix-second UTC timestamps, amounts in minor
units, lowercase currencies) gives a round trip whose true parameters are known, and the sample files
under tests/fixtures/stripe. What Stripe has no object for (emails, link clicks, latent behaviour) is
not exported; docs/stripe.md lists it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import json
import math
import string
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from babel.numbers import get_currency_precision

from recovery_sim.atomic import write_all
from recovery_sim.domain.calendar import boundary
from recovery_sim.domain.enums import CollectionMethod, PaymentMethodKind, PlanInterval
from recovery_sim.simulation.customers import generate, new_card_expiry
from recovery_sim.simulation.rng import Streams

OBJECT_TYPES = ("customers", "subscriptions", "invoices", "charges", "payment_methods")
ERROR_CODES = frozenset({"expired_card", "incorrect_number", "processing_error"})
"""Declines Stripe reports as their own `failure_code`; every other issuer decline is `card_declined`."""
AUTHENTICATION_REQUIRED = "authentication_required"
CARD_BRANDS = ("visa", "mastercard", "amex")
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
_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_PAYMENT_KINDS = ("payment_failed", "payment_succeeded", "invoice_paid", "payment_action_required")
_LIFECYCLE_KINDS = (
    "card_updated",
    "payment_method_updated",
    "subscription_canceled",
    "subscription_unpaid",
    "subscription_activated",
    "invoice_voided",
    "invoice_uncollectible",
)


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def stripe_id(prefix: str, number: int, width: int = 14) -> str:
    """A Stripe-looking id; base62 digits padded to one width, so ids sort in the order of `number`."""
    digits = ""
    number = int(number)
    while number:
        number, rest = divmod(number, 3844)
        digits = _PAIRS[rest] + digits
    return f"{prefix}_{digits.rjust(width, '0')}"


def id_number(stripe_id_: str) -> int:
    """The number a `stripe_id` encodes (the simulator's customer or invoice id, for comparisons)."""
    number = 0
    for char in stripe_id_.partition("_")[2]:
        number = number * 62 + _ALPHABET.index(char)
    return number


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, built from whole columns (much faster than iterating a frame row by row)."""
    names = frame.columns
    columns = [frame[c].to_list() for c in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def failure_code_for(decline: str) -> str:
    """Stripe's charge `failure_code` for an issuer decline code (the code itself goes in outcome.reason)."""
    if decline == AUTHENTICATION_REQUIRED or decline in ERROR_CODES:
        return decline
    return "card_declined"


@dataclass
class StripeObjects:
    """One list of Stripe objects (plain dicts, API shape) per object type."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    charges: list[dict[str, Any]] = field(default_factory=list)
    payment_methods: list[dict[str, Any]] = field(default_factory=list)

    def by_type(self) -> dict[str, list[dict[str, Any]]]:
        return {name: getattr(self, name) for name in OBJECT_TYPES}


class _Clock:
    """Simulation days → Unix seconds (UTC), truncated to whole seconds as Stripe stores them."""

    def __init__(self, start: dt.date) -> None:
        self.start = start
        self.epoch = int(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC).timestamp())

    def __call__(self, days: float | None) -> int | None:
        if days is None or not math.isfinite(days):
            return None
        return self.epoch + math.floor(days * 86_400 + 1e-6)


@dataclass
class _Card:
    """One payment method a customer held from `created` (simulation days) on."""

    id: str
    kind: str
    created: float
    exp_month: int = 0
    exp_year: int = 0


def _payment_methods(
    rows: dict[int, dict], customers, streams: Streams, start: dt.date, lifecycle: dict[int, list[dict]]
) -> dict[int, list[_Card]]:
    """Each customer's payment methods in time order: the one at signup, then one per update event.

    A trial that starts without a payment method (R6b) has none until the customer adds one.
    """
    out: dict[int, list[_Card]] = {}
    for j, cid in enumerate(customers.ids.tolist()):
        row = rows[cid]
        kind = row["payment_method"]
        cards: list[_Card] = []
        if not customers.trial_without_method[j]:
            cards.append(
                _Card(
                    stripe_id("pm", cid * 1000),
                    kind,
                    row["signup_at"],
                    int(row["card_exp_month"]),
                    int(row["card_exp_year"]),
                )
            )
        version = 0
        for event in lifecycle.get(cid, []):
            if event["kind"] not in ("card_updated", "payment_method_updated"):
                continue
            month = year = 0
            if event["kind"] == "card_updated":
                version += 1
                month, year = new_card_expiry(streams, cid, version, event["time"], start)
            number = cid * 1000 + len(cards) + 1
            cards.append(_Card(stripe_id("pm", number), kind, event["time"], month, year))
        out[cid] = cards
    return out


def _method_details(card: _Card | None, kind: str, cid: int) -> dict[str, Any]:
    details: dict[str, Any] = {"type": kind}
    if card is not None and kind == PaymentMethodKind.CARD:
        details["card"] = {
            "brand": CARD_BRANDS[cid % 3],
            "last4": f"{(cid * 7919 + 4242) % 10000:04d}",
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        }
    return details


def _pm_object(card: _Card, cid: int, row: dict, clock: _Clock, livemode: bool) -> dict[str, Any]:
    pm: dict[str, Any] = {
        "id": card.id,
        "object": "payment_method",
        "type": card.kind,
        "customer": stripe_id("cus", cid),
        "created": clock(card.created),
        "livemode": livemode,
        "billing_details": {"email": _email(cid, row), "address": {"country": row["country"]}},
    }
    if card.kind == PaymentMethodKind.CARD:
        pm["card"] = {
            "brand": CARD_BRANDS[cid % 3],
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "last4": f"{(cid * 7919 + 4242) % 10000:04d}",
            "country": row["country"],
            "funding": "credit",
        }
    elif card.kind == PaymentMethodKind.SEPA_DEBIT:
        pm["sepa_debit"] = {"country": row["country"], "last4": f"{(cid * 31 + 7) % 10000:04d}"}
    elif card.kind == PaymentMethodKind.BOLETO:
        pm["boleto"] = {"tax_id": f"{cid:011d}"}
    return pm


def _email(cid: int, row: dict) -> str:
    """R12 needs to know whose address is on the verified domain or a team member's: the domain says so."""
    domain = {"verified_domain": "verified.example.com", "team_member": "team.example.com"}.get(
        row["recipient"], "customers.example.com"
    )
    return f"customer{cid}@{domain}"


def _card_at(cards: list[_Card], t: float) -> _Card | None:
    """The payment method on file at time t (the latest created at or before t)."""
    index = bisect.bisect_right([c.created for c in cards], t + 1e-9) - 1
    return cards[index] if index >= 0 else None


def export_run(run) -> StripeObjects:
    """Map a simulated `Run` to Stripe objects as a list endpoint would return them at the horizon's end."""
    scenario = run.scenario
    start = scenario.start_date
    clock = _Clock(start)
    horizon = scenario.horizon_days
    livemode = not scenario.test_mode.enabled
    streams = Streams(run.seed, run.replication)
    ids = np.sort(run.customers["customer_id"].to_numpy())
    customers = generate(scenario, streams, ids)
    rows = {row["customer_id"]: row for row in _rows(run.customers)}
    for row in rows.values():
        plans = [p.name for p in scenario.cohorts[row["cohort_index"]].plans]
        row["price_id"] = stripe_id("price", row["cohort_index"] * 100 + plans.index(row["plan"]))
    lifecycle: dict[int, list[dict]] = defaultdict(list)
    for event in _rows(
        run.events.filter(pl.col("kind").cast(pl.String).is_in(_LIFECYCLE_KINDS))
        .select("time", "customer_id", "invoice_id", "kind", "actor")
        .with_columns(pl.col("kind").cast(pl.String), pl.col("actor").cast(pl.String))
    ):
        lifecycle[event["customer_id"]].append(event)
    cards = _payment_methods(rows, customers, streams, start, lifecycle)
    anchors = _anchors(customers, lifecycle)
    steps = {row["customer_id"]: 12 if row["interval"] == PlanInterval.YEAR else 1 for row in rows.values()}

    out = StripeObjects()
    for cid in ids.tolist():
        for card in cards[cid]:
            out.payment_methods.append(_pm_object(card, cid, rows[cid], clock, livemode))

    closed: dict[int, tuple[str, float]] = {}
    for events in lifecycle.values():
        for event in events:
            if event["kind"] in ("invoice_voided", "invoice_uncollectible"):
                closed[event["invoice_id"]] = (event["kind"], event["time"])

    charges_by_invoice: dict[int, list[dict]] = defaultdict(list)
    payments = run.events.filter(pl.col("kind").cast(pl.String).is_in(_PAYMENT_KINDS)).with_columns(
        pl.col("kind").cast(pl.String), pl.col("decline_code").cast(pl.String)
    )
    for n, event in enumerate(_rows(payments)):
        cid = event["customer_id"]
        kind = rows[cid]["payment_method"]
        if event["kind"] == "payment_action_required" and kind != PaymentMethodKind.CARD:
            continue  # Boleto: no charge exists until the voucher is paid
        charge = _charge(n, event, kind, _card_at(cards[cid], event["time"]), clock, livemode, rows[cid])
        out.charges.append(charge)
        charges_by_invoice[event["invoice_id"]].append(charge)

    last_invoice: dict[int, dict] = {}
    first_failure: dict[int, float] = {}
    for event in _rows(payments.filter(pl.col("kind") == "payment_failed")):
        first_failure.setdefault(event["invoice_id"], event["time"])
    offsets = run.policy.retries.offsets()
    for inv in _rows(run.invoices.with_columns(pl.col("status").cast(pl.String))):
        cid = inv["customer_id"]
        row = rows[cid]
        anchor_day, anchor_frac = anchors[cid]
        period_end = boundary(start, anchor_day, anchor_frac, inv["period"] + 1, steps[cid])
        previous = None
        if inv["period"]:
            previous = boundary(start, anchor_day, anchor_frac, inv["period"] - 1, steps[cid])
        next_attempt = None
        if inv["status"] == "open" and inv["invoice_id"] in first_failure:
            later = [first_failure[inv["invoice_id"]] + o for o in offsets]
            later = [t for t in later if t >= horizon]
            next_attempt = clock(later[0]) if later else None
        invoice = _invoice(
            inv,
            row,
            period_end,
            previous,
            closed.get(inv["invoice_id"]),
            next_attempt,
            charges_by_invoice.get(inv["invoice_id"], []),
            clock,
            livemode,
        )
        out.invoices.append(invoice)
        last_invoice[cid] = {"id": invoice["id"], "start": inv["created_at"], "end": period_end}

    for cid in ids.tolist():
        row = rows[cid]
        out.customers.append(_customer(cid, row, cards[cid], clock, livemode))
        out.subscriptions.append(
            _subscription(
                cid,
                row,
                lifecycle.get(cid, []),
                cards[cid],
                last_invoice.get(cid),
                anchors[cid],
                steps[cid],
                scenario,
                clock,
                livemode,
            )
        )
    for name in OBJECT_TYPES:
        getattr(out, name).sort(key=lambda o: (o["created"], o["id"]))
    return out


def _anchors(customers, lifecycle: dict[int, list[dict]]) -> dict[int, tuple[int, float]]:
    """Billing anchors; a paused trial activated later re-anchors at the activation (as the engine does)."""
    anchors = {}
    for j, cid in enumerate(customers.ids.tolist()):
        anchors[cid] = (int(customers.anchor_day[j]), float(customers.anchor_frac[j]))
        for event in lifecycle.get(cid, []):
            if event["kind"] == "subscription_activated":
                day = math.floor(event["time"])
                anchors[cid] = (day, event["time"] - day)
    return anchors


def _charge(
    n: int, event: dict, kind: str, card: _Card | None, clock: _Clock, livemode: bool, row: dict
) -> dict:
    cid = event["customer_id"]
    succeeded = event["kind"] in ("payment_succeeded", "invoice_paid")
    decline = AUTHENTICATION_REQUIRED if event["kind"] == "payment_action_required" else event["decline_code"]
    if succeeded:
        outcome = {
            "type": "authorized",
            "reason": None,
            "network_status": "approved_by_network",
            "risk_level": "normal",
            "seller_message": "Payment complete.",
        }
    else:
        message = f"The bank returned the decline code `{decline}`."
        outcome = {
            "type": "issuer_declined",
            "reason": decline,
            "network_status": "declined_by_network",
            "risk_level": "normal",
            "seller_message": message,
        }
    return {
        "id": stripe_id("ch", n + 1),
        "object": "charge",
        "amount": event["amount"],
        "amount_captured": event["amount"] if succeeded else 0,
        "amount_refunded": 0,
        "currency": row["currency"].lower(),
        "customer": stripe_id("cus", cid),
        "invoice": stripe_id("in", event["invoice_id"]),
        "status": "succeeded" if succeeded else "failed",
        "paid": succeeded,
        "captured": succeeded,
        "failure_code": None if succeeded else failure_code_for(decline),
        "failure_message": None if succeeded else "Your card was declined.",
        "outcome": outcome,
        "created": clock(event["time"]),
        "livemode": livemode,
        "payment_method": card.id if card else None,
        "payment_method_details": _method_details(card, kind, cid),
    }


def _invoice(
    inv: dict,
    row: dict,
    period_end: float,
    previous: float | None,
    closed: tuple[str, float] | None,
    next_attempt: int | None,
    charges: list[dict],
    clock: _Clock,
    livemode: bool,
) -> dict:
    cid = inv["customer_id"]
    amount = int(inv["amount"])
    status = inv["status"]
    paid = status == "paid"
    new_signup = inv["period"] == 0 and row["trial_days"] == 0
    created = inv["created_at"]
    return {
        "id": stripe_id("in", inv["invoice_id"]),
        "object": "invoice",
        "customer": stripe_id("cus", cid),
        "customer_email": _email(cid, row),
        "subscription": stripe_id("sub", cid),
        "status": status,
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "subtotal": amount,
        "total": amount,
        "currency": row["currency"].lower(),
        "collection_method": row["collection_method"],
        "billing_reason": "subscription_create" if new_signup else "subscription_cycle",
        "attempt_count": int(inv["attempts"]),
        "attempted": int(inv["attempts"]) > 0,
        "paid": paid,
        "next_payment_attempt": next_attempt,
        "due_date": clock(inv["due_at"]),
        "created": clock(created),
        "period_start": clock(created if previous is None else previous),
        "period_end": clock(created),
        "charge": charges[-1]["id"] if charges else None,
        "status_transitions": {
            "finalized_at": clock(created),
            "paid_at": clock(inv["paid_at"]) if paid else None,
            "voided_at": clock(closed[1]) if closed and closed[0] == "invoice_voided" else None,
            "marked_uncollectible_at": (
                clock(closed[1]) if closed and closed[0] == "invoice_uncollectible" else None
            ),
        },
        "lines": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": stripe_id("il", inv["invoice_id"]),
                    "object": "line_item",
                    "amount": amount,
                    "currency": row["currency"].lower(),
                    "quantity": 1,
                    "period": {"start": clock(created), "end": clock(period_end)},
                    "price": {"id": row["price_id"]},
                }
            ],
        },
        "livemode": livemode,
    }


def _customer(cid: int, row: dict, cards: list[_Card], clock: _Clock, livemode: bool) -> dict:
    metadata = {"timezone": row["timezone"]} if row["timezone"] else {}
    return {
        "id": stripe_id("cus", cid),
        "object": "customer",
        "email": _email(cid, row),
        "name": f"Customer {cid}",
        "created": clock(row["signup_at"]),
        "currency": row["currency"].lower(),
        "address": {"country": row["country"]},
        "preferred_locales": [row["locale"].replace("_", "-")],
        "invoice_settings": {"default_payment_method": cards[-1].id if cards else None},
        "metadata": metadata,
        "livemode": livemode,
    }


def _subscription(
    cid: int,
    row: dict,
    events: list[dict],
    cards: list[_Card],
    last: dict | None,
    anchor: tuple[int, float],
    step: int,
    scenario,
    clock: _Clock,
    livemode: bool,
) -> dict:
    start = scenario.start_date
    trial = row["trial_days"] > 0
    trial_end = row["signup_at"] + row["trial_days"] if trial else None
    canceled = next((e for e in events if e["kind"] == "subscription_canceled"), None)
    as_of = canceled["time"] if canceled else scenario.horizon_days
    if last is not None:
        period = (last["start"], last["end"])
    elif trial:
        period = (row["signup_at"], trial_end)
    else:  # not billed inside the horizon (e.g. an annual plan renewing after it): the period running at
        k = 0  # the horizon's end, or the one a cancellation at a renewal closed
        while boundary(start, anchor[0], anchor[1], k, step) < as_of - 1e-9:
            k += 1
        period = tuple(boundary(start, anchor[0], anchor[1], i, step) for i in (k - 1, k))
    send_invoice = row["collection_method"] == CollectionMethod.SEND_INVOICE
    cohort = scenario.cohorts[row["cohort_index"]]
    item_period = {"current_period_start": clock(period[0]), "current_period_end": clock(period[1])}
    return {
        "id": stripe_id("sub", cid),
        "object": "subscription",
        "customer": stripe_id("cus", cid),
        "status": row["final_status"],
        "collection_method": row["collection_method"],
        "created": clock(row["signup_at"]),
        "start_date": clock(row["signup_at"]),
        "trial_start": clock(row["signup_at"]) if trial else None,
        "trial_end": clock(trial_end),
        **item_period,
        "cancel_at_period_end": False,
        "canceled_at": clock(canceled["time"]) if canceled else None,
        "ended_at": clock(canceled["time"]) if canceled else None,
        "cancellation_details": {
            "reason": None
            if canceled is None
            else ("payment_failed" if canceled["actor"] == "system" else "cancellation_requested")
        },
        "days_until_due": cohort.days_until_due if send_invoice else None,
        "default_payment_method": cards[-1].id if cards else None,
        "latest_invoice": last["id"] if last else None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
        "items": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": stripe_id("si", cid),
                    "object": "subscription_item",
                    "quantity": 1,
                    **item_period,
                    "price": {
                        "id": row["price_id"],
                        "object": "price",
                        "nickname": row["plan"],
                        "unit_amount": int(row["price"]),
                        "currency": row["currency"].lower(),
                        "type": "recurring",
                        "recurring": {"interval": row["interval"], "interval_count": 1},
                    },
                }
            ],
        },
        "livemode": livemode,
    }


# ----------------------------------------------------------------------------------------------- writing


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


def export_stripe(
    run, out_dir: str | Path, fmt: Literal["jsonl", "json"] = "jsonl", csv: bool = True
) -> list[Path]:
    """Export a simulated run as Stripe files in `out_dir`: one file per object type, plus the CSV."""
    return write_export(render_export(export_run(run), fmt, csv), out_dir)
