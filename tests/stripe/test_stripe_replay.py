"""Replaying a history under a policy: the rules decide, from the facts Stripe recorded.

The all-on history was itself simulated under all-on, so the replay must find the emails the simulator
sent (same counts per type); `none` must send nothing; R4 applies to card invoices only, not send_invoice.
"""

from __future__ import annotations

import dataclasses

import polars as pl

from recovery_sim.domain.enums import RecipientKind
from recovery_sim.domain.rules import TEST_MODE_TYPES
from recovery_sim.settings.config import Policy
from recovery_sim.stripe.replay import replay, replay_report


def test_none_sends_nothing(history_all_on):
    assert replay(history_all_on, Policy.named("none")).height == 0


def test_r4_payment_failed_after_each_failed_card_charge(history_all_on):
    emails = replay(history_all_on, Policy.named("all-on"))
    failed = history_all_on.charges.filter((pl.col("status") == "failed") & ~pl.col("needs_action")).join(
        history_all_on.invoice_details.select("invoice_id", "collection_method"), on="invoice_id"
    )
    card_auto = failed.filter(
        (pl.col("collection_method") == "charge_automatically") & (pl.col("method_type") == "card")
    ).select("invoice_id", "time")
    sent = emails.filter(pl.col("email_type") == "payment_failed").select("invoice_id", "time")
    assert card_auto.height > 100
    assert sorted(sent.rows()) == sorted(card_auto.rows())  # one email per failed attempt, at its time
    manual = history_all_on.invoice_details.filter(pl.col("collection_method") == "send_invoice")[
        "invoice_id"
    ]
    assert not sent["invoice_id"].is_in(manual.implode()).any()  # none on send_invoice invoices


def test_counts_match_what_the_simulator_sent(run_all_on, history_all_on):
    """Same facts, same rules: the replay finds the emails the simulation sent, type by type."""
    emails = replay(history_all_on, Policy.named("all-on"), invoice_documents=True)

    def counts(frame):
        return dict(frame.group_by(pl.col("email_type").cast(pl.String)).len().iter_rows())

    assert counts(emails) == counts(run_all_on.emails)


def test_links(history_all_on):
    emails = replay(history_all_on, Policy.named("all-on"))
    with_link = emails.filter(pl.col("link_included"))
    assert (with_link["link_live_until"] > with_link["sent_at"]).all()  # R11: never a dead link
    kinds = set(with_link["email_type"].cast(pl.String).unique())
    assert "invoice_reminder" not in kinds and "invoice_paid" not in kinds  # R3 / R10b
    manual = history_all_on.customers.filter(pl.col("collection_method") == "send_invoice")["customer_id"]
    assert not with_link["customer_id"].is_in(manual.implode()).any()  # R10b
    trial = with_link.filter(pl.col("email_type") == "trial_will_end")
    assert ((trial["link_live_until"] - trial["sent_at"]).dt.total_days() <= 30).all()  # R11a


def test_test_mode_delivers_four_types_to_own_addresses(history_all_on):
    history = dataclasses.replace(history_all_on, test_mode=True)
    emails = replay(history, Policy.named("all-on")).join(
        history.customers.select("customer_id", "recipient"), on="customer_id"
    )
    delivered = emails.filter(pl.col("delivered"))
    assert delivered.height > 0
    assert set(delivered["email_type"].cast(pl.String)) <= {t.value for t in TEST_MODE_TYPES}
    assert (delivered["recipient"] != RecipientKind.EXTERNAL.value).all()


def test_report_carries_observed_metrics(history_all_on):
    report = replay_report(history_all_on, Policy.named("recommended-minimum"))
    assert set(report.counts["email_type"]) <= {"payment_failed", "payment_action_required"}
    assert report.observed["at_risk_revenue"].sum() > 0
    assert report.observed["policy"].unique().to_list() == ["history"]
