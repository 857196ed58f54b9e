"""Engine foundations: theory vs observed for retries and first-attempt failures, expired cards,
money conservation, determinism and common random numbers across policies."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from recovery_sim.api import simulate
from recovery_sim.domain import rules
from recovery_sim.domain.declines import EXPIRED_CARD, decline_codes
from recovery_sim.resources import DATA_DIR
from recovery_sim.settings.config import ConfigError, Policy, shipped_policy_names

Z = 4.0  # tolerance in binomial standard errors

QUIET_BEHAVIOUR = {
    "act_on_email": {},
    "spontaneous_fix_rate": 0.0,
    "card_self_update_before_expiry": 0.0,
    "voluntary_churn_monthly": 0.0,
    "reminder_cancel_propensity": 0.0,
    "confirm_unprompted": 0.0,
}
"""Customers who never act: no email reactions, no spontaneous fixes, no churn."""

MONTHLY = [{"name": "Monthly", "interval": "month", "price": 2900, "currency": "EUR", "share": 1.0}]
CARD_ONLY = {"card": 1.0, "sepa_debit": 0.0, "boleto": 0.0}
SUCCESS_KINDS = ["payment_succeeded", "invoice_paid"]


def retry_success(code: str) -> float:
    """The decline code's retry success, read from data/decline_codes.csv at test time."""
    return next(d.retry_success for d in decline_codes() if d.code == code)


def assert_binomial(successes: int, n: int, p: float, what: str) -> float:
    assert n > 0, f"{what}: no trials"
    observed = successes / n
    se = math.sqrt(p * (1 - p) / n)
    assert abs(observed - p) <= Z * se + 1e-12, f"{what}: observed {observed:.4f} vs theory {p:.4f} (n={n})"
    return observed


def card_expiry(customers: pl.DataFrame, start) -> pl.DataFrame:
    """customer_id → the instant (sim days) the customer's original card stops working (inf: no card)."""
    exp = [
        rules.card_expires_at(m, y, start) if m else math.inf
        for m, y in zip(
            customers["card_exp_month"].to_list(), customers["card_exp_year"].to_list(), strict=True
        )
    ]
    return customers.select("customer_id").with_columns(pl.Series("card_expires_at", exp, dtype=pl.Float64))


def fixed_retries(policy: str, offsets: list[float]) -> Policy:
    return (
        Policy.named(policy)
        .with_setting("retries.mode", "fixed")
        .with_setting("retries.fixed_offsets_days", offsets)
    )


# -------------------------------------------------------------------------------- theory vs observed


@pytest.mark.parametrize(
    "code,policy",
    [
        ("processing_error", fixed_retries("none", [2.0, 5.0, 9.0])),
        ("insufficient_funds", fixed_retries("none", [1.0, 3.0, 6.0, 10.0, 15.0])),
        ("try_again_later", Policy.named("none")),  # smart schedule: max_attempts - 1 retries
    ],
    ids=["processing_error-3", "insufficient_funds-5", "try_again_later-smart"],
)
def test_retry_recovery_matches_theory(make_scenario, code: str, policy: Policy) -> None:
    """k retries each succeeding with chance q, nobody acting: recovered share = 1 - (1 - q)^k."""
    q = retry_success(code)
    offsets = policy.retries.offsets()
    k = len(offsets)
    scenario = make_scenario(
        customers=3000,
        plans=MONTHLY,
        payment_mix=CARD_ONLY,
        first_attempt_failure_rate=0.3,
        three_ds_share=0.0,
        send_invoice_share=0.0,
        trial_share=0.0,
        card_expiry_months_max=120,
        decline_mix={code: 1.0},
        card_updater_rate=0.0,
        behaviour=QUIET_BEHAVIOUR,
    )
    run = simulate(scenario, policy, seed=7)
    horizon = scenario.horizon_days
    failed = (
        run.invoices.join(card_expiry(run.customers, scenario.start_date), on="customer_id")
        .filter(pl.col("first_decline") == code)
        .filter(pl.col("created_at") + offsets[-1] < horizon)  # the whole schedule ran
        .filter(pl.col("card_expires_at") > pl.col("created_at") + offsets[-1])  # the card never expired
    )
    recovered = failed.filter(pl.col("status") == "paid")
    assert set(recovered["paid_by"].cast(pl.String)) <= {"retry"}
    assert set(failed.filter(pl.col("status") != "paid")["status"].cast(pl.String)) == {"uncollectible"}
    observed = assert_binomial(recovered.height, failed.height, 1 - (1 - q) ** k, f"{code} k={k}")
    # The attempt that recovers is geometric: retry j (attempt j + 1) with chance (1 - q)^(j - 1) q.
    for j in range(1, k + 1):
        hits = recovered.filter(pl.col("attempts") == j + 1).height
        assert_binomial(hits, failed.height, (1 - q) ** (j - 1) * q, f"{code} retry {j}")
    print(f"\n{code}: q={q} k={k} theory={1 - (1 - q) ** k:.4f} observed={observed:.4f} n={failed.height}")


def test_first_attempt_failure_rate_matches_configured(make_scenario) -> None:
    rates = {0: 0.05, 1: 0.20}
    cohort = {
        "first_attempt_failure_rate": 0.0,
        "three_ds_share": 0.0,
        "card_expiry_months_max": 120,
        "payment_mix": {"card": 0.7, "sepa_debit": 0.3, "boleto": 0.0},
    }
    scenario = make_scenario(
        cohorts=[
            {**cohort, "name": "low", "customers": 1500, "first_attempt_failure_rate": rates[0]},
            {**cohort, "name": "high", "customers": 1500, "first_attempt_failure_rate": rates[1]},
        ],
        card_updater_rate=0.0,
        behaviour=QUIET_BEHAVIOUR,
    )
    run = simulate(scenario, Policy.named("none"), seed=3)
    invoices = (
        run.invoices.join(card_expiry(run.customers, scenario.start_date), on="customer_id")
        .join(run.customers.select("customer_id", "cohort_index", "payment_method"), on="customer_id")
        .filter(pl.col("created_at") < pl.col("card_expires_at"))  # an expired card fails regardless
    )
    assert (run.customers["signup_at"] < 0).all()  # existing base only: every invoice is a renewal
    for index, rate in rates.items():
        for method in ("card", "sepa_debit"):
            rows = invoices.filter((pl.col("cohort_index") == index) & (pl.col("payment_method") == method))
            failures = rows.filter(pl.col("first_decline") != "").height
            assert_binomial(failures, rows.height, rate, f"cohort {index} {method}")


@pytest.mark.parametrize("end_action", ["cancel", "leave_past_due"])
def test_expired_card_fails_every_renewal_after_expiry(make_scenario, end_action: str) -> None:
    """No updater, no customer action: each renewal after the card's expiry fails with expired_card."""
    scenario = make_scenario(
        customers=1200,
        first_attempt_failure_rate=0.1,
        three_ds_share=0.0,
        card_expiry_months_max=10,
        payment_mix={"card": 0.8, "sepa_debit": 0.2, "boleto": 0.0},
        decline_mix={"insufficient_funds": 1.0},
        card_updater_rate=0.0,
        behaviour=QUIET_BEHAVIOUR,
    )
    policy = Policy.named("none").with_setting("end_action", end_action)
    run = simulate(scenario, policy, seed=11)
    invoices = run.invoices.join(card_expiry(run.customers, scenario.start_date), on="customer_id").join(
        run.customers.select("customer_id", "payment_method"), on="customer_id"
    )
    after = invoices.filter(pl.col("created_at") >= pl.col("card_expires_at"))
    before = invoices.filter(pl.col("created_at") < pl.col("card_expires_at"))
    assert after.height > 300
    assert (after["first_decline"].cast(pl.String) == EXPIRED_CARD).all()
    assert (after["status"].cast(pl.String) != "paid").all()
    assert not (before["first_decline"].cast(pl.String) == EXPIRED_CARD).any()
    assert before.filter(pl.col("first_decline") == "insufficient_funds").height > 100
    assert (invoices.filter(pl.col("payment_method") == "sepa_debit")["card_expires_at"] == math.inf).all()
    per_customer = after.group_by("customer_id").len()["len"]
    if end_action == "cancel":
        assert per_customer.max() == 1  # the failed renewal ends in cancellation
    else:
        assert per_customer.max() > 1  # still billing, still failing
    # Every retry of those invoices fails with expired_card too.
    failed_events = run.events.filter(
        (pl.col("kind") == "payment_failed") & pl.col("invoice_id").is_in(after["invoice_id"].implode())
    )
    assert (failed_events["decline_code"].cast(pl.String) == EXPIRED_CARD).all()
    # card_expired is recorded at the expiry instant of every card still in use.
    expired = run.events.filter(pl.col("kind") == "card_expired").join(
        card_expiry(run.customers, scenario.start_date), on="customer_id"
    )
    assert expired.height > 0
    assert np.allclose(expired["time"].to_numpy(), expired["card_expires_at"].to_numpy(), rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------------- money conservation


def assert_money_conserved(run) -> None:
    inv = run.invoices
    assert inv["invoice_id"].is_unique().all()
    status = pl.col("status").cast(pl.String)
    assert set(inv["status"].cast(pl.String)) <= {"paid", "open", "uncollectible", "void"}
    totals = inv.group_by(pl.col("currency").cast(pl.String)).agg(
        pl.col("amount").sum().alias("billed"),
        *[
            pl.col("amount").filter(status == s).sum().alias(s)
            for s in ("paid", "open", "uncollectible", "void")
        ],
    )
    for row in totals.iter_rows(named=True):
        assert isinstance(row["billed"], int)
        assert row["billed"] == row["paid"] + row["open"] + row["uncollectible"] + row["void"], row
    # Amounts are the customer's plan price, in minor units.
    prices = inv.join(run.customers.select("customer_id", "price"), on="customer_id")
    assert (prices["amount"] == prices["price"]).all()
    # At most one successful payment per invoice, exactly one for paid invoices, matching the invoice.
    ev = run.events
    success = ev.filter(pl.col("kind").cast(pl.String).is_in(SUCCESS_KINDS))
    assert success["invoice_id"].is_unique().all()
    paid = inv.filter(status == "paid").join(success, on="invoice_id", how="left", suffix="_ev")
    assert paid["time"].null_count() == 0
    assert (paid["amount"] == paid["amount_ev"]).all()
    assert np.array_equal(paid["paid_at"].to_numpy(), paid["time"].to_numpy())
    assert (paid["paid_by"].cast(pl.String) == paid["actor"].cast(pl.String)).all()
    assert success.height == paid.height
    # One invoice_created event per invoice; every write-off and void recorded once.
    created = ev.filter(pl.col("kind") == "invoice_created")
    assert created.height == inv.height and created["invoice_id"].is_unique().all()
    for kind, st in (("invoice_uncollectible", "uncollectible"), ("invoice_voided", "void")):
        closed = ev.filter(pl.col("kind") == kind)["invoice_id"]
        assert closed.is_unique().all()
        assert set(closed) == set(inv.filter(status == st)["invoice_id"])
    # Collected money per currency equals the successful payment events.
    by_events = success.group_by(pl.col("currency").cast(pl.String)).agg(pl.col("amount").sum())
    by_invoices = (
        inv.filter(status == "paid").group_by(pl.col("currency").cast(pl.String)).agg(pl.col("amount").sum())
    )
    assert by_events.sort("currency").equals(by_invoices.sort("currency"))


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("policy", shipped_policy_names())
def test_money_conserved(small_default, policy: str, seed: int) -> None:
    assert_money_conserved(simulate(small_default, Policy.named(policy), seed=seed))


@pytest.mark.parametrize("end_action", ["leave_past_due", "mark_unpaid"])
def test_money_conserved_other_end_actions(small_default, end_action: str) -> None:
    run = simulate(small_default, Policy.named("all-on").with_setting("end_action", end_action), seed=4)
    assert_money_conserved(run)
    if end_action == "leave_past_due":
        assert (run.invoices["status"] == "open").sum() > 0


# ------------------------------------------------------------------------ determinism and common randomness


FRAMES = ("events", "emails", "invoices", "customers")


def test_same_seed_same_frames(small_default) -> None:
    a = simulate(small_default, Policy.named("all-on"), seed=5)
    b = simulate(small_default, Policy.named("all-on"), seed=5)
    for name in FRAMES:
        assert getattr(a, name).equals(getattr(b, name)), name


def test_different_seed_different_frames(small_default) -> None:
    a = simulate(small_default, Policy.named("all-on"), seed=5)
    b = simulate(small_default, Policy.named("all-on"), seed=6)
    c = simulate(small_default, Policy.named("all-on"), seed=5, replication=1)
    for other in (b, c):
        for name in FRAMES:
            assert not getattr(a, name).equals(getattr(other, name)), name


def test_policies_share_customers_cards_and_failures(small_default) -> None:
    """Common random numbers: the same seed gives both arms the same world."""
    none = simulate(small_default, Policy.named("none"), seed=8)
    all_on = simulate(small_default, Policy.named("all-on"), seed=8)
    # Same customers (who they are, what they pay, which card they hold); only the outcome differs.
    assert none.customers.drop("final_status").equals(all_on.customers.drop("final_status"))

    def first_period_failures(run) -> set[tuple[int, str]]:
        existing = run.customers.filter(pl.col("signup_at") < 0).select("customer_id")
        first = (
            run.invoices.join(existing, on="customer_id")
            .sort("period")
            .group_by("customer_id", maintain_order=True)
            .first()
        )
        # authentication_expired is recorded days later, when a confirmation lapses: not a decline.
        failed = first.filter(~pl.col("first_decline").cast(pl.String).is_in(["", "authentication_expired"]))
        return set(
            zip(
                failed["invoice_id"].to_list(), failed["first_decline"].cast(pl.String).to_list(), strict=True
            )
        )

    # Monthly plans renew in January, before any email could change a card (R9 mails a month ahead):
    # the first in-horizon renewal fails identically in both arms, expired cards included.
    monthly = set(none.customers.filter(pl.col("interval") == "month")["customer_id"])
    a, b = first_period_failures(none), first_period_failures(all_on)
    a_monthly = {x for x in a if x[0] // 128 in monthly}
    assert len(a_monthly) > 5
    assert a_monthly == {x for x in b if x[0] // 128 in monthly}
    # Any invoice both arms bill draws the same first-attempt outcome, unless the card's state differs
    # (an all-on customer may have replaced an expiring card after R9's email) or a 3-D Secure
    # confirmation expired (a later event, not a first-attempt decline).
    drop = {EXPIRED_CARD, "authentication_expired"}
    assert {x for x in a if x[1] not in drop} == {x for x in b if x[1] not in drop}
    assert len(a) > len(a_monthly)
    both = none.invoices.join(all_on.invoices, on="invoice_id", suffix="_b")
    assert both.height > 0.8 * none.invoices.height
    same_card = both.filter(
        ~pl.col("first_decline").cast(pl.String).is_in(drop)
        & ~pl.col("first_decline_b").cast(pl.String).is_in(drop)
    )
    assert (same_card["first_decline"].cast(pl.String) == same_card["first_decline_b"].cast(pl.String)).all()
    assert (both["amount"] == both["amount_b"]).all()


# ---------------------------------------------------------------------- limits bounded by validation


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("emails.payment_action_reminder_days", 0.01, "greater than or equal to 0.0416"),
        ("emails.invoice_reminder_offsets", [-31, 1], "between -30 and 90 days"),
    ],
)
def test_policy_bounds_that_size_draw_ranges(setting: str, value, message: str) -> None:
    """The counts the draw layout sizes its ranges from are bounded, with the field named."""
    with pytest.raises(ConfigError, match=setting.split(".")[-1]) as caught:
        Policy.named("all-on").with_setting(setting, value)
    assert message in str(caught.value)


def test_expiry_bound_exits_2_from_the_cli(tmp_path) -> None:
    """A Boleto wait beyond 60 days is rejected: one paragraph naming the field, exit 2, no traceback."""
    import subprocess
    import sys

    text = (DATA_DIR / "scenarios" / "default.toml").read_text(encoding="utf-8")
    path = tmp_path / "long-boleto.toml"
    path.write_text(
        text.replace("[behaviour]\n", "[behaviour]\nboleto_expiry_days = 61.0\n"), encoding="utf-8"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "recovery_sim.cli",
            "run",
            "--scenario",
            str(path),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "behaviour.boleto_expiry_days" in result.stderr and "less than or equal to 60" in result.stderr
    assert "Traceback" not in result.stderr
