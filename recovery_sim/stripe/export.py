"""A simulated run as Stripe API objects: customers, subscriptions, invoices, charges, payment methods.

Why: the importer, the replay and the calibration must work on real Stripe exports. Writing simulated
runs in exactly Stripe's shapes (field names, enum values, Unix-second UTC timestamps, amounts in minor
units, lowercase currencies) gives a round trip whose true parameters are known, and the sample files
under tests/fixtures/stripe. What Stripe has no object for (emails, link clicks, latent behaviour) is
not exported; docs/stripe.md lists it. This module follows the run (who held which card when, which
invoice was closed, the billing anchors); `export_shapes` builds the objects, `export_files` the files.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from recovery_sim.domain.calendar import boundary
from recovery_sim.domain.enums import PaymentMethodKind, PlanInterval
from recovery_sim.simulation.customers import generate, new_card_expiry
from recovery_sim.simulation.rng import Streams
from recovery_sim.stripe import export_shapes as shapes
from recovery_sim.stripe.export_files import render_export, write_export
from recovery_sim.stripe.export_shapes import Card, Clock
from recovery_sim.stripe.ids import stripe_id

OBJECT_TYPES = ("customers", "subscriptions", "invoices", "charges", "payment_methods")
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


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, built from whole columns (much faster than iterating a frame row by row)."""
    names = frame.columns
    columns = [frame[c].to_list() for c in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


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


def _payment_methods(
    rows: dict[int, dict], customers, streams: Streams, start: dt.date, lifecycle: dict[int, list[dict]]
) -> dict[int, list[Card]]:
    """Each customer's payment methods in time order: the one at signup, then one per update event.

    A trial that starts without a payment method (R6b) has none until the customer adds one.
    """
    out: dict[int, list[Card]] = {}
    for j, cid in enumerate(customers.ids.tolist()):
        row = rows[cid]
        kind = row["payment_method"]
        cards: list[Card] = []
        if not customers.trial_without_method[j]:
            cards.append(
                Card(
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
            cards.append(Card(stripe_id("pm", number), kind, event["time"], month, year))
        out[cid] = cards
    return out


def _card_at(cards: list[Card], t: float) -> Card | None:
    """The payment method on file at time t (the latest created at or before t)."""
    index = bisect.bisect_right([c.created for c in cards], t + 1e-9) - 1
    return cards[index] if index >= 0 else None


@dataclass
class _RunFacts:
    """What every object of one customer is built from: the run's rows and events, by customer id."""

    scenario: Any
    clock: Clock
    livemode: bool
    ids: list[int]
    rows: dict[int, dict]
    lifecycle: dict[int, list[dict]]
    cards: dict[int, list[Card]]
    anchors: dict[int, tuple[int, float]]
    steps: dict[int, int]


def _facts(run) -> _RunFacts:
    scenario = run.scenario
    start = scenario.start_date
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
    return _RunFacts(
        scenario=scenario,
        clock=Clock(start),
        livemode=not scenario.test_mode.enabled,
        ids=ids.tolist(),
        rows=rows,
        lifecycle=lifecycle,
        cards=_payment_methods(rows, customers, streams, start, lifecycle),
        anchors=_anchors(customers, lifecycle),
        steps={
            row["customer_id"]: 12 if row["interval"] == PlanInterval.YEAR else 1 for row in rows.values()
        },
    )


def export_run(run) -> StripeObjects:
    """Map a simulated `Run` to Stripe objects as a list endpoint would return them at the horizon's end."""
    facts = _facts(run)
    out = StripeObjects()
    for cid in facts.ids:
        for card in facts.cards[cid]:
            out.payment_methods.append(
                shapes.payment_method(card, cid, facts.rows[cid], facts.clock, facts.livemode)
            )
    payments = run.events.filter(pl.col("kind").cast(pl.String).is_in(_PAYMENT_KINDS)).with_columns(
        pl.col("kind").cast(pl.String), pl.col("decline_code").cast(pl.String)
    )
    charges_by_invoice = _charges(payments, facts, out)
    last_invoice = _invoices(run, payments, charges_by_invoice, facts, out)
    for cid in facts.ids:
        row = facts.rows[cid]
        out.customers.append(shapes.customer(cid, row, facts.cards[cid], facts.clock, facts.livemode))
        out.subscriptions.append(
            shapes.subscription(
                cid,
                row,
                facts.lifecycle.get(cid, []),
                facts.cards[cid],
                last_invoice.get(cid),
                facts.anchors[cid],
                facts.steps[cid],
                facts.scenario,
                facts.clock,
                facts.livemode,
            )
        )
    for name in OBJECT_TYPES:
        getattr(out, name).sort(key=lambda o: (o["created"], o["id"]))
    return out


def _charges(payments: pl.DataFrame, facts: _RunFacts, out: StripeObjects) -> dict[int, list[dict]]:
    """One charge per payment event (none for a Boleto request: no charge exists until it is paid)."""
    charges_by_invoice: dict[int, list[dict]] = defaultdict(list)
    for n, event in enumerate(_rows(payments)):
        cid = event["customer_id"]
        row = facts.rows[cid]
        kind = row["payment_method"]
        if event["kind"] == "payment_action_required" and kind != PaymentMethodKind.CARD:
            continue  # Boleto: no charge exists until the voucher is paid
        card = _card_at(facts.cards[cid], event["time"])
        charge = shapes.charge(n, event, kind, card, facts.clock, facts.livemode, row)
        out.charges.append(charge)
        charges_by_invoice[event["invoice_id"]].append(charge)
    return charges_by_invoice


def _invoices(
    run,
    payments: pl.DataFrame,
    charges_by_invoice: dict[int, list[dict]],
    facts: _RunFacts,
    out: StripeObjects,
) -> dict[int, dict]:
    """One invoice per simulated invoice; gives each customer's last one (id, period) for its subscription."""
    start = facts.scenario.start_date
    closed: dict[int, tuple[str, float]] = {}
    for events in facts.lifecycle.values():
        for event in events:
            if event["kind"] in ("invoice_voided", "invoice_uncollectible"):
                closed[event["invoice_id"]] = (event["kind"], event["time"])
    first_failure: dict[int, float] = {}
    for event in _rows(payments.filter(pl.col("kind") == "payment_failed")):
        first_failure.setdefault(event["invoice_id"], event["time"])
    offsets = run.policy.retries.offsets()
    last_invoice: dict[int, dict] = {}
    for inv in _rows(run.invoices.with_columns(pl.col("status").cast(pl.String))):
        cid = inv["customer_id"]
        anchor_day, anchor_frac = facts.anchors[cid]
        step = facts.steps[cid]
        period_end = boundary(start, anchor_day, anchor_frac, inv["period"] + 1, step)
        previous = None
        if inv["period"]:
            previous = boundary(start, anchor_day, anchor_frac, inv["period"] - 1, step)
        next_attempt = None
        if inv["status"] == "open" and inv["invoice_id"] in first_failure:
            later = [first_failure[inv["invoice_id"]] + o for o in offsets]
            later = [t for t in later if t >= facts.scenario.horizon_days]
            next_attempt = facts.clock(later[0]) if later else None
        invoice = shapes.invoice(
            inv,
            facts.rows[cid],
            period_end,
            previous,
            closed.get(inv["invoice_id"]),
            next_attempt,
            charges_by_invoice.get(inv["invoice_id"], []),
            facts.clock,
            facts.livemode,
        )
        out.invoices.append(invoice)
        last_invoice[cid] = {"id": invoice["id"], "start": inv["created_at"], "end": period_end}
    return last_invoice


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


def export_stripe(
    run, out_dir: str | Path, fmt: Literal["jsonl", "json"] = "jsonl", csv: bool = True
) -> list[Path]:
    """Export a simulated run as Stripe files in `out_dir`: one file per object type, plus the CSV."""
    return write_export(render_export(export_run(run), fmt, csv), out_dir)
