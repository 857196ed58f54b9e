"""Rebuild the facts of an email that a simulation (or a replayed Stripe export) sent, from its logs.

The email log says who got which type when, and whether a live link went out; the event log and the
customer table supply amount, currency, plan, decline code, dates and where dunning stands (which
attempt failed, when the next one is, whether it was the last). Facts a log cannot know (card details,
the customer's real name) are left out or clearly placeholder, never invented as if real.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from recovery_sim.domain import rules
from recovery_sim.domain.enums import Actor, EmailType, EventKind, PaymentMethodKind, SubscriptionStatus
from recovery_sim.emails import boleto
from recovery_sim.emails.branding import Branding
from recovery_sim.emails.context import EmailContext, epoch_days, from_epoch_days
from recovery_sim.emails.samples import PERSONAS
from recovery_sim.settings.config import ConfigError, Policy

EMAIL_COLUMNS = (
    "sent_at", "time", "customer_id", "invoice_id", "email_type", "link_included", "link_live_until",
    "delivered",
)  # fmt: skip
"""Required columns of `run.emails`; optional `locale` and `timezone` override the customer's."""
EVENT_COLUMNS = ("time", "at", "customer_id", "invoice_id", "kind", "amount", "currency", "decline_code")
"""Required columns of `run.events`; the optional `attempt` and `actor` columns date the retries."""
CUSTOMER_COLUMNS = (
    "customer_id", "cohort", "plan", "currency", "price", "locale", "timezone", "collection_method",
    "payment_method", "final_status",
)  # fmt: skip
"""Required columns of `run.customers`; the optional `interval` says how often the price recurs."""
PLACEHOLDER_NOTE = "the name and address are placeholders: the logs hold none"
"""How timelines label the facts a log cannot know."""

_FAILED, _PAID = EventKind.PAYMENT_FAILED.value, EventKind.PAYMENT_SUCCEEDED.value
_ENDS = {EventKind.SUBSCRIPTION_CANCELED.value, EventKind.SUBSCRIPTION_UNPAID.value}


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


def _dunning(
    email: dict[str, Any], invoice: Any, events: list[dict[str, Any]], policy: Policy | None
) -> dict[str, Any]:
    """Where the invoice's dunning stood when the email went out, from the events, else the policy.

    The attempt is the latest failed one; the next attempt is the retry the events show after the email
    (retries happen on schedule) or, when none happened (paid meanwhile), the policy's schedule; the
    last attempt is the one the end-of-dunning action followed at the same instant.
    """
    failures = [e for e in events if _kind(e) == _FAILED and e["invoice_id"] == invoice]
    done = [e for e in failures if e["time"] <= email["time"] + 1e-9]
    if not done:
        return {}
    first, latest = failures[0], done[-1]
    attempt = int(latest.get("attempt") or len(done))
    retries = [
        e
        for e in events
        if e["invoice_id"] == invoice
        and _kind(e) in (_FAILED, _PAID)
        and e["time"] > latest["time"] + 1e-9
        and str(e.get("actor") or "") == Actor.RETRY.value
    ]
    ended = any(_kind(e) in _ENDS and abs(e["time"] - latest["time"]) < 1e-6 for e in events)
    facts: dict[str, Any] = {"attempt": attempt, "is_last_attempt": ended}
    if retries:
        facts["next_attempt_at"] = _aware(retries[0]["at"])
    if policy is not None:
        t0 = epoch_days(_aware(first["at"]))
        planned = rules.next_attempt_at(policy, t0, attempt)
        facts["next_attempt_at"] = facts.get("next_attempt_at") or (
            from_epoch_days(planned) if planned is not None else None
        )
        facts["is_last_attempt"] = ended or rules.is_last_attempt(policy, attempt)
        facts["attempts_allowed"] = rules.attempts_allowed(policy)
        facts["dunning_ends_at"] = from_epoch_days(rules.dunning_ends_at(policy, t0))
        facts["end_action"] = policy.end_action
    if facts["is_last_attempt"]:
        facts["next_attempt_at"] = None
    return facts


def context_from_log(
    email: dict[str, Any],
    customer: dict[str, Any],
    events: list[dict[str, Any]],
    *,
    policy: Policy | None = None,
    branding: Branding | None = None,
) -> EmailContext:
    """The facts behind one row of `run.emails`, given that customer's row and time-sorted events.

    `policy` (the run's) dates the retries and the end of dunning where the events cannot; `branding`
    numbers the invoice the way the account does (default: the default brand's prefix).
    """
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
    brand = branding or Branding.default()
    facts: dict[str, Any] = {
        "customer_name": persona["customer_name"],  # a placeholder: logs carry no names (PLACEHOLDER_NOTE)
        "customer_email": f"customer-{customer['customer_id']}@example.com",
        "customer_timezone": email.get("timezone") or customer.get("timezone"),
        "amount": amount,
        "currency": currency,
        "subscription_id": f"sub_{customer['customer_id']}",
        "invoice_id": f"in_{invoice}" if invoice is not None else None,
        "invoice_number": brand.invoice_number(int(invoice)) if invoice is not None else None,
        "plan_name": str(customer.get("plan") or ""),
        "plan_interval": customer.get("interval") or None,
        "collection_method": str(customer["collection_method"]),
        "payment_method": str(customer.get("payment_method") or "card"),
        "sent_at": sent_at,
        "decline_code": decline,
        "link_included": bool(email["link_included"]),
        "link_live_until": live_until if email["link_included"] else None,
    }
    if kind in (EmailType.PAYMENT_FAILED, EmailType.FINAL_NOTICE):
        facts.update(_dunning(email, invoice, events, policy))
    trial_ends = [e for e in events if _kind(e) == EventKind.TRIAL_ENDED.value]
    if kind in rules.TRIAL_LINK_TYPES:
        lead = dt.timedelta(days=rules.TRIAL_REMINDER_LEAD_DAYS if kind is EmailType.TRIAL_WILL_END else 0)
        facts["trial_end"] = _aware(trial_ends[0]["at"]) if trial_ends else sent_at + lead  # R6a
        facts["had_payment_method"] = not any(_kind(e) == EventKind.SUBSCRIPTION_PAUSED.value for e in events)
    else:
        next_invoice = next((e for e in after if _kind(e) == EventKind.INVOICE_CREATED.value), None)
        facts["period_end"] = live_until or (_aware(next_invoice["at"]) if next_invoice else None)  # R11d
    if kind is EmailType.SUBSCRIPTION_CANCELED:
        facts["subscription_status"] = SubscriptionStatus.CANCELED
        facts["cancellation_reason"] = "payment_failed" if failures else "requested"
    facts.update(_special_facts(kind, facts, customer, events))
    return EmailContext.coerce(facts)


def _special_facts(
    kind: EmailType, facts: dict[str, Any], customer: dict[str, Any], events: list[dict[str, Any]]
) -> dict[str, Any]:
    """The facts only some types need: the card's expiry (R9), the pending payment and its Boleto (R8)."""
    sent_at = facts["sent_at"]
    if kind is EmailType.CARD_EXPIRING:
        if customer.get("card_exp_month") and customer.get("card_exp_year"):
            return {"card_exp_month": customer["card_exp_month"], "card_exp_year": customer["card_exp_year"]}
        return {"card_exp_month": sent_at.month, "card_exp_year": sent_at.year}  # R9: its last valid month
    if kind in (EmailType.PAYMENT_ACTION_REQUIRED, EmailType.PAYMENT_ACTION_REMINDER):
        return _confirmation(facts, events)
    return {}


def _confirmation(facts: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """R8: when the pending payment expires (its expiry event), and a Boleto's typable line."""
    invoice = facts["invoice_id"]
    expiry = next(
        (
            e
            for e in events
            if _kind(e) == EventKind.PAYMENT_EXPIRED.value and f"in_{e['invoice_id']}" == invoice
        ),
        None,
    )
    out: dict[str, Any] = {}
    if expiry is not None:
        out["payment_expires_at"] = _aware(expiry["at"])
    if facts["payment_method"] == PaymentMethodKind.BOLETO.value and invoice is not None:
        due = (out.get("payment_expires_at") or facts["sent_at"]).date()
        number = int(invoice.removeprefix("in_"))
        out["boleto_line"] = boleto.placeholder_line(number, due, facts["amount"])
    return out
