"""The simulator's rows as Stripe API objects (plain dicts in the shape of API versions before
2025-03-31: `invoice.subscription`, `invoice.charge`, `charge.invoice`), one builder per object type.

Why apart from the run's bookkeeping (`export.py`): another API version's shapes are another module of
builders with these signatures. What Stripe has that the simulator lacks is made up plainly (names,
card brand and last4); docs/stripe.md lists the choices.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from recovery_sim.domain.calendar import boundary
from recovery_sim.domain.enums import CollectionMethod, PaymentMethodKind
from recovery_sim.stripe.ids import stripe_id

ERROR_CODES = frozenset({"expired_card", "incorrect_number", "processing_error"})
"""Declines Stripe reports as their own `failure_code`; every other issuer decline is `card_declined`."""
AUTHENTICATION_REQUIRED = "authentication_required"
CARD_BRANDS = ("visa", "mastercard", "amex")


def failure_code_for(decline: str) -> str:
    """Stripe's charge `failure_code` for an issuer decline code (the code itself goes in outcome.reason)."""
    if decline == AUTHENTICATION_REQUIRED or decline in ERROR_CODES:
        return decline
    return "card_declined"


class Clock:
    """Simulation days → Unix seconds (UTC), truncated to whole seconds as Stripe stores them."""

    def __init__(self, start: dt.date) -> None:
        self.start = start
        self.epoch = int(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC).timestamp())

    def __call__(self, days: float | None) -> int | None:
        if days is None or not math.isfinite(days):
            return None
        return self.epoch + math.floor(days * 86_400 + 1e-6)


@dataclass
class Card:
    """One payment method a customer held from `created` (simulation days) on."""

    id: str
    kind: str
    created: float
    exp_month: int = 0
    exp_year: int = 0


def _method_details(card: Card | None, kind: str, cid: int) -> dict[str, Any]:
    details: dict[str, Any] = {"type": kind}
    if card is not None and kind == PaymentMethodKind.CARD:
        details["card"] = {
            "brand": CARD_BRANDS[cid % 3],
            "last4": f"{(cid * 7919 + 4242) % 10000:04d}",
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        }
    return details


def payment_method(card: Card, cid: int, row: dict, clock: Clock, livemode: bool) -> dict[str, Any]:
    pm: dict[str, Any] = {
        "id": card.id,
        "object": "payment_method",
        "type": card.kind,
        "customer": stripe_id("cus", cid),
        "created": clock(card.created),
        "livemode": livemode,
        "billing_details": {"email": email(cid, row), "address": {"country": row["country"]}},
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


def email(cid: int, row: dict) -> str:
    """R12 needs to know whose address is on the verified domain or a team member's: the domain says so."""
    domain = {"verified_domain": "verified.example.com", "team_member": "team.example.com"}.get(
        row["recipient"], "customers.example.com"
    )
    return f"customer{cid}@{domain}"


def charge(
    n: int, event: dict, kind: str, card: Card | None, clock: Clock, livemode: bool, row: dict
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


def invoice(
    inv: dict,
    row: dict,
    period_end: float,
    previous: float | None,
    closed: tuple[str, float] | None,
    next_attempt: int | None,
    charges: list[dict],
    clock: Clock,
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
        "customer_email": email(cid, row),
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


def customer(cid: int, row: dict, cards: list[Card], clock: Clock, livemode: bool) -> dict:
    metadata = {"timezone": row["timezone"]} if row["timezone"] else {}
    return {
        "id": stripe_id("cus", cid),
        "object": "customer",
        "email": email(cid, row),
        "name": f"Customer {cid}",
        "created": clock(row["signup_at"]),
        "currency": row["currency"].lower(),
        "address": {"country": row["country"]},
        "preferred_locales": [row["locale"].replace("_", "-")],
        "invoice_settings": {"default_payment_method": cards[-1].id if cards else None},
        "metadata": metadata,
        "livemode": livemode,
    }


def subscription(
    cid: int,
    row: dict,
    events: list[dict],
    cards: list[Card],
    last: dict | None,
    anchor: tuple[int, float],
    step: int,
    scenario,
    clock: Clock,
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
