"""Fixed test data of the email tests: a signing key and a tiny hand-built simulation run.

Plain module (not a conftest) so the browser tests can import it by a name no other test folder uses.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import polars as pl

from recovery_sim.domain.enums import Actor, EmailType, EventKind
from recovery_sim.emails.links import SigningKey

TEST_KEY = SigningKey(b"test-only-link-key-0123456789abcdef", "test key")
"""A fixed key for deterministic tests and golden files; it signs nothing outside the test suite."""

UTC = dt.UTC


def _at(day: float) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(days=day)


def tiny_run() -> SimpleNamespace:
    """Two customers, with the columns and dtypes of a simulation run's frames.

    Customer 1 (fr, card) fails a payment, gets payment_failed with a live link, then a retry succeeds.
    Customer 2 (en, no time zone, send_invoice) gets an invoice reminder (no link, R10b) and is canceled.
    """
    email_enum = pl.Enum([t.value for t in EmailType])
    kind_enum = pl.Enum([k.value for k in EventKind])
    actor_enum = pl.Enum([a.value for a in Actor])
    utc = pl.Datetime("us", "UTC")
    emails = pl.DataFrame(
        {
            "sent_at": [_at(31.1), _at(40.0), _at(45.0)],
            "time": [31.1, 40.0, 45.0],
            "customer_id": [1, 2, 2],
            "invoice_id": [10, 20, None],
            "email_type": ["payment_failed", "invoice_reminder", "subscription_canceled"],
            "link_included": [True, False, False],
            "link_live_until": [_at(59.0), None, None],
            "delivered": [True, True, False],
            "locale": ["fr", "en", "en"],
            "timezone": ["Europe/Paris", None, None],
        },
        schema_overrides={"email_type": email_enum, "sent_at": utc, "link_live_until": utc},
    )
    events = pl.DataFrame(
        {
            "time": [31.0, 31.1, 34.1, 34.1, 30.0, 45.0],
            "at": [_at(31.0), _at(31.1), _at(34.1), _at(34.1), _at(30.0), _at(45.0)],
            "customer_id": [1, 1, 1, 1, 2, 2],
            "invoice_id": [10, 10, 10, 10, 20, None],
            "kind": [
                "invoice_created",
                "payment_failed",
                "payment_succeeded",
                "invoice_paid",
                "invoice_created",
                "subscription_canceled",
            ],
            "amount": [4900, 4900, 4900, 4900, 19000, 0],
            "currency": ["EUR", "EUR", "EUR", "EUR", "USD", "USD"],
            "decline_code": ["", "insufficient_funds", "", "", "", ""],
            "actor": ["system", "system", "retry", "retry", "system", "system"],
        },
        schema_overrides={"kind": kind_enum, "actor": actor_enum, "at": utc},
    )
    customers = pl.DataFrame(
        {
            "customer_id": [1, 2],
            "cohort": ["existing base", "2026 signups"],
            "plan": ["Team monthly", "Team annual"],
            "currency": ["EUR", "USD"],
            "price": [4900, 19000],
            "locale": ["fr", "en"],
            "timezone": ["Europe/Paris", None],
            "collection_method": ["charge_automatically", "send_invoice"],
            "payment_method": ["card", "sepa_debit"],
            "final_status": ["active", "canceled"],
        }
    )
    return SimpleNamespace(emails=emails, events=events, customers=customers)


def dunning_run() -> SimpleNamespace:
    """Customer 3 (pt_BR, São Paulo, card): two renewals paid at the first attempt, then invoice 31
    fails twice, gets the final notice, and the subscription is canceled at the last retry."""
    email_enum = pl.Enum([t.value for t in EmailType])
    kind_enum = pl.Enum([k.value for k in EventKind])
    actor_enum = pl.Enum([a.value for a in Actor])
    utc = pl.Datetime("us", "UTC")
    emails = pl.DataFrame(
        {
            "sent_at": [_at(0.0), _at(31.0), _at(59.0), _at(59.756), _at(70.0)],
            "time": [0.0, 31.0, 59.0, 59.756, 70.0],
            "customer_id": [3] * 5,
            "invoice_id": [29, 30, 31, 31, 31],
            "email_type": [
                "invoice_paid",
                "invoice_paid",
                "payment_failed",
                "payment_failed",
                "final_notice",
            ],
            "link_included": [False, False, True, True, True],
            "link_live_until": [None, None, _at(73.0), _at(73.0), _at(73.0)],
            "delivered": [True] * 5,
        },
        schema_overrides={"email_type": email_enum, "sent_at": utc, "link_live_until": utc},
    )
    times = [0.0, 0.0, 0.0, 31.0, 31.0, 31.0, 59.0, 59.0, 59.756, 73.0, 73.0]
    kinds = [
        "invoice_created", "payment_succeeded", "invoice_paid",
        "invoice_created", "payment_succeeded", "invoice_paid",
        "invoice_created", "payment_failed", "payment_failed", "payment_failed", "subscription_canceled",
    ]  # fmt: skip
    events = pl.DataFrame(
        {
            "time": times,
            "at": [_at(t) for t in times],
            "customer_id": [3] * len(times),
            "invoice_id": [29, 29, 29, 30, 30, 30, 31, 31, 31, 31, None],
            "kind": kinds,
            "amount": [4900] * 10 + [0],
            "currency": ["BRL"] * len(times),
            "decline_code": [""] * 7 + ["insufficient_funds"] * 3 + [""],
            "actor": ["system"] * 8 + ["retry", "retry", "system"],
            "attempt": [0, 1, 1, 0, 1, 1, 0, 1, 2, 8, 0],
        },
        schema_overrides={"kind": kind_enum, "actor": actor_enum, "at": utc},
    )
    customers = pl.DataFrame(
        {
            "customer_id": [3],
            "cohort": ["Brasil"],
            "plan": ["Equipe mensal"],
            "interval": ["month"],
            "currency": ["BRL"],
            "price": [4900],
            "locale": ["pt_BR"],
            "timezone": ["America/Sao_Paulo"],
            "collection_method": ["charge_automatically"],
            "payment_method": ["card"],
            "final_status": ["canceled"],
        }
    )
    return SimpleNamespace(emails=emails, events=events, customers=customers)
