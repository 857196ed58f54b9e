"""Simulate → export as Stripe objects → import: the headline metrics survive the trip exactly.

Lossless: customers, invoices, billed, collected, open, uncollectible, void, at-risk and recovered
revenue and counts, recovery rate, involuntary/paused/voluntary churn. Lossy by nature: emails_sent
(Stripe exports hold no sent emails), so it is 0 after import.
"""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from stripe_helpers import FIXTURES

from recovery_sim.analysis.metrics import summary
from recovery_sim.api import simulate
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.stripe.export import export_run, export_stripe
from recovery_sim.stripe.export_files import DASHBOARD_COLUMNS, render_export
from recovery_sim.stripe.ids import id_number
from recovery_sim.stripe.importer import import_stripe

LOSSLESS = [
    "customers",
    "invoices",
    "billed",
    "collected",
    "open",
    "uncollectible",
    "void",
    "at_risk_revenue",
    "recovered_revenue",
    "recovery_rate",
    "at_risk_invoices",
    "recovered_invoices",
    "involuntary_churn",
    "paused_never_activated",
    "voluntary_churn",
]


def assert_same_summary(run, history) -> None:
    simulated = summary(run).select("currency", *LOSSLESS)
    imported = summary(history).select("currency", *LOSSLESS)
    assert_frame_equal(imported, simulated, check_dtypes=False)


def test_summary_survives_round_trip_none(run_none, history_none):
    assert_same_summary(run_none, history_none)
    assert summary(history_none)["emails_sent"].sum() == 0  # lossy: Stripe does not export emails


def test_summary_survives_round_trip_all_on_pages(run_all_on, history_all_on):
    assert_same_summary(run_all_on, history_all_on)


def test_summary_survives_round_trip_mark_unpaid_and_leave_past_due(tmp_path):
    """End actions that leave `unpaid` subscriptions or open invoices (R11b statuses) map too."""
    scenario = Scenario.default().scaled(customers=800, months=8)
    for end_action in ("mark_unpaid", "leave_past_due"):
        policy = Policy.named("recommended-minimum").with_setting("end_action", end_action)
        run = simulate(scenario, policy, seed=5)
        export_stripe(run, tmp_path / end_action, csv=False)
        assert_same_summary(run, import_stripe(tmp_path / end_action))


def test_frames_have_the_simulator_schema(run_all_on, history_all_on):
    for name in ("events", "invoices", "customers", "emails"):
        assert getattr(history_all_on, name).schema == getattr(run_all_on, name).schema, name


def test_invoices_match_row_by_row(run_none, history_none):
    """Per invoice: amount, status, at-risk flag, attempts and paid time (to the second)."""
    simulated_id = history_none.invoice_details.select(
        "invoice_id", pl.col("id").map_elements(id_number, return_dtype=pl.Int64).alias("simulated")
    )
    ours = history_none.invoices.join(simulated_id, on="invoice_id").sort("simulated")
    theirs = run_none.invoices.sort("invoice_id")
    assert ours["simulated"].to_list() == theirs["invoice_id"].to_list()
    for column in ("amount", "status", "at_risk", "attempts", "currency"):
        assert ours[column].cast(pl.String).to_list() == theirs[column].cast(pl.String).to_list(), column
    paid = (ours["paid_at"] - theirs["paid_at"]).abs().drop_nulls()
    assert paid.max() < 1.5 / 86_400  # Stripe keeps whole seconds


def test_event_counts_match_for_what_stripe_records(run_none, history_none):
    kinds = [
        "invoice_created",
        "payment_failed",
        "payment_succeeded",
        "invoice_paid",
        "invoice_voided",
        "invoice_uncollectible",
        "payment_action_required",
        "subscription_canceled",
        "trial_ended",
        "subscription_paused",
        "subscription_activated",
    ]

    def counts(events):
        return dict(events.group_by(pl.col("kind").cast(pl.String)).len().iter_rows())

    ours, theirs = counts(history_none.events), counts(run_none.events)
    for kind in kinds:
        assert ours.get(kind, 0) == theirs.get(kind, 0), kind


def test_jsonl_pages_and_csv_give_the_same_history(tmp_path):
    """The same objects as JSON Lines, list pages, or with invoices from the Dashboard CSV."""
    run = simulate(Scenario.default().scaled(customers=400, months=6), Policy.named("all-on"), seed=2)
    objects = export_run(run)
    for fmt in ("jsonl", "json"):
        folder = tmp_path / fmt
        folder.mkdir()
        for name, text in render_export(objects, fmt, csv=fmt == "jsonl").items():  # type: ignore[arg-type]
            (folder / name).write_text(text)
    csv_only = tmp_path / "csv"
    shutil.copytree(tmp_path / "jsonl", csv_only)
    (csv_only / "invoices.jsonl").unlink()
    a, b, c = (import_stripe(tmp_path / d) for d in ("jsonl", "json", "csv"))
    assert_frame_equal(a.invoices, b.invoices)
    assert_frame_equal(a.events, b.events)
    assert_frame_equal(summary(a), summary(c))  # "Paid At (UTC)" and the charges keep it lossless


def test_dashboard_csv_has_the_documented_columns_and_major_units():
    header, first = (FIXTURES / "sample" / "invoices.csv").read_text().splitlines()[:2]
    assert tuple(header.split(",")) == DASHBOARD_COLUMNS
    invoice = json.loads((FIXTURES / "sample" / "invoices.jsonl").read_text().splitlines()[0])
    amount = first.split(",")[DASHBOARD_COLUMNS.index("Amount Due")]
    assert amount == f"{invoice['amount_due'] // 100}.{invoice['amount_due'] % 100:02d}"


def test_dashboard_csv_alone_imports_with_a_warning():
    history = import_stripe(FIXTURES / "dashboard")
    assert any("no charges file" in w for w in history.warnings)
    sample = import_stripe(FIXTURES / "sample")
    for column in ("invoices", "billed", "collected", "open", "uncollectible", "void"):
        assert summary(history)[column].to_list() == summary(sample)[column].to_list(), column


@pytest.mark.parametrize("folder", ["sample", "pages", "dashboard"])
def test_committed_fixtures_import(folder):
    history = import_stripe(FIXTURES / folder)
    assert history.invoices.height > 0
    assert summary(history)["billed"].sum() > 0


def test_export_uses_stripe_shapes(run_all_on):
    objects = export_run(run_all_on)
    invoice = next(i for i in objects.invoices if i["status"] == "paid")
    assert invoice["id"].startswith("in_") and invoice["customer"].startswith("cus_")
    assert invoice["currency"] == invoice["currency"].lower()
    assert (
        isinstance(invoice["created"], int) and invoice["status_transitions"]["paid_at"] >= invoice["created"]
    )
    assert {i["billing_reason"] for i in objects.invoices} <= {"subscription_create", "subscription_cycle"}
    assert {i["status"] for i in objects.invoices} <= {"draft", "open", "paid", "void", "uncollectible"}
    failed = next(c for c in objects.charges if c["status"] == "failed")
    assert failed["outcome"]["type"] == "issuer_declined" and failed["failure_code"]
    assert {c["status"] for c in objects.charges} == {"succeeded", "failed"}
    sub = objects.subscriptions[0]
    price = sub["items"]["data"][0]["price"]
    assert price["recurring"]["interval"] in ("month", "year") and isinstance(price["unit_amount"], int)
    card = next(p for p in objects.payment_methods if p["type"] == "card")
    assert 1 <= card["card"]["exp_month"] <= 12 and len(card["card"]["last4"]) == 4
    customer = objects.customers[0]
    assert customer["id"].startswith("cus_") and customer["address"]["country"]
