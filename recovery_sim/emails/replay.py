"""Rebuild the facts of an email that a simulation (or a replayed Stripe export) sent, from its logs.

The email log says who got which type when, and whether a live link went out; the event log and the
customer table supply amount, currency, decline code and dates. Facts a log cannot know (card
details, the customer's real name) are left out or clearly placeholder, never invented as if real.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from recovery_sim.domain import rules
from recovery_sim.domain.enums import EmailType, EventKind, SubscriptionStatus
from recovery_sim.emails.context import EmailContext
from recovery_sim.emails.samples import PERSONAS
from recovery_sim.settings.config import ConfigError

EMAIL_COLUMNS = (
    "sent_at", "time", "customer_id", "invoice_id", "email_type", "link_included", "link_live_until",
    "delivered",
)  # fmt: skip
"""Required columns of `run.emails`; optional `locale` and `timezone` override the customer's."""
EVENT_COLUMNS = ("time", "at", "customer_id", "invoice_id", "kind", "amount", "currency", "decline_code")
CUSTOMER_COLUMNS = (
    "customer_id", "cohort", "plan", "currency", "price", "locale", "timezone", "collection_method",
    "payment_method", "final_status",
)  # fmt: skip


def check_columns(frame: pl.DataFrame, needed: tuple[str, ...], name: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ConfigError(f"{name} frame lacks column(s) {', '.join(missing)}; expected: {', '.join(needed)}")


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _kind(event: dict[str, Any]) -> str:
    return str(event["kind"])


def context_from_log(
    email: dict[str, Any], customer: dict[str, Any], events: list[dict[str, Any]]
) -> EmailContext:
    """The facts behind one row of `run.emails`, given that customer's row and time-sorted events."""
    kind = EmailType(str(email["email_type"]))
    sent_at = _aware(email["sent_at"])
    assert sent_at is not None
    invoice = email.get("invoice_id")
    before = [e for e in events if e["time"] <= email["time"]]
    after = [e for e in events if e["time"] > email["time"]]
    of_invoice = [e for e in events if invoice is not None and e["invoice_id"] == invoice]
    priced = [e for e in of_invoice if e.get("amount")]
    amount = int(priced[0]["amount"]) if priced else int(customer["price"])
    currency = (
        str(priced[0]["currency"]) if priced and priced[0].get("currency") else str(customer["currency"])
    )
    failures = [e for e in before if _kind(e) == EventKind.PAYMENT_FAILED.value]
    decline = next(
        (
            str(e["decline_code"])
            for e in reversed(failures)
            if e["invoice_id"] == invoice and e["decline_code"]
        ),
        None,
    )
    locale = str(email.get("locale") or customer.get("locale") or "en")
    persona = PERSONAS.get(locale, PERSONAS["en"])
    live_until = _aware(email.get("link_live_until"))
    facts: dict[str, Any] = {
        "customer_name": persona["customer_name"],  # a placeholder: logs carry no names
        "customer_email": f"customer-{customer['customer_id']}@example.com",
        "customer_timezone": email.get("timezone") or customer.get("timezone"),
        "amount": amount,
        "currency": currency,
        "subscription_id": f"sub_{customer['customer_id']}",
        "invoice_id": f"in_{invoice}" if invoice is not None else None,
        "plan_name": str(customer.get("plan") or ""),
        "collection_method": str(customer["collection_method"]),
        "payment_method": str(customer.get("payment_method") or "card"),
        "sent_at": sent_at,
        "decline_code": decline,
        "link_included": bool(email["link_included"]),
        "link_live_until": live_until if email["link_included"] else None,
    }
    trial_ends = [e for e in events if _kind(e) == EventKind.TRIAL_ENDED.value]
    if kind in rules.TRIAL_LINK_TYPES:
        lead = dt.timedelta(days=rules.TRIAL_REMINDER_LEAD_DAYS if kind is EmailType.TRIAL_WILL_END else 0)
        facts["trial_end"] = _aware(trial_ends[0]["at"]) if trial_ends else sent_at + lead  # R6a
        facts["had_payment_method"] = not any(_kind(e) == EventKind.SUBSCRIPTION_PAUSED.value for e in events)
    else:
        next_invoice = next((e for e in after if _kind(e) == EventKind.INVOICE_CREATED.value), None)
        facts["period_end"] = live_until or (_aware(next_invoice["at"]) if next_invoice else None)  # R11d
    if kind is EmailType.CARD_EXPIRING:
        if customer.get("card_exp_month") and customer.get("card_exp_year"):
            facts["card_exp_month"], facts["card_exp_year"] = (
                customer["card_exp_month"],
                customer["card_exp_year"],
            )
        else:  # R9: the email goes out at the start of the card's last valid month
            facts["card_exp_month"], facts["card_exp_year"] = sent_at.month, sent_at.year
    if kind is EmailType.SUBSCRIPTION_CANCELED:
        facts["subscription_status"] = SubscriptionStatus.CANCELED
        facts["cancellation_reason"] = "payment_failed" if failures else "requested"
    return EmailContext.coerce(facts)
