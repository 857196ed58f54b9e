"""The fast path (the compiled model, kernel.py) gives exactly the reference path's frames (the SimPy
model, engine.py), and shards (customer subsets) add up to the whole run."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recovery_sim.api import Run, simulate
from recovery_sim.domain import rules
from recovery_sim.domain.enums import EmailType, RecipientKind
from recovery_sim.settings.config import Policy, Scenario, shipped_policy_names

FRAMES = ("events", "emails", "invoices", "customers")


def assert_same_frames(a, b) -> None:
    for name in FRAMES:
        left, right = getattr(a, name), getattr(b, name)
        assert left.schema == right.schema, name
        assert left.height == right.height, f"{name}: {left.height} rows vs {right.height}"
        assert left.equals(right), f"{name} differ"


def assert_fast_equals_reference(scenario, policy: Policy, seed: int) -> Run:
    fast = simulate(scenario, policy, seed=seed, fast=True)
    reference = simulate(scenario, policy, seed=seed, fast=False)
    assert fast.events.height > 0
    assert_same_frames(fast, reference)
    return fast


def final_notices(run: Run) -> pl.DataFrame:
    return run.emails.filter(pl.col("email_type").cast(pl.String) == EmailType.FINAL_NOTICE.value)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("policy", shipped_policy_names())
def test_fast_equals_reference_shipped_policies(small_default, policy: str, seed: int) -> None:
    assert_fast_equals_reference(small_default, Policy.named(policy), seed)


def test_fast_equals_reference_test_mode(small_default) -> None:
    scenario = small_default.with_setting(
        "test_mode", {"enabled": True, "verified_domain_share": 0.2, "team_member_share": 0.1}
    )
    for policy in ("all-on", "aggressive"):
        run = assert_fast_equals_reference(scenario, Policy.named(policy), seed=4)
        # R12: a test account sends the final notice to no one, so no one acts on it.
        assert not any(rules.delivered_in_test_mode(EmailType.FINAL_NOTICE, r, True) for r in RecipientKind)
        notices = final_notices(run)
        assert notices.height > 0
        assert not notices["delivered"].any() and not notices["acted"].any()


@pytest.mark.parametrize("max_attempts", [8, 1])
@pytest.mark.parametrize("end_action", ["cancel", "mark_unpaid", "leave_past_due"])
def test_fast_equals_reference_final_notice(small_default, end_action: str, max_attempts: int) -> None:
    """The R4 escalation, sent (and acted on) alike by both paths; none when nothing ends dunning
    (leave_past_due) or when there are no retries to leave room before the end (max_attempts 1)."""
    policy = (
        Policy.named("all-on")
        .with_setting("end_action", end_action)
        .with_setting("retries.max_attempts", max_attempts)
    )
    notices = final_notices(assert_fast_equals_reference(small_default, policy, seed=8))
    if end_action == "leave_past_due" or max_attempts == 1:
        assert notices.height == 0
    else:
        assert notices.height > 10 and notices["acted"].any() and notices["link_included"].all()


def test_fast_equals_reference_leave_past_due(small_default) -> None:
    for policy in ("none", "all-on"):
        assert_fast_equals_reference(
            small_default, Policy.named(policy).with_setting("end_action", "leave_past_due"), 5
        )


@pytest.mark.parametrize(
    "setting,value",
    [
        ("emails.upcoming_renewal_intervals", ["month", "year"]),  # bulk renewal reminders on every period
        ("emails.upcoming_renewal_days", 3),
        ("retries.mode", "fixed"),
        ("links.subscription_management", "none"),
        ("emails.payment_failed", False),  # a final notice with no R4 email before it: no fatigue
        ("emails.final_notice_days", 9.5),
    ],
)
def test_fast_equals_reference_policy_variants(small_default, setting: str, value) -> None:
    assert_fast_equals_reference(small_default, Policy.named("all-on").with_setting(setting, value), seed=6)


def test_fast_equals_reference_busy_world(make_scenario) -> None:
    """Cards expiring in the horizon, 3-D Secure, churn and reminder cancellations: few quiet periods."""
    scenario = make_scenario(
        customers=500,
        first_attempt_failure_rate=0.2,
        three_ds_share=0.1,
        card_expiry_months_max=14,
        send_invoice_share=0.1,
        behaviour={"reminder_cancel_propensity": 0.3, "voluntary_churn_monthly": 0.05},
        card_updater_rate=0.3,
    )
    for policy in ("all-on", "aggressive", "none"):
        assert_fast_equals_reference(
            scenario,
            Policy.named(policy).with_setting("emails.upcoming_renewal_intervals", ["month", "year"]),
            seed=7,
        )


def test_fast_equals_reference_quiet_world(make_scenario) -> None:
    """Nearly every period quiet: renewals paid on the first attempt, little else."""
    scenario = make_scenario(
        customers=500,
        first_attempt_failure_rate=0.01,
        three_ds_share=0.0,
        card_expiry_months_max=120,
        behaviour={"voluntary_churn_monthly": 0.0},
    )
    assert_fast_equals_reference(scenario, Policy.named("all-on"), seed=8)


def test_fast_equals_reference_at_full_scale() -> None:
    """The shipped default at its full 20,000 customers: every float identical, not merely close.

    Waits relative to `now` used to land one ulp off in rounding ties, differently on the two paths
    (dozens of rows at this size); the engine now waits until absolute instants.
    """
    assert_fast_equals_reference(Scenario.default(), Policy.named("all-on"), seed=1)


# --------------------------------------------------------------------------------------------- shards


def concat(runs, name: str, *sort: str) -> pl.DataFrame:
    """Stack the shards' frames (categorical currencies merge) and order them like the whole run."""
    frame = pl.concat([getattr(r, name) for r in runs], how="vertical_relaxed")
    return frame.sort(list(sort), maintain_order=True)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("policy", ["none", "all-on"])
def test_shards_add_up_to_the_whole_run(small_default, policy: str, fast: bool) -> None:
    whole = simulate(small_default, Policy.named(policy), seed=9, fast=fast)
    ids = np.arange(small_default.customers, dtype=np.int64)
    for split in (
        [ids[: len(ids) // 2], ids[len(ids) // 2 :]],
        [ids[::2], ids[1::2]],
        [ids[::3], ids[1::3], ids[2::3]],
    ):
        parts = [
            simulate(small_default, Policy.named(policy), seed=9, customer_ids=part, fast=fast)
            for part in split
        ]
        invoices = concat(parts, "invoices", "invoice_id")
        assert invoices.select(pl.all().exclude("currency")).equals(
            whole.invoices.select(pl.all().exclude("currency"))
        )
        assert (invoices["currency"].cast(pl.String) == whole.invoices["currency"].cast(pl.String)).all()
        # Events and emails too, once ordered the way the whole run orders them (time, then customer).
        events = concat(parts, "events", "time", "customer_id")
        assert events.drop("currency").equals(whole.events.drop("currency"))
        assert (events["currency"].cast(pl.String) == whole.events["currency"].cast(pl.String)).all()
        assert concat(parts, "emails", "time", "customer_id").equals(whole.emails)
        customers = concat(parts, "customers", "customer_id")
        assert customers.equals(whole.customers)


def test_shard_of_one_customer(small_default) -> None:
    whole = simulate(small_default, Policy.named("all-on"), seed=10)
    busiest = whole.events.group_by("customer_id").len().sort("len", descending=True)["customer_id"][0]
    alone = simulate(small_default, Policy.named("all-on"), seed=10, customer_ids=np.array([busiest]))
    mine = whole.invoices.filter(pl.col("customer_id") == busiest)
    assert alone.invoices.drop("currency").equals(mine.drop("currency"))
    assert alone.events.drop("currency").equals(
        whole.events.filter(pl.col("customer_id") == busiest).drop("currency")
    )


def test_engine_shortcuts_change_nothing(small_default, monkeypatch) -> None:
    """Starting processes without SimPy's Initialize event and pausing the garbage collector during the
    run are pure speed-ups: SimPy's own start and a collecting run give the same frames."""
    from recovery_sim.simulation.reference import engine, environment

    runs = [
        simulate(small_default, Policy.named(name), seed=11, fast=False) for name in ("all-on", "aggressive")
    ]
    monkeypatch.setattr(environment.Environment, "start", lambda env, generator: env.process(generator))
    monkeypatch.setattr(engine.gc, "disable", lambda: None)
    for name, run in zip(("all-on", "aggressive"), runs, strict=True):
        assert_same_frames(run, simulate(small_default, Policy.named(name), seed=11, fast=False))


def test_simpy_batches_change_nothing(small_default, monkeypatch) -> None:
    """SimPy runs the customers a batch at a time; any batch size gives the same frames."""
    from recovery_sim.simulation.reference import engine

    whole = simulate(small_default, Policy.named("all-on"), seed=12, fast=False)
    monkeypatch.setattr(engine.Engine, "batch", 7)
    assert_same_frames(whole, simulate(small_default, Policy.named("all-on"), seed=12, fast=False))


def test_kernel_chunks_change_nothing(small_default, monkeypatch) -> None:
    """The compiled path records into buffers of a fixed size, chunk after chunk; any size gives the
    same frames (here a chunk holds a few dozen customers' rows)."""
    from recovery_sim.simulation.compiled import driver, layout

    whole = simulate(small_default, Policy.named("all-on"), seed=13)
    monkeypatch.setattr(driver, "_BUFFER_ROWS", 128 * layout.MAX_INVOICES + 500)
    assert_same_frames(whole, simulate(small_default, Policy.named("all-on"), seed=13))


def test_kernel_threads_change_nothing(small_default) -> None:
    """Threads run disjoint customer ranges of the compiled path; the frames are those of one thread."""
    whole = simulate(small_default, Policy.named("aggressive"), seed=14)
    assert_same_frames(whole, simulate(small_default, Policy.named("aggressive"), seed=14, threads=3))


def test_customers_beyond_the_kernels_room_run_in_simpy(make_scenario) -> None:
    """Reactions delayed by months to every one of hundreds of failed-payment emails leave more pending
    wake-ups per customer than the kernel holds: the run falls back to SimPy, says so, and its frames
    are the reference path's."""
    scenario = make_scenario(
        customers=30,
        first_attempt_failure_rate=1.0,
        decline_mix={"expired_card": 1.0},  # soft, never succeeds on a retry
        behaviour={"act_delay_days": 120.0, "fatigue": 1.0, "act_on_email": {"payment_failed": 1.0},
                   "new_method_success": 0.0, "spontaneous_fix_rate": 0.0},
    )  # fmt: skip
    policy = (
        Policy.named("all-on")
        .with_setting("end_action", "leave_past_due")
        .with_setting("retries.max_attempts", 12)
    )
    with pytest.warns(UserWarning, match="uses the SimPy engine"):
        fast = simulate(scenario, policy, seed=15)
    assert_same_frames(fast, simulate(scenario, policy, seed=15, fast=False))


# --------------------------------------------------------------------------------------------- limits


def test_many_invoice_reminders_run_compiled(make_scenario, recwarn) -> None:
    """18 invoice reminders (valid: distinct days within -30..90) run on the compiled path, no
    fallback, with the reference path's frames; each reminder draws its own reaction."""
    scenario = make_scenario(customers=200, send_invoice_share=1.0, behaviour={"send_invoice_pay_share": 0.0})
    offsets = [-10, -7, -5, -3, -1, 0, 1, 2, 3, 5, 7, 10, 14, 20, 25, 30, 35, 40]
    policy = Policy.named("all-on").with_setting("emails.invoice_reminder_offsets", offsets)
    assert_fast_equals_reference(scenario, policy, seed=16)
    assert not [w for w in recwarn if "SimPy engine" in str(w.message)]
    fast = simulate(scenario, policy, seed=16)
    reminders = fast.emails.filter(pl.col("email_type") == "invoice_reminder")
    assert reminders.group_by("invoice_id").len()["len"].max() == len(offsets)


def test_frequent_confirmation_reminders_keep_paths_equal(make_scenario) -> None:
    """Reminders every 0.2 days: 37 confirmation emails per payment, each with its own draw."""
    scenario = make_scenario(customers=300, three_ds_share=0.5)
    policy = Policy.named("all-on").with_setting("emails.payment_action_reminder_days", 0.2)
    assert_fast_equals_reference(scenario, policy, seed=17)
    emails = simulate(scenario, policy, seed=17).emails
    per_payment = (
        emails.filter(pl.col("email_type") == "payment_action_reminder").group_by("invoice_id").len()
    )
    assert per_payment["len"].max() > 16


def test_decade_old_subscriptions_have_unique_invoice_ids(make_scenario) -> None:
    """Monthly customers who signed up 12 years before the start bill periods 140 and on; their invoice
    ids stay unique (customer * 128 + period mod 128) and both paths agree."""
    scenario = make_scenario(
        customers=200,
        signup_month="2014-01",
        signup_spread_months=6,
        months=24,
        first_attempt_failure_rate=0.3,
    )
    assert_fast_equals_reference(scenario, Policy.named("all-on"), seed=18)
    run = simulate(scenario, Policy.named("all-on"), seed=18)
    assert run.invoices["period"].max() >= 140
    assert run.invoices["invoice_id"].n_unique() == run.invoices.height


def test_more_cohorts_than_the_kernel_holds_run_in_simpy(make_scenario) -> None:
    """A valid scenario with more cohorts than the kernel's tables hold is no error: the run goes to the
    SimPy engine with a warning, and its frames are the reference path's."""
    from recovery_sim.simulation.compiled import layout

    cohorts = [{"name": f"cohort {i}", "customers": 1} for i in range(layout.MAX_COHORTS + 1)]
    scenario = make_scenario(cohorts=cohorts, months=3)
    policy = Policy.named("all-on")
    with pytest.warns(UserWarning, match="uses the SimPy engine"):
        fast = simulate(scenario, policy, seed=17)
    assert_same_frames(fast, simulate(scenario, policy, seed=17, fast=False))
