"""Invariants that hold for any scenario and policy, on both engine paths (hypothesis).

Each example draws a small world (failure rates, trials, send_invoice, Boleto, test mode, card expiry,
customer behaviour) and any valid policy (`strategies.policies`, walked from the Policy model), runs the
fast and the reference path, and checks that they agree and that the SPEC's guarantees hold.
"""

from __future__ import annotations

import datetime as dt
import math
from unittest import mock

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recovery_sim import api
from recovery_sim.domain import rules
from recovery_sim.simulation.compiled import driver
from recovery_sim.simulation.reference.engine import Engine

from .strategies import policies

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUCCESS = ["payment_succeeded", "invoice_paid"]


RECORDERS: list = []


def _capturing(engine: type) -> type:
    """The engine, keeping a copy of its recorded rows (frames() consumes the recorder) so the recording
    order before sorting can be checked."""

    class Capturing(engine):
        def run(self):
            recorder = super().run()
            rows = (recorder.events.arrays(), recorder.emails.arrays())
            RECORDERS.append(tuple({name: column.copy() for name, column in table.items()} for table in rows))
            return recorder

    return Capturing


def simulate(scenario, policy, seed: int, fast: bool):
    RECORDERS.clear()
    with (
        mock.patch.object(api, "Engine", _capturing(Engine)),
        mock.patch.object(driver, "CompiledEngine", _capturing(driver.CompiledEngine)),
    ):
        run = api.simulate(scenario, policy, seed=seed, fast=fast)
    return run, RECORDERS[-1]


def probability(high: float = 1.0):
    return st.floats(0.0, high, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def worlds(draw, build):
    boleto = draw(st.sampled_from([0.0, 0.0, 0.3]))
    sepa = draw(st.sampled_from([0.0, 0.2]))
    cohort = {
        "first_attempt_failure_rate": draw(probability(0.6)),
        "three_ds_share": draw(probability(0.4)),
        "send_invoice_share": draw(probability(0.5)),
        "card_expiry_months_max": draw(st.integers(1, 36)),
        "days_until_due": draw(st.integers(1, 40)),
        "payment_mix": {"card": round(1.0 - boleto - sepa, 3), "sepa_debit": sepa, "boleto": boleto},
    }
    new = {
        "name": "new",
        "customers": draw(st.integers(10, 50)),
        "signup_month": "2026-01",
        "signup_spread_months": draw(st.integers(1, 6)),
        "trial_share": draw(probability()),
        "trial_days": draw(st.sampled_from([3, 7, 14, 30])),
        "trial_without_payment_method_share": draw(probability()),
    }
    existing = {
        "name": "existing",
        "customers": draw(st.integers(10, 60)),
        "signup_month": "2025-01",
        "signup_spread_months": 12,
    }
    behaviour = {
        "act_delay_days": draw(st.sampled_from([0.01, 1.5, 10.0, 35.0])),
        "fatigue": draw(probability()),
        "spontaneous_fix_rate": draw(probability(0.5)),
        "confirm_unprompted": draw(probability()),
        "card_self_update_before_expiry": draw(probability(0.5)),
        "voluntary_churn_monthly": draw(probability(0.2)),
        "reminder_cancel_propensity": draw(probability(0.5)),
        "trial_cancel_share": draw(probability(0.5)),
        "send_invoice_pay_share": draw(probability()),
        "send_invoice_write_off_days": draw(st.integers(1, 60)),
        "act_on_email": {
            t: draw(probability())
            for t in [
                "payment_failed",
                "payment_action_required",
                "payment_action_reminder",
                "trial_will_end",
                "trial_ended_paused",
                "upcoming_renewal",
                "card_expiring",
                "invoice_reminder",
            ]
        },
    }
    test_mode = {
        "enabled": draw(st.booleans()),
        "verified_domain_share": draw(probability(0.5)),
        "team_member_share": draw(probability(0.3)),
    }
    scenario = build(
        months=draw(st.integers(2, 8)),
        cohorts=[{**cohort, **existing}, {**cohort, **new}],
        behaviour=behaviour,
        test_mode=test_mode,
        card_updater_rate=draw(probability()),
    )
    policy = draw(policies())  # every policy setting, walked from the model
    return scenario, policy, draw(st.integers(0, 2**32))


# --------------------------------------------------------------------------------------------- checks


def kind(name: str) -> pl.Expr:
    return pl.col("kind").cast(pl.String) == name


def first_times(events: pl.DataFrame, *kinds: str) -> dict[int, float]:
    ev = events.filter(pl.col("kind").cast(pl.String).is_in(list(kinds)))
    return dict(ev.group_by("customer_id").agg(pl.col("time").min()).iter_rows())


def live_until_days(run) -> pl.Expr:
    origin = dt.datetime.combine(run.scenario.start_date, dt.time(), tzinfo=dt.UTC)
    return (pl.col("link_live_until") - pl.lit(origin)).dt.total_microseconds() / 86_400_000_000


def check_no_email_after_cancellation(run) -> None:
    canceled = first_times(run.events, "subscription_canceled")
    for customer, t, email_type in run.emails.select(
        "customer_id", "time", pl.col("email_type").cast(pl.String)
    ).iter_rows():
        end = canceled.get(customer, math.inf)
        if email_type == "subscription_canceled":
            assert abs(t - end) < 1e-9, (customer, t)  # the notice goes out at the cancellation
        else:
            assert t <= end, (customer, t, email_type, end)


def check_links_have_deadlines(run) -> None:
    """R11: every link sent dies at a finite instant after it was sent (R11a/R11c trials, R11d periods)."""
    links = run.emails.filter(pl.col("link_included")).with_columns(live_until_days(run).alias("until"))
    assert links["until"].null_count() == 0
    assert (links["until"] > links["time"]).all()


def check_no_link_for_send_invoice(run) -> None:
    send_invoice = run.customers.filter(pl.col("collection_method") == "send_invoice")["customer_id"]
    emails = run.emails.filter(pl.col("customer_id").is_in(send_invoice.implode()))
    assert not emails["link_included"].any()
    assert emails["link_live_until"].null_count() == emails.height


def check_no_recovery_through_a_dead_link(run) -> None:
    killed = first_times(run.events, "subscription_canceled", "subscription_unpaid")
    followed = set(run.events.filter(kind("link_followed")).select("customer_id", "time").iter_rows())
    dead = set(run.events.filter(kind("link_dead")).select("customer_id", "time").iter_rows())
    acted = run.emails.filter(pl.col("acted") & pl.col("link_included")).with_columns(
        live_until_days(run).alias("until")
    )
    live_at: dict[int, list[tuple[float, float, int | None]]] = {}
    for customer, sent, until, invoice in acted.select(
        "customer_id", "time", "until", "invoice_id"
    ).iter_rows():
        live_at.setdefault(customer, []).append((sent, math.inf if until is None else until, invoice))
    pays = run.events.filter(
        pl.col("kind").cast(pl.String).is_in(SUCCESS) & (pl.col("actor").cast(pl.String) == "customer_link")
    )
    for customer, invoice, t in pays.select("customer_id", "invoice_id", "time").iter_rows():
        assert t < killed.get(customer, math.inf), (customer, t)  # R11b
        assert (customer, t) not in dead or (customer, t) in followed
        links = live_at.get(customer, [])
        if (customer, t) not in followed:  # an R8 confirmation on the hosted page, for this invoice
            links = [x for x in links if x[2] == invoice]
        assert any(sent <= t < until + 1e-6 for sent, until, _ in links), (customer, invoice, t)
    for customer, t in followed:
        assert t < killed.get(customer, math.inf)
        assert any(sent <= t < until + 1e-6 for sent, until, _ in live_at.get(customer, [])), (customer, t)


def check_test_mode(run) -> None:
    delivered = run.emails.filter(pl.col("delivered")).join(
        run.customers.select("customer_id", "recipient"), on="customer_id"
    )
    if run.scenario.test_mode.enabled:
        assert set(delivered["email_type"].cast(pl.String)) <= {str(t) for t in rules.TEST_MODE_TYPES}
        assert set(delivered["recipient"]) <= {"verified_domain", "team_member"}
    else:
        assert delivered.height == run.emails.height
    assert not run.emails.filter(~pl.col("delivered"))["acted"].any()


def check_email_log(run) -> None:
    customers = run.emails.group_by("customer_id").len().sort(["len", "customer_id"], descending=True)
    for customer in customers["customer_id"].head(3):
        days = sorted({t.date() for t in run.emails.filter(pl.col("customer_id") == customer)["sent_at"]})
        for day in days[:4]:
            for as_of in (
                day,
                day + dt.timedelta(days=1),
                day + dt.timedelta(days=30),
                day + dt.timedelta(days=31),
            ):
                log = rules.email_log(run.emails, customer, as_of)
                for sent_at in log["sent_at"]:
                    assert as_of - dt.timedelta(days=30) <= sent_at.date() < as_of


def check_money(run) -> None:
    inv = run.invoices
    status = pl.col("status").cast(pl.String)
    totals = inv.group_by(pl.col("currency").cast(pl.String)).agg(
        pl.col("amount").sum().alias("billed"),
        *[
            pl.col("amount").filter(status == s).sum().alias(s)
            for s in ("paid", "open", "uncollectible", "void")
        ],
    )
    for row in totals.iter_rows(named=True):
        assert row["billed"] == row["paid"] + row["open"] + row["uncollectible"] + row["void"], row
    success = run.events.filter(pl.col("kind").cast(pl.String).is_in(SUCCESS))
    assert success["invoice_id"].is_unique().all()
    assert set(success["invoice_id"]) == set(inv.filter(status == "paid")["invoice_id"])
    assert inv["invoice_id"].is_unique().all()


def check_recording_order(recorded) -> None:
    """Per customer, events and emails are recorded in non-decreasing time (before any sorting)."""
    for columns in recorded:
        customer, time = columns["customer_id"], columns["time"]
        order = np.lexsort((np.arange(len(customer)), customer))  # by customer, then recording order
        same = customer[order][1:] == customer[order][:-1]
        assert (np.diff(time[order])[same] >= 0).all()


def check_frames_ordered(run) -> None:
    for frame in (run.events, run.emails):
        grouped = frame.group_by("customer_id", maintain_order=True).agg(
            pl.col("time").diff().min().alias("step")
        )
        assert (grouped["step"].fill_null(0) >= 0).all()
    # Each invoice's first event is its creation.
    first = (
        run.events.filter(pl.col("invoice_id").is_not_null())
        .group_by("invoice_id", maintain_order=True)
        .first()
    )
    assert (first["kind"].cast(pl.String) == "invoice_created").all()


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@SETTINGS
@given(data=st.data())
def test_invariants(make_scenario, fast: bool, data) -> None:
    """Every guarantee on one engine path; the fast path must also equal the reference path."""
    scenario, policy, seed = data.draw(worlds(make_scenario))
    run, recorder = simulate(scenario, policy, seed, fast)
    check_recording_order(recorder)
    check_frames_ordered(run)
    check_no_email_after_cancellation(run)
    check_no_link_for_send_invoice(run)
    check_links_have_deadlines(run)
    check_no_recovery_through_a_dead_link(run)
    check_test_mode(run)
    check_email_log(run)
    check_money(run)
    if fast:
        reference, _ = simulate(scenario, policy, seed, fast=False)
        for name in ("events", "emails", "invoices", "customers"):
            assert getattr(run, name).equals(getattr(reference, name)), f"fast and reference {name} differ"
