"""More invariants over random scenarios and policies, on both engine paths (hypothesis).

tests/properties/test_invariants.py already proves, per random world: recording order, no email after
a cancellation, no hosted link for send_invoice, finite link deadlines, no recovery through a dead
link, R12 delivery, the R13 log window, money conservation per currency over invoices, one success per
invoice, and fast path = reference path. This module adds what those leave open:

- money, event by event, in integer minor units, over several currencies (zero-decimal JPY included):
  each paid invoice's payment row carries its amount, time and payer; the headline summary adds up;
- no payment activity on an invoice after it was settled, and attempts numbered 1, 2, 3 …;
- event times inside the horizon, and `at`/`sent_at` the same instants as `time`;
- cancellation: one notice at most, only for a canceled subscription, only when switched on;
  `final_status` says canceled exactly when the events do;
- links only on R3 types, a deadline exactly when a link is included, never a hosted management link
  for send_invoice customers;
- a dead link is a dead end: nothing a customer does through a link happens at that instant;
- test mode: customers R12 keeps email from never act through a link;
- one schema per frame whatever the data (an empty shard, a column with no value);
- determinism: the same seed twice, shards (empty ones too) concatenated = the whole run, and the same
  comparison whatever the executor (in-process vs a 2-process pool) through `experiment.compare` /
  `run_task`.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from recovery_sim import api
from recovery_sim.analysis.breakdowns import shard_metrics
from recovery_sim.analysis.metrics import summary
from recovery_sim.domain import rules
from recovery_sim.experiments.compare import compare
from recovery_sim.experiments.executors import InlineExecutor, open_executor
from recovery_sim.experiments.units import Task, run_task
from recovery_sim.settings.config import RENEWAL_REMINDER_DAYS, Policy, Scenario

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUCCESS = ("payment_succeeded", "invoice_paid")
PAYMENT = ("payment_succeeded", "invoice_paid", "payment_failed", "payment_action_required")
SWITCHES = ("payment_failed", "invoice_reminders", "trial_will_end", "upcoming_renewal",
            "payment_action_required", "payment_action_reminders", "card_expiring", "receipts",
            "invoice_finalized", "subscription_canceled")  # fmt: skip
CURRENCIES = [("EUR",), ("EUR", "BRL"), ("JPY", "USD"), ("GBP", "JPY", "EUR")]


def probability(high: float = 1.0):
    return st.floats(0.0, high, allow_nan=False).map(lambda x: round(x, 2))


def shares(n: int) -> list[float]:
    """n shares adding up to exactly 1 (the last one takes the rounding)."""
    each = [round(1.0 / n, 2)] * (n - 1)
    return [*each, round(1.0 - sum(each), 2)]


@st.composite
def scenarios(draw) -> Scenario:
    currencies = draw(st.sampled_from(CURRENCIES))
    plans = [
        {
            "name": f"{code} {interval}",
            "interval": interval,
            "price": draw(st.integers(1, 250_000)),
            "currency": code,
            "share": share,
        }
        for (code, interval), share in zip(
            [(c, draw(st.sampled_from(["month", "year"]))) for c in currencies],
            shares(len(currencies)),
            strict=True,
        )
    ]
    boleto = draw(st.sampled_from([0.0, 0.25]))
    common = {
        "plans": plans,
        "countries": [
            {"code": "FR", "share": 0.5, "timezone": "Europe/Paris", "locale": "fr"},
            {"code": "BR", "share": 0.5, "timezone": "America/Sao_Paulo", "locale": "pt_BR"},
        ],
        "payment_mix": {"card": round(0.9 - boleto, 2), "sepa_debit": 0.1, "boleto": boleto},
        "first_attempt_failure_rate": draw(probability(0.7)),
        "three_ds_share": draw(probability(0.4)),
        "send_invoice_share": draw(probability(0.4)),
        "card_expiry_months_max": draw(st.integers(1, 24)),
        "days_until_due": draw(st.integers(1, 30)),
    }
    cohorts = [
        {**common, "name": "base", "customers": draw(st.integers(5, 40)), "signup_month": "2025-03",
         "signup_spread_months": 10},
        {**common, "name": "new", "customers": draw(st.integers(5, 40)), "signup_month": "2026-01",
         "signup_spread_months": draw(st.integers(1, 4)), "trial_share": draw(probability()),
         "trial_days": draw(st.sampled_from([3, 14])),
         "trial_without_payment_method_share": draw(probability())},
    ]  # fmt: skip
    return Scenario.model_validate(
        {
            "name": "drawn",
            "start_date": "2026-01-01",
            "horizon_months": draw(st.integers(2, 6)),
            "account_timezone": "UTC",
            "cohorts": cohorts,
            "card_updater_rate": draw(probability()),
            "behaviour": {
                "act_delay_days": draw(st.sampled_from([0.01, 1.5, 12.0])),
                "spontaneous_fix_rate": draw(probability(0.5)),
                "confirm_unprompted": draw(probability()),
                "voluntary_churn_monthly": draw(probability(0.2)),
                "reminder_cancel_propensity": draw(probability(0.5)),
                "trial_cancel_share": draw(probability(0.5)),
                "send_invoice_pay_share": draw(probability()),
                "send_invoice_write_off_days": draw(st.integers(1, 40)),
                "act_on_email": {
                    t: draw(probability())
                    for t in (
                        "payment_failed",
                        "payment_action_required",
                        "card_expiring",
                        "trial_will_end",
                        "upcoming_renewal",
                        "invoice_reminder",
                    )
                },
            },  # fmt: skip
            "test_mode": {
                "enabled": draw(st.booleans()),
                "verified_domain_share": draw(probability(0.4)),
                "team_member_share": draw(probability(0.3)),
            },
        }
    )


@st.composite
def policies(draw) -> Policy:
    emails = {name: draw(st.booleans()) for name in SWITCHES}
    emails["upcoming_renewal_days"] = draw(st.sampled_from(RENEWAL_REMINDER_DAYS))
    emails["upcoming_renewal_intervals"] = draw(st.sampled_from([["year"], ["month", "year"]]))
    management = draw(st.sampled_from(["none", "hosted", "custom"]))
    return Policy.model_validate(
        {
            "name": "drawn",
            "emails": emails,
            "links": {
                "update_payment": draw(st.sampled_from(["hosted", "custom"])),
                "update_payment_url": "https://example.com/billing",
                "subscription_management": management,
                "subscription_management_url": "https://example.com/account",
            },
            "retries": {
                "mode": draw(st.sampled_from(["fixed", "smart"])),
                "fixed_offsets_days": sorted(draw(st.sets(st.integers(1, 28), min_size=1, max_size=4))),
                "max_attempts": draw(st.integers(1, 8)),
                "retry_hard_declines": draw(st.booleans()),
            },
            "end_action": draw(st.sampled_from(["cancel", "mark_unpaid", "leave_past_due"])),
        }
    )


def text(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String)


# --------------------------------------------------------------------------------------------- checks


def check_money_in_minor_units(run) -> None:
    for frame, columns in ((run.events, ["amount"]), (run.invoices, ["amount"]), (run.customers, ["price"])):
        for column in columns:
            assert frame.schema[column] == pl.Int64, column
    prices = run.customers.select("customer_id", "price", pl.col("currency").alias("plan_currency"))
    invoices = run.invoices.join(prices, on="customer_id")
    assert (invoices["amount"] == invoices["price"]).all()  # an invoice bills the plan price, unconverted
    assert (invoices["currency"].cast(pl.String) == invoices["plan_currency"]).all()
    # Every paid invoice: exactly one success row, with its amount, currency, time and payer.
    paid = run.invoices.filter(text("status") == "paid")
    success = run.events.filter(text("kind").is_in(SUCCESS)).select(
        "invoice_id", pl.col("amount").alias("paid_amount"), pl.col("time").alias("paid_time"),
        text("actor").alias("actor"), text("currency").alias("paid_currency"),
    )  # fmt: skip
    both = paid.join(success, on="invoice_id", how="full", coalesce=True)
    assert both.height == paid.height == success.height
    assert (both["amount"] == both["paid_amount"]).all()
    assert (both["paid_at"] == both["paid_time"]).all()
    assert (both["paid_by"].cast(pl.String) == both["actor"]).all()
    assert (both["currency"].cast(pl.String) == both["paid_currency"]).all()
    # The headline summary adds up, per currency, in integers.
    table = summary(run)
    for row in table.iter_rows(named=True):
        mine = run.invoices.filter(text("currency") == row["currency"])
        assert row["billed"] == mine["amount"].sum()
        assert (
            row["collected"]
            == success.filter(pl.col("paid_currency") == row["currency"])["paid_amount"].sum()
        )
        assert row["billed"] == row["collected"] + row["open"] + row["uncollectible"] + row["void"]
    assert set(table["currency"]) == set(run.customers["currency"])


def check_no_payment_after_settlement(run) -> None:
    settled = run.events.filter(text("kind").is_in([*SUCCESS, "invoice_voided", "invoice_uncollectible"]))
    end = dict(settled.group_by("invoice_id").agg(pl.col("time").min()).iter_rows())
    assert settled.group_by("invoice_id").len()["len"].max() in (None, 1)  # settled once
    payments = run.events.filter(text("kind").is_in(PAYMENT))
    for invoice, t, kind in payments.select("invoice_id", "time", text("kind")).iter_rows():
        if invoice in end:
            assert t <= end[invoice], (invoice, kind, t, end[invoice])
    numbered = run.events.filter(text("kind").is_in(["payment_failed", "payment_succeeded"]))
    attempts = numbered.group_by("invoice_id", maintain_order=True).agg(pl.col("attempt"))
    for invoice, seq in attempts.iter_rows():
        assert seq == sorted(seq) and len(set(seq)) == len(seq) and seq[0] >= 1, (invoice, seq)


def check_times(run) -> None:
    horizon = run.scenario.horizon_days
    origin = dt.datetime.combine(run.scenario.start_date, dt.time(), tzinfo=dt.UTC)
    for frame, stamp in ((run.events, "at"), (run.emails, "sent_at")):
        if frame.is_empty():
            continue
        assert frame["time"].min() >= 0 and frame["time"].max() < horizon
        seconds = (frame[stamp] - origin).dt.total_microseconds() / 1e6
        assert (seconds - frame["time"] * 86_400).abs().max() < 1e-3


def check_cancellation(run) -> None:
    canceled = set(run.events.filter(text("kind") == "subscription_canceled")["customer_id"])
    assert run.events.filter(text("kind") == "subscription_canceled")["customer_id"].is_unique().all()
    final = dict(run.customers.select("customer_id", "final_status").iter_rows())
    assert {c for c, status in final.items() if status == "canceled"} == canceled
    notices = run.emails.filter(text("email_type") == "subscription_canceled")["customer_id"]
    assert notices.is_unique().all() and set(notices) <= canceled
    if not run.policy.emails.subscription_canceled:
        assert notices.is_empty()


def check_links(run) -> None:
    emails = run.emails
    assert (emails["link_included"] == emails["link_live_until"].is_not_null()).all()
    types = set(emails.filter(pl.col("link_included"))["email_type"].cast(pl.String))
    assert types <= {str(t) for t in rules.UPDATE_LINK_TYPES}
    send_invoice = run.customers.filter(pl.col("collection_method") == "send_invoice")["customer_id"]
    theirs = emails.filter(pl.col("customer_id").is_in(send_invoice.implode()))
    if run.policy.links.subscription_management == "hosted":
        assert not theirs["management_link"].any()  # R10b: never a hosted page for send_invoice
    if run.policy.links.subscription_management == "none":
        assert not emails["management_link"].any()


def check_dead_link_is_a_dead_end(run) -> None:
    dead = set(run.events.filter(text("kind") == "link_dead").select("customer_id", "time").iter_rows())
    through_link = run.events.filter((text("actor") == "customer_link") & (text("kind") != "link_dead"))
    for customer, t, kind in through_link.select("customer_id", "time", text("kind")).iter_rows():
        assert (customer, t) not in dead, (customer, t, kind)


def check_test_mode_silences(run) -> None:
    if not run.scenario.test_mode.enabled:
        return
    silent = run.customers.filter(pl.col("recipient") == "external")["customer_id"]
    acted = run.events.filter(
        (text("actor") == "customer_link") & pl.col("customer_id").is_in(silent.implode())
    )
    assert acted.is_empty(), acted  # no email reached them, so no link could be followed


FRAMES = ("events", "emails", "invoices", "customers")


@functools.cache
def reference_schemas() -> dict[str, pl.Schema]:
    run = api.simulate(Scenario.default().scaled(customers=300, months=3), Policy.named("all-on"), seed=1)
    return {name: getattr(run, name).schema for name in FRAMES}


def check_schemas(run) -> None:
    """The frames' schema never depends on the data (no Null columns when a column holds no value)."""
    for name in FRAMES:
        schema = getattr(run, name).schema
        assert dict(schema) == dict(reference_schemas()[name]) or _same_but_categories(schema, name), name


def _same_but_categories(schema: pl.Schema, name: str) -> bool:
    reference = reference_schemas()[name]
    return list(schema) == list(reference) and all(
        schema[c] == reference[c] or (schema[c].base_type() == reference[c].base_type() == pl.Categorical)
        for c in schema
    )


def check_same_seed_and_shards(
    run, scenario: Scenario, policy: Policy, seed: int, fast: bool, cut: int
) -> None:
    again = api.simulate(scenario, policy, seed=seed, fast=fast)
    for name in FRAMES:
        assert getattr(again, name).equals(getattr(run, name)), name
    ids = np.arange(scenario.customers)
    parts = [api.simulate(scenario, policy, seed=seed, fast=fast, customer_ids=part)
             for part in (ids[:cut], ids[cut:])]  # fmt: skip
    order = {"events": ["time", "customer_id"], "emails": ["time", "customer_id"],
             "invoices": ["invoice_id"], "customers": ["customer_id"]}  # fmt: skip
    for name in FRAMES:
        joined = pl.concat([getattr(p, name) for p in parts]).sort(order[name], maintain_order=True)
        assert_frame_equal(joined, getattr(run, name), categorical_as_str=True)


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@SETTINGS
@given(scenario=scenarios(), policy=policies(), seed=st.integers(0, 2**32), cut=st.integers(0, 80))
def test_more_invariants(fast: bool, scenario: Scenario, policy: Policy, seed: int, cut: int) -> None:
    run = api.simulate(scenario, policy, seed=seed, fast=fast)
    check_money_in_minor_units(run)
    check_no_payment_after_settlement(run)
    check_times(run)
    check_cancellation(run)
    check_links(run)
    check_dead_link_is_a_dead_end(run)
    check_test_mode_silences(run)
    check_schemas(run)
    check_same_seed_and_shards(run, scenario, policy, seed, fast, min(cut, scenario.customers))


@pytest.fixture(scope="module")
def pool():
    with open_executor(workers=2) as executor:
        yield executor


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), policy=policies(), seed=st.integers(0, 2**32), shard=st.integers(7, 60))
def test_same_results_whatever_the_executor(pool, scenario, policy, seed, shard) -> None:
    """experiment.compare on an in-process executor and on ProcessPoolExecutor(2): identical frames."""
    arms = {"none": Policy.named("none"), "drawn": policy}
    inline = compare(scenario, arms, replications=2, seed=seed, executor=InlineExecutor(), shard_size=shard)
    pooled = compare(scenario, arms, replications=2, seed=seed, executor=pool, shard_size=shard)
    assert_frame_equal(inline.units, pooled.units)
    assert_frame_equal(inline.table, pooled.table)
    # One unit through run_task in a worker equals the shard simulated here.
    task = Task("drawn", 1, 0, 0, min(shard, scenario.customers), scenario, policy, seed)
    remote = pool.submit(run_task, task).result()["metrics"]
    here = api.simulate(
        scenario, policy, seed=seed, replication=1, customer_ids=np.arange(task.first, task.stop)
    )
    assert_frame_equal(remote.drop("arm", "replication", "shard"), shard_metrics(here))
