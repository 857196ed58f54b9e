"""The Stripe replay sends the final notice (R4 escalation) where the recorded history allows it: after
an invoice's first failed card charge, `final_notice_days` before the policy's end of dunning, only while
the invoice is still unpaid and the subscription still running; its link dies at the end action (R11b)."""

from __future__ import annotations

import polars as pl

from recovery_sim.domain import rules
from recovery_sim.domain.enums import CollectionMethod, PaymentMethodKind
from recovery_sim.settings.config import Policy
from recovery_sim.stripe.replay import replay

ON = Policy.named("all-on").with_setting("emails.final_notice", True)


def _notices(history, policy=ON) -> pl.DataFrame:
    return replay(history, policy).filter(pl.col("email_type") == "final_notice")


def test_final_notice_where_the_history_allows(history_all_on):
    notices = _notices(history_all_on)
    assert notices.height > 0 and notices["invoice_id"].n_unique() == notices.height  # one per invoice
    failed = history_all_on.charges.filter((pl.col("status") == "failed") & ~pl.col("needs_action"))
    first = failed.group_by("invoice_id").agg(pl.col("time").min().alias("first"))
    inv = history_all_on.invoice_details.select("invoice_id", "paid_at", "closed_at", "collection_method")
    rows = notices.join(first, on="invoice_id").join(inv, on="invoice_id")
    assert rows.height == notices.height
    for r in rows.iter_rows(named=True):
        due = rules.final_notice_at(
            ON, CollectionMethod(r["collection_method"]), PaymentMethodKind.CARD, r["first"]
        )
        assert due is not None and abs(r["time"] - due) < 1e-9
        assert r["paid_at"] is None or r["paid_at"] > r["time"]  # still unpaid when it goes out


def test_final_notice_link_dies_at_the_end_of_dunning(history_all_on):
    notices = _notices(history_all_on).filter(pl.col("link_included"))
    assert notices.height > 0
    lead = ON.emails.final_notice_days * 86_400
    gap = (notices["link_live_until"] - notices["sent_at"]).dt.total_seconds()
    assert (gap <= lead + 1).all()  # R11b foreseen: canceled at the end of dunning


def test_no_final_notice_when_off_or_nothing_ends(history_all_on):
    assert _notices(history_all_on, ON.with_setting("emails.final_notice", False)).height == 0
    past_due = ON.with_setting("end_action", "leave_past_due")
    assert _notices(history_all_on, past_due).height == 0
