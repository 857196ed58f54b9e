"""Pure-function tests of recovery_sim.domain.rules, one or more per SPEC rule id (R1-R13).

Each test is named after the rule it proves. The expected values are written out here rather than read
back from the constants in rules.py, so a wrong constant fails the test instead of agreeing with it.
Engine-level behaviour (the simulation actually sending, stopping and honouring these) is tested in
tests/simulation/test_engine_rules.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_sim.domain import rules
from recovery_sim.domain.enums import (
    CollectionMethod,
    DunningAction,
    EmailType,
    PaymentMethodKind,
    PlanInterval,
    RecipientKind,
    SubscriptionStatus,
)
from recovery_sim.settings.config import ConfigError, LinkSettings, Policy, shipped_policy_names

START = dt.date(2026, 1, 1)
CHARGE = CollectionMethod.CHARGE_AUTOMATICALLY
SEND = CollectionMethod.SEND_INVOICE

SETTINGS = settings(max_examples=150, deadline=None)


def policy(**emails: object) -> Policy:
    """A policy with every email off except the given `emails` settings."""
    return Policy.model_validate({"name": "test", "emails": emails})


def day(at: dt.datetime) -> float:
    """An aware UTC instant as simulation days since START."""
    start = dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC)
    return (at - start) / dt.timedelta(days=1)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# ----------------------------------------------------------------------------------------------- R1


def test_R1_shipped_policies_exist() -> None:
    assert {"none", "recommended-minimum", "all-on", "aggressive"} <= set(shipped_policy_names())


def test_R1_recommended_minimum_is_exactly_R4_and_R8_1() -> None:
    p = Policy.named("recommended-minimum")
    on = {t for t in EmailType if rules.policy_sends(p, t)}
    assert on == {EmailType.PAYMENT_FAILED, EmailType.PAYMENT_ACTION_REQUIRED}
    assert rules.is_recommended_minimum(p)
    # Beyond the email switches: no reminder of any kind.
    assert not p.emails.payment_action_reminders
    assert not p.emails.invoice_reminders


def test_R1_none_policy_sends_nothing() -> None:
    p = Policy.named("none")
    assert [t for t in EmailType if rules.policy_sends(p, t)] == []
    assert not rules.is_recommended_minimum(p)
    assert not rules.confirmation_email_due(p)
    assert not rules.payment_failed_email_due(p, CHARGE, PaymentMethodKind.CARD)


@pytest.mark.parametrize("name", ["all-on", "aggressive"])
def test_R1_fuller_policies_cover_the_minimum(name: str) -> None:
    p = Policy.named(name)
    assert rules.is_recommended_minimum(p)
    assert rules.policy_sends(p, EmailType.PAYMENT_FAILED)
    assert rules.policy_sends(p, EmailType.PAYMENT_ACTION_REQUIRED)


@pytest.mark.parametrize(
    ("payment_failed", "payment_action_required", "expected"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_R1_minimum_needs_both_R4_and_R8_1(
    payment_failed: bool, payment_action_required: bool, expected: bool
) -> None:
    p = policy(payment_failed=payment_failed, payment_action_required=payment_action_required)
    assert rules.is_recommended_minimum(p) is expected


def test_R1_policy_sends_follows_each_switch() -> None:
    switches = {
        "payment_failed": {EmailType.PAYMENT_FAILED},
        "invoice_reminders": {EmailType.INVOICE_REMINDER},
        "trial_will_end": {EmailType.TRIAL_WILL_END, EmailType.TRIAL_ENDED_PAUSED},
        "upcoming_renewal": {EmailType.UPCOMING_RENEWAL},
        "payment_action_required": {EmailType.PAYMENT_ACTION_REQUIRED},
        "payment_action_reminders": {EmailType.PAYMENT_ACTION_REMINDER},
        "card_expiring": {EmailType.CARD_EXPIRING},
        "receipts": {EmailType.INVOICE_PAID},
        "invoice_finalized": {EmailType.INVOICE_FINALIZED},
        "subscription_canceled": {EmailType.SUBSCRIPTION_CANCELED},
        "final_notice": {EmailType.FINAL_NOTICE},
    }
    for switch, types in switches.items():
        on = {t for t in EmailType if rules.policy_sends(policy(**{switch: True}), t)}
        assert on == types, switch


# ----------------------------------------------------------------------------------------------- R3

R3_LINK_TYPES = {
    EmailType.PAYMENT_ACTION_REQUIRED,  # R8(1)
    EmailType.PAYMENT_ACTION_REMINDER,  # R8(2)
    EmailType.PAYMENT_FAILED,  # R4
    EmailType.TRIAL_WILL_END,  # R6a
    EmailType.TRIAL_ENDED_PAUSED,  # R6b
    EmailType.UPCOMING_RENEWAL,  # R7
    EmailType.CARD_EXPIRING,  # R9
    EmailType.FINAL_NOTICE,  # R4: a payment-failure notification, the last one before the end action
}


def test_R3_update_link_types() -> None:
    with_link = {t for t in EmailType if rules.carries_update_link(t, CHARGE)}
    assert with_link == R3_LINK_TYPES
    assert rules.UPDATE_LINK_TYPES == R3_LINK_TYPES


@pytest.mark.parametrize(
    "email_type",
    [
        EmailType.INVOICE_REMINDER,
        EmailType.INVOICE_FINALIZED,
        EmailType.INVOICE_PAID,
        EmailType.ONE_OFF_INVOICE_UNPAID,
        EmailType.CREDIT_NOTE_CREATED,
        EmailType.REFUND_ISSUED,
        EmailType.SUBSCRIPTION_CANCELED,
    ],
)
def test_R3_informational_emails_carry_no_update_link(email_type: EmailType) -> None:
    assert not rules.carries_update_link(email_type, CHARGE)


def test_R3a_update_payment_destination_defaults_to_hosted() -> None:
    assert Policy().links.update_payment == "hosted"
    assert Policy().links.update_payment_url is None


def test_R3a_custom_update_payment_page() -> None:
    p = Policy().with_setting(
        "links", {"update_payment": "custom", "update_payment_url": "https://x.test/pay"}
    )
    assert p.links.update_payment == "custom"
    assert p.links.update_payment_url == "https://x.test/pay"


@pytest.mark.parametrize("url", [None, "", "http://x.test/pay", "x.test/pay"])
def test_R3a_custom_destination_needs_an_https_url(url: str | None) -> None:
    with pytest.raises(ValueError, match="update_payment_url must be an https:// URL"):
        LinkSettings(update_payment="custom", update_payment_url=url)
    with pytest.raises(ConfigError, match="update_payment_url"):
        Policy().with_setting("links.update_payment", "custom")


def test_R3a_unknown_destination_rejected() -> None:
    with pytest.raises(ConfigError, match="links.update_payment"):
        Policy().with_setting("links.update_payment", "portal")


R3B_TYPES = {
    EmailType.TRIAL_WILL_END,
    EmailType.UPCOMING_RENEWAL,
    EmailType.CARD_EXPIRING,
    EmailType.PAYMENT_FAILED,
    EmailType.INVOICE_PAID,
    EmailType.INVOICE_REMINDER,
}


def test_R3b_management_link_off_by_default() -> None:
    p = Policy()
    assert p.links.subscription_management == "none"
    for t, cm in itertools.product(EmailType, CollectionMethod):
        assert not rules.carries_management_link(p, t, cm)


def test_R3b_hosted_management_link() -> None:
    p = Policy().with_setting("links.subscription_management", "hosted")
    assert {t for t in EmailType if rules.carries_management_link(p, t, CHARGE)} == R3B_TYPES
    assert rules.MANAGEMENT_LINK_TYPES == R3B_TYPES
    # A hosted page is never offered to a send_invoice subscription (R10b).
    assert not any(rules.carries_management_link(p, t, SEND) for t in EmailType)
    assert not rules.carries_management_link(p, EmailType.PAYMENT_FAILED, "send_invoice")


def test_R3b_custom_management_page() -> None:
    p = Policy().with_setting(
        "links", {"subscription_management": "custom", "subscription_management_url": "https://x.test/manage"}
    )
    for cm in CollectionMethod:
        assert {t for t in EmailType if rules.carries_management_link(p, t, cm)} == R3B_TYPES
    with pytest.raises(ConfigError, match="subscription_management_url must be an https:// URL"):
        Policy().with_setting("links.subscription_management", "custom")


# ----------------------------------------------------------------------------------------------- R4


@pytest.mark.parametrize(
    ("collection_method", "method", "expected"),
    [
        (CHARGE, PaymentMethodKind.CARD, True),
        (CHARGE, PaymentMethodKind.SEPA_DEBIT, False),
        (CHARGE, PaymentMethodKind.BOLETO, False),
        (SEND, PaymentMethodKind.CARD, False),
        (SEND, PaymentMethodKind.SEPA_DEBIT, False),
        (SEND, PaymentMethodKind.BOLETO, False),
    ],
)
def test_R4_card_and_charge_automatically_only(
    collection_method: CollectionMethod, method: PaymentMethodKind, expected: bool
) -> None:
    assert rules.payment_failed_email_due(policy(payment_failed=True), collection_method, method) is expected
    # Plain strings (as read from Stripe JSON or a data frame) mean the same thing.
    assert (
        rules.payment_failed_email_due(policy(payment_failed=True), str(collection_method), str(method))
        is expected
    )


@pytest.mark.parametrize("method", list(PaymentMethodKind))
@pytest.mark.parametrize("collection_method", list(CollectionMethod))
def test_R4_never_when_off(collection_method: CollectionMethod, method: PaymentMethodKind) -> None:
    p = Policy.named("all-on").with_setting("emails.payment_failed", False)
    assert not rules.payment_failed_email_due(p, collection_method, method)
    assert not rules.policy_sends(p, EmailType.PAYMENT_FAILED)


def test_R4_carries_update_link() -> None:
    assert rules.carries_update_link(EmailType.PAYMENT_FAILED, CHARGE)


# ----------------------------------------------------------------------------------------------- R5


def test_R5_reminders_at_offsets_from_due_date() -> None:
    p = policy(invoice_reminders=True, invoice_reminder_offsets=[-3, 1, 7, 14])
    assert rules.invoice_reminder_times(p, SEND, 40.0) == [37.0, 41.0, 47.0, 54.0]
    assert rules.invoice_reminder_times(p, "send_invoice", 40.0) == [37.0, 41.0, 47.0, 54.0]


def test_R5_default_offsets() -> None:
    p = policy(invoice_reminders=True)
    assert rules.invoice_reminder_times(p, SEND, 0.0) == [-3.0, 1.0, 7.0, 14.0]


def test_R5_send_invoice_only() -> None:
    p = policy(invoice_reminders=True)
    assert rules.invoice_reminder_times(p, CHARGE, 40.0) == []


def test_R5_none_when_off() -> None:
    p = Policy.named("all-on").with_setting("emails.invoice_reminders", False)
    assert rules.invoice_reminder_times(p, SEND, 40.0) == []


def fixed(days: list[float], end: DunningAction = DunningAction.CANCEL, **emails: object) -> Policy:
    """A policy retrying on fixed days after the first failure, with the given email settings."""
    base = (
        policy(**emails)
        .with_setting("retries.mode", "fixed")
        .with_setting("retries.fixed_offsets_days", days)
    )
    return base.with_setting("end_action", end)


def test_R4_attempts_follow_the_retry_schedule() -> None:
    p = fixed([3.0, 8.0, 15.0])
    assert rules.attempts_allowed(p) == 4
    assert [rules.next_attempt_at(p, 10.0, a) for a in (1, 2, 3, 4)] == [13.0, 18.0, 25.0, None]
    assert [rules.is_last_attempt(p, a) for a in (1, 2, 3, 4)] == [False, False, False, True]
    assert rules.dunning_ends_at(p, 10.0) == 25.0  # the last retry, then the end action


def test_R4_no_retries_ends_dunning_at_the_first_failure() -> None:
    p = fixed([])
    assert rules.attempts_allowed(p) == 1 and rules.is_last_attempt(p, 1)
    assert rules.next_attempt_at(p, 10.0, 1) is None and rules.dunning_ends_at(p, 10.0) == 10.0


def test_R4_final_notice_days_before_the_end_action() -> None:
    p = fixed([3.0, 8.0, 15.0], final_notice=True)
    assert rules.final_notice_at(p, CHARGE, PaymentMethodKind.CARD, 10.0) == 22.0  # default: 3 days before
    later = p.with_setting("emails.final_notice_days", 1.5)
    assert rules.final_notice_at(later, CHARGE, PaymentMethodKind.CARD, 10.0) == 23.5


def test_R4_final_notice_only_when_an_action_follows() -> None:
    for end, due in ((DunningAction.CANCEL, True), (DunningAction.MARK_UNPAID, True),
                     (DunningAction.LEAVE_PAST_DUE, False)):  # fmt: skip
        p = fixed([3.0, 8.0, 15.0], end, final_notice=True)
        assert (rules.final_notice_at(p, CHARGE, PaymentMethodKind.CARD, 0.0) is not None) is due, end


def test_R4_final_notice_card_and_charge_automatically_only() -> None:
    p = fixed([3.0, 8.0, 15.0], final_notice=True)
    for collection, method in itertools.product(CollectionMethod, PaymentMethodKind):
        due = rules.final_notice_at(p, collection, method, 0.0) is not None
        assert due is (collection == CHARGE and method == PaymentMethodKind.CARD), (collection, method)


def test_R4_final_notice_never_at_or_before_the_first_failure() -> None:
    p = fixed([3.0], final_notice=True)
    assert rules.final_notice_at(p, CHARGE, PaymentMethodKind.CARD, 5.0) is None  # 3 days: no room
    assert rules.final_notice_at(p.with_setting("emails.final_notice_days", 2.0), CHARGE,
                                 PaymentMethodKind.CARD, 5.0) == 6.0  # fmt: skip


def test_R4_final_notice_none_when_off() -> None:
    assert rules.final_notice_at(fixed([3.0, 8.0, 15.0]), CHARGE, PaymentMethodKind.CARD, 0.0) is None
    assert not rules.policy_sends(Policy.named("recommended-minimum"), EmailType.FINAL_NOTICE)  # R1
    assert rules.policy_sends(policy(final_notice=True), EmailType.FINAL_NOTICE)


def test_R4_final_notice_carries_update_link_but_is_not_logged_nor_sent_in_test_mode() -> None:
    assert rules.carries_update_link(EmailType.FINAL_NOTICE, CHARGE)  # R3: a payment-failure notification
    assert not rules.carries_update_link(EmailType.FINAL_NOTICE, SEND)  # R10b
    assert not rules.logged([EmailType.FINAL_NOTICE])  # R13 lists its types; this is not one
    assert not rules.delivered_in_test_mode(EmailType.FINAL_NOTICE, RecipientKind.TEAM_MEMBER, True)  # R12


def test_R8_confirmation_link_ends_with_the_payment() -> None:
    assert rules.foreseen_link_deadline(30.0, payment_expires_at=9.0) == 9.0
    assert rules.foreseen_link_deadline(5.0, payment_expires_at=9.0) == 5.0  # R11 may end it sooner
    assert rules.foreseen_link_deadline(30.0) == 30.0


def test_R11b_links_die_when_dunning_ends_by_canceling_or_marking_unpaid() -> None:
    for end, until in ((DunningAction.CANCEL, 16.0), (DunningAction.MARK_UNPAID, 16.0),
                       (DunningAction.LEAVE_PAST_DUE, 30.0)):  # fmt: skip
        assert rules.foreseen_link_deadline(30.0, dunning_ends_at=16.0, end_action=end) == until, end
        assert rules.end_action_kills_links(end) is (until == 16.0)


def test_R5_R10b_invoice_page_on_send_invoice_invoice_emails_only() -> None:
    expected = {EmailType.INVOICE_REMINDER, EmailType.ONE_OFF_INVOICE_UNPAID, EmailType.INVOICE_FINALIZED}
    assert {t for t in EmailType if rules.carries_invoice_link(t, SEND)} == expected
    assert not any(rules.carries_invoice_link(t, CHARGE) for t in EmailType)
    assert not rules.carries_update_link(EmailType.INVOICE_REMINDER, SEND)  # R10b still holds


def test_R5_invoice_reminder_carries_no_update_link() -> None:
    assert not rules.carries_update_link(EmailType.INVOICE_REMINDER, SEND)


@pytest.mark.parametrize("offsets", [[7, 1], [1, 1], [-31], [91]])
def test_R5_offsets_validated(offsets: list[int]) -> None:
    with pytest.raises(ConfigError, match="emails.invoice_reminder_offsets"):
        Policy().with_setting("emails.invoice_reminder_offsets", offsets)


# ----------------------------------------------------------------------------------------------- R6


def test_R6a_seven_days_before_trial_end() -> None:
    p = policy(trial_will_end=True)
    assert rules.trial_reminder_at(p, 0.0, 14.0) == 7.0
    assert rules.trial_reminder_at(p, 10.0, 40.5) == 33.5
    assert rules.trial_reminder_at(p, 0.0, 7.0) == 0.0
    assert rules.TRIAL_REMINDER_LEAD_DAYS == 7.0


def test_R6a_never_before_the_trial_began() -> None:
    p = policy(trial_will_end=True)
    assert rules.trial_reminder_at(p, 0.0, 5.0) is None


def test_R6a_none_when_off() -> None:
    p = Policy.named("all-on").with_setting("emails.trial_will_end", False)
    assert rules.trial_reminder_at(p, 0.0, 14.0) is None


@given(start=st.floats(0, 1000), length=st.floats(7, 730))
@SETTINGS
def test_R6a_property(start: float, length: float) -> None:
    end = start + length
    at = rules.trial_reminder_at(policy(trial_will_end=True), start, end)
    assert at is not None
    assert math.isclose(end - at, 7.0, abs_tol=1e-9)
    assert start <= at < end
    assert rules.trial_reminder_at(policy(trial_will_end=True), start, start + 6.99) is None


def test_R6b_no_payment_method_pauses() -> None:
    assert rules.status_at_trial_end(has_payment_method=False) is SubscriptionStatus.PAUSED
    assert rules.status_at_trial_end(has_payment_method=True) is SubscriptionStatus.ACTIVE


def test_R6b_activation_prompt_links_to_hosted_page() -> None:
    assert rules.carries_update_link(EmailType.TRIAL_ENDED_PAUSED, CHARGE)
    assert rules.policy_sends(policy(trial_will_end=True), EmailType.TRIAL_ENDED_PAUSED)
    assert not rules.policy_sends(policy(), EmailType.TRIAL_ENDED_PAUSED)


# ----------------------------------------------------------------------------------------------- R7


@pytest.mark.parametrize("lead", [3, 7, 15, 30, 45, 60])
def test_R7a_lead_days(lead: int) -> None:
    p = policy(upcoming_renewal=True, upcoming_renewal_days=lead, upcoming_renewal_intervals=["year"])
    assert rules.renewal_reminder_at(p, PlanInterval.YEAR, 100.0, 465.0) == 465.0 - lead


def test_R7a_default_seven_days_yearly_only() -> None:
    p = policy(upcoming_renewal=True)
    assert p.emails.upcoming_renewal_days == 7
    assert rules.renewal_reminder_at(p, PlanInterval.YEAR, 0.0, 365.0) == 358.0
    assert rules.renewal_reminder_at(p, PlanInterval.MONTH, 0.0, 31.0) is None


def test_R7a_clamped_to_period_start() -> None:
    p = policy(upcoming_renewal=True, upcoming_renewal_days=45, upcoming_renewal_intervals=["month"])
    assert rules.renewal_reminder_at(p, PlanInterval.MONTH, 100.0, 131.0) == 100.0
    p = p.with_setting("emails.upcoming_renewal_days", 30)
    assert rules.renewal_reminder_at(p, PlanInterval.MONTH, 100.0, 131.0) == 101.0


def test_R7a_interval_filter() -> None:
    both = policy(upcoming_renewal=True, upcoming_renewal_intervals=["month", "year"])
    monthly = policy(upcoming_renewal=True, upcoming_renewal_intervals=["month"])
    assert rules.renewal_reminder_at(both, PlanInterval.MONTH, 0.0, 31.0) == 24.0
    assert rules.renewal_reminder_at(both, PlanInterval.YEAR, 0.0, 365.0) == 358.0
    assert rules.renewal_reminder_at(monthly, PlanInterval.MONTH, 0.0, 31.0) == 24.0
    assert rules.renewal_reminder_at(monthly, PlanInterval.YEAR, 0.0, 365.0) is None
    nothing = policy(upcoming_renewal=True, upcoming_renewal_intervals=[])
    assert rules.renewal_reminder_at(nothing, PlanInterval.YEAR, 0.0, 365.0) is None


def test_R7a_none_when_off() -> None:
    p = Policy.named("aggressive").with_setting("emails.upcoming_renewal", False)
    assert rules.renewal_reminder_at(p, PlanInterval.YEAR, 0.0, 365.0) is None
    assert rules.renewal_reminder_at(p, PlanInterval.MONTH, 0.0, 31.0) is None


@pytest.mark.parametrize("lead", [0, 1, 5, 10, 14, 90])
def test_R7a_only_allowed_lead_days(lead: int) -> None:
    with pytest.raises(ConfigError, match="upcoming_renewal_days must be one of 3, 7, 15, 30, 45, 60"):
        Policy().with_setting("emails.upcoming_renewal_days", lead)


@given(
    lead=st.sampled_from([3, 7, 15, 30, 45, 60]),
    start=st.floats(0, 1000),
    length=st.floats(28, 366),
)
@SETTINGS
def test_R7a_property(lead: int, start: float, length: float) -> None:
    p = policy(upcoming_renewal=True, upcoming_renewal_days=lead, upcoming_renewal_intervals=["month"])
    at = rules.renewal_reminder_at(p, PlanInterval.MONTH, start, start + length)
    assert at is not None
    assert start <= at < start + length
    assert at == start or math.isclose(start + length - at, lead, abs_tol=1e-9)


def test_R7b_display_timezone_fallbacks() -> None:
    assert rules.display_timezone("America/Sao_Paulo", "Europe/Paris") == "America/Sao_Paulo"
    assert rules.display_timezone(None, "Europe/Paris") == "Europe/Paris"
    assert rules.display_timezone(None, None) == "UTC"
    assert rules.display_timezone("", "") == "UTC"
    assert rules.display_timezone("Asia/Tokyo", None) == "Asia/Tokyo"


def test_R7b_local_renewal_date_differs_by_timezone() -> None:
    renewal = day(utc(2026, 3, 15, 1, 30))
    instant = rules.to_datetime(renewal, START)
    assert instant == utc(2026, 3, 15, 1, 30)
    sao_paulo = instant.astimezone(ZoneInfo(rules.display_timezone("America/Sao_Paulo", "Europe/Paris")))
    paris = instant.astimezone(ZoneInfo(rules.display_timezone(None, "Europe/Paris")))
    fallback = instant.astimezone(ZoneInfo(rules.display_timezone(None, None)))
    assert sao_paulo.date() == dt.date(2026, 3, 14)
    assert paris.date() == dt.date(2026, 3, 15)
    assert fallback.date() == dt.date(2026, 3, 15)
    # Just before midnight UTC the other way round: Paris is already on the next day.
    late = rules.to_datetime(day(utc(2026, 7, 31, 22, 45)), START)
    assert late.astimezone(ZoneInfo("Europe/Paris")).date() == dt.date(2026, 8, 1)
    assert late.astimezone(ZoneInfo("America/Sao_Paulo")).date() == dt.date(2026, 7, 31)


def test_R7b_to_datetime_is_utc() -> None:
    at = rules.to_datetime(0.5, START)
    assert at.utcoffset() == dt.timedelta(0)
    assert at == utc(2026, 1, 1, 12)
    assert rules.to_datetime(59.0, START) == utc(2026, 3, 1)


# ----------------------------------------------------------------------------------------------- R8


def test_R8_1_confirmation_email() -> None:
    assert rules.confirmation_email_due(policy(payment_action_required=True))
    assert not rules.confirmation_email_due(policy(payment_action_reminders=True))
    assert not rules.confirmation_email_due(Policy.named("none"))
    assert rules.carries_update_link(EmailType.PAYMENT_ACTION_REQUIRED, CHARGE)


def test_R8_2_reminders_strictly_before_expiry() -> None:
    p = policy(payment_action_reminders=True, payment_action_reminder_days=1.0)
    assert rules.confirmation_reminder_times(p, 10.0, 17.0) == [11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    assert rules.confirmation_reminder_times(p, 10.0, 16.5) == [11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    assert rules.confirmation_reminder_times(p, 10.0, 11.0) == []


def test_R8_2_configured_frequency() -> None:
    p = policy(payment_action_reminders=True, payment_action_reminder_days=2.5)
    assert rules.confirmation_reminder_times(p, 0.0, 7.0) == [2.5, 5.0]
    assert rules.confirmation_reminder_times(p, 0.0, 7.5) == [2.5, 5.0]


def test_R8_2_none_when_off() -> None:
    p = Policy.named("all-on").with_setting("emails.payment_action_reminders", False)
    assert rules.confirmation_reminder_times(p, 0.0, 7.0) == []


def test_R8_2_reminder_carries_link_like_original() -> None:
    assert rules.carries_update_link(EmailType.PAYMENT_ACTION_REMINDER, CHARGE)


@given(
    requested=st.floats(0, 400),
    step=st.floats(0.1, 5),
    life=st.floats(0, 30),
)
@SETTINGS
def test_R8_2_property(requested: float, step: float, life: float) -> None:
    expires = requested + life
    p = policy(payment_action_reminders=True, payment_action_reminder_days=step)
    times = rules.confirmation_reminder_times(p, requested, expires)
    assert all(requested < t < expires for t in times)
    if times:
        assert math.isclose(times[0] - requested, step, abs_tol=1e-6)
    for a, b in itertools.pairwise(times):
        assert math.isclose(b - a, step, abs_tol=1e-6)
    # No reminder is missing: the next one would fall at or after expiry.
    last = times[-1] if times else requested
    assert last + step >= expires - 1e-6


# ----------------------------------------------------------------------------------------------- R9


def test_R9_card_valid_through_its_expiry_month() -> None:
    p = policy(card_expiring=True)
    expires = rules.card_expires_at(3, 2026, START)
    email = rules.card_expiring_email_at(p, 3, 2026, START)
    assert rules.to_datetime(expires, START) == utc(2026, 4, 1)
    assert rules.to_datetime(email, START) == utc(2026, 3, 1)


def test_R9_december_wraps_the_year() -> None:
    p = policy(card_expiring=True)
    assert rules.to_datetime(rules.card_expires_at(12, 2026, START), START) == utc(2027, 1, 1)
    assert rules.to_datetime(rules.card_expiring_email_at(p, 12, 2026, START), START) == utc(2026, 12, 1)


@pytest.mark.parametrize(("year", "leap"), [(2026, False), (2028, True)])
def test_R9_february(year: int, leap: bool) -> None:
    p = policy(card_expiring=True)
    expires = rules.card_expires_at(2, year, START)
    email = rules.card_expiring_email_at(p, 2, year, START)
    assert rules.to_datetime(expires, START) == utc(year, 3, 1)
    assert rules.to_datetime(email, START) == utc(year, 2, 1)
    assert expires - email == (29 if leap else 28)


def test_R9_card_already_expired_before_start() -> None:
    assert rules.card_expires_at(12, 2025, START) == 0.0
    assert rules.card_expiring_email_at(policy(card_expiring=True), 12, 2025, START) == -31.0
    assert rules.card_expires_at(11, 2025, START) == -31.0


def test_R9_none_when_off() -> None:
    assert rules.card_expiring_email_at(policy(), 3, 2026, START) is None


@given(month=st.integers(1, 12), year=st.integers(2000, 2100))
@SETTINGS
def test_R9_property(month: int, year: int) -> None:
    p = policy(card_expiring=True)
    expires = rules.to_datetime(rules.card_expires_at(month, year, START), START)
    email = rules.to_datetime(rules.card_expiring_email_at(p, month, year, START), START)
    assert email == utc(year, month, 1)
    assert expires.day == 1 and expires.time() == dt.time()
    assert (expires - dt.timedelta(days=1)).month == month  # the last valid day is in the expiry month
    assert 28 <= (expires - email).days <= 31


# ---------------------------------------------------------------------------------------------- R10


@pytest.mark.parametrize("email_type", list(EmailType))
def test_R10b_no_hosted_link_for_send_invoice(email_type: EmailType) -> None:
    assert not rules.carries_update_link(email_type, SEND)
    assert not rules.carries_update_link(email_type, "send_invoice")


def test_R10b_charge_automatically_keeps_the_link() -> None:
    assert rules.carries_update_link(EmailType.PAYMENT_FAILED, CHARGE)
    assert rules.carries_update_link(EmailType.CARD_EXPIRING, "charge_automatically")


# ---------------------------------------------------------------------------------------------- R11


def test_R11a_trial_link_lives_30_days_after_the_email() -> None:
    for t in (EmailType.TRIAL_WILL_END, EmailType.TRIAL_ENDED_PAUSED):
        until = rules.link_live_until(t, 7.0, 14.0, trial_end=14.0, had_payment_method_at_trial_end=False)
        assert until == 37.0
        assert rules.link_is_live(until, 36.99, SubscriptionStatus.PAUSED)
        assert not rules.link_is_live(until, 37.0, SubscriptionStatus.PAUSED)
    assert rules.TRIAL_LINK_LIFETIME_DAYS == 30.0


def test_R11a_applies_only_to_trial_links() -> None:
    assert rules.link_live_until(EmailType.PAYMENT_FAILED, 7.0, 100.0) == 100.0
    assert rules.link_live_until(EmailType.CARD_EXPIRING, 7.0, 20.0) == 20.0
    assert rules.TRIAL_LINK_TYPES == {EmailType.TRIAL_WILL_END, EmailType.TRIAL_ENDED_PAUSED}


@pytest.mark.parametrize(
    "status", [SubscriptionStatus.CANCELED, SubscriptionStatus.UNPAID, SubscriptionStatus.INCOMPLETE_EXPIRED]
)
def test_R11b_killing_statuses(status: SubscriptionStatus) -> None:
    assert rules.status_kills_link(status)
    assert not rules.link_is_live(100.0, 5.0, status)  # status since forever
    assert not rules.link_is_live(100.0, 5.0, status, status_since=5.0)  # as soon as it holds
    assert not rules.link_is_live(100.0, 5.0, status, status_since=4.0)
    assert rules.link_is_live(100.0, 5.0, status, status_since=5.1)  # not yet
    assert not rules.link_is_live(100.0, 5.0, str(status), status_since=5.0)


@pytest.mark.parametrize(
    "status",
    [
        SubscriptionStatus.TRIALING,
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.INCOMPLETE,
        SubscriptionStatus.PAUSED,
    ],
)
def test_R11b_other_statuses_keep_the_link(status: SubscriptionStatus) -> None:
    assert not rules.status_kills_link(status)
    assert rules.link_is_live(100.0, 5.0, status)
    assert rules.link_is_live(100.0, 5.0, status, status_since=0.0)


def test_R11b_applies_to_every_link() -> None:
    for t in EmailType:
        until = rules.link_live_until(t, 0.0, 100.0, trial_end=14.0)
        assert rules.link_is_live(until, 1.0, SubscriptionStatus.PAST_DUE)
        assert not rules.link_is_live(until, 1.0, SubscriptionStatus.CANCELED, status_since=1.0)


def test_R11c_trial_link_dies_at_trial_end_if_a_method_was_on_file() -> None:
    until = rules.link_live_until(
        EmailType.TRIAL_WILL_END, 7.0, 14.0, trial_end=14.0, had_payment_method_at_trial_end=True
    )
    assert until == 14.0
    assert rules.link_is_live(until, 13.9, SubscriptionStatus.TRIALING)
    assert not rules.link_is_live(until, 14.0, SubscriptionStatus.ACTIVE)


def test_R11c_without_a_method_the_trial_link_outlives_the_trial() -> None:
    until = rules.link_live_until(
        EmailType.TRIAL_WILL_END, 7.0, 14.0, trial_end=14.0, had_payment_method_at_trial_end=False
    )
    assert until == 37.0
    assert rules.link_is_live(until, 20.0, SubscriptionStatus.PAUSED)  # R6b activation still possible


def test_R11c_only_trial_links() -> None:
    until = rules.link_live_until(
        EmailType.PAYMENT_FAILED, 7.0, 40.0, trial_end=14.0, had_payment_method_at_trial_end=True
    )
    assert until == 40.0


def test_R11d_link_dies_when_the_period_expires() -> None:
    for t in R3_LINK_TYPES - {EmailType.TRIAL_WILL_END, EmailType.TRIAL_ENDED_PAUSED}:
        until = rules.link_live_until(t, 3.0, 31.0)
        assert until == 31.0
        assert rules.link_is_live(until, 30.99, SubscriptionStatus.PAST_DUE)
        assert not rules.link_is_live(until, 31.0, SubscriptionStatus.PAST_DUE)
        assert not rules.link_is_live(until, 45.0, SubscriptionStatus.ACTIVE)


def test_R11d_sent_after_the_period_is_dead_on_arrival() -> None:
    until = rules.link_live_until(EmailType.PAYMENT_FAILED, 35.0, 31.0)
    assert until == 35.0
    assert not rules.link_is_live(until, 35.0, SubscriptionStatus.PAST_DUE)


link_statuses = st.sampled_from(list(SubscriptionStatus))


@given(
    live_until=st.floats(-100, 1000),
    at=st.floats(-100, 1000),
    status=link_statuses,
    since=st.floats(-100, 1000),
)
@SETTINGS
def test_R11_link_is_live_property(
    live_until: float, at: float, status: SubscriptionStatus, since: float
) -> None:
    live = rules.link_is_live(live_until, at, status, status_since=since)
    if at >= live_until:
        assert not live
    killing = status in {
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.UNPAID,
        SubscriptionStatus.INCOMPLETE_EXPIRED,
    }
    if killing and since <= at:
        assert not live
    if at < live_until and not (killing and since <= at):
        assert live


@given(
    email_type=st.sampled_from(list(EmailType)),
    sent=st.floats(0, 500),
    period=st.floats(0, 400),
    trial_end=st.floats(0, 500),
    had_method=st.booleans(),
)
@SETTINGS
def test_R11_live_until_property(
    email_type: EmailType, sent: float, period: float, trial_end: float, had_method: bool
) -> None:
    until = rules.link_live_until(
        email_type, sent, period, trial_end=trial_end, had_payment_method_at_trial_end=had_method
    )
    assert until >= sent
    if email_type in (EmailType.TRIAL_WILL_END, EmailType.TRIAL_ENDED_PAUSED):
        assert until <= sent + 30.0  # R11a
        if had_method:
            assert until <= max(trial_end, sent)  # R11c
    else:
        assert until == max(period, sent)  # R11d


# ---------------------------------------------------------------------------------------------- R12

R12_TYPES = {
    EmailType.PAYMENT_FAILED,
    EmailType.UPCOMING_RENEWAL,
    EmailType.TRIAL_WILL_END,
    EmailType.CARD_EXPIRING,
}


@pytest.mark.parametrize("test_mode", [False, True])
@pytest.mark.parametrize("recipient", list(RecipientKind))
@pytest.mark.parametrize("email_type", list(EmailType))
def test_R12(email_type: EmailType, recipient: RecipientKind, test_mode: bool) -> None:
    own_address = recipient in {RecipientKind.VERIFIED_DOMAIN, RecipientKind.TEAM_MEMBER}
    expected = (not test_mode) or (email_type in R12_TYPES and own_address)
    assert rules.delivered_in_test_mode(email_type, recipient, test_mode) is expected
    assert rules.delivered_in_test_mode(str(email_type), str(recipient), test_mode) is expected


def test_R12_exactly_four_types() -> None:
    assert rules.TEST_MODE_TYPES == R12_TYPES


# ---------------------------------------------------------------------------------------------- R13

EMAIL_ENUM = pl.Enum([t.value for t in EmailType])


def email_frame(rows: list[tuple[dt.datetime, int, int, EmailType, bool]]) -> pl.DataFrame:
    sent_at, customer, invoice, email_type, delivered = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "sent_at": pl.Series(sent_at, dtype=pl.Datetime("us", "UTC")),
            "customer_id": pl.Series(customer, dtype=pl.Int64),
            "invoice_id": pl.Series(invoice, dtype=pl.Int64),
            "email_type": pl.Series([t.value for t in email_type], dtype=EMAIL_ENUM),
            "delivered": pl.Series(delivered, dtype=pl.Boolean),
        }
    )


def test_R13() -> None:
    as_of = dt.date(2026, 5, 31)
    F = EmailType.PAYMENT_FAILED
    frame = email_frame(
        [
            (utc(2026, 5, 31, 0, 0), 1, 10, F, True),  # today, first instant: excluded
            (utc(2026, 5, 31, 23, 59), 1, 11, F, True),  # today: excluded
            (utc(2026, 5, 30, 23, 59, 59), 1, 12, F, True),  # yesterday: in
            (utc(2026, 5, 1, 0, 0), 1, 13, EmailType.CARD_EXPIRING, True),  # 30 days back: in
            (utc(2026, 4, 30, 23, 59, 59), 1, 14, F, True),  # 31 days back: out
            (utc(2026, 5, 10), 2, 15, F, True),  # another customer: out
            (utc(2026, 5, 11), 1, 16, EmailType.INVOICE_REMINDER, True),  # not a logged type
            (utc(2026, 5, 12), 1, 17, EmailType.UPCOMING_RENEWAL, True),  # not a logged type
            (utc(2026, 5, 13), 1, 18, EmailType.PAYMENT_ACTION_REMINDER, True),  # not a logged type
            (utc(2026, 5, 14), 1, 19, EmailType.TRIAL_WILL_END, False),  # not delivered
            (utc(2026, 5, 15), 1, 20, EmailType.INVOICE_PAID, True),  # receipt: in
            (utc(2026, 5, 2), 1, 21, EmailType.SUBSCRIPTION_CANCELED, True),  # in
        ]
    )
    log = rules.email_log(frame, 1, as_of)
    assert log.columns == ["sent_at", "email_type", "invoice_id"]
    assert log["invoice_id"].to_list() == [13, 21, 20, 12]  # sorted by time
    assert log["email_type"].cast(pl.String).to_list() == [
        "card_expiring",
        "subscription_canceled",
        "invoice_paid",
        "payment_failed",
    ]
    assert rules.email_log(frame, 2, as_of)["invoice_id"].to_list() == [15]
    assert rules.email_log(frame, 3, as_of).height == 0
    # A day later the 30-day window moves with it.
    assert rules.email_log(frame, 1, dt.date(2026, 6, 1))["invoice_id"].to_list() == [21, 20, 12, 10, 11]


R13_TYPES = {
    EmailType.PAYMENT_FAILED,
    EmailType.INVOICE_FINALIZED,
    EmailType.INVOICE_PAID,
    EmailType.PAYMENT_ACTION_REQUIRED,
    EmailType.CARD_EXPIRING,
    EmailType.ONE_OFF_INVOICE_UNPAID,
    EmailType.CREDIT_NOTE_CREATED,
    EmailType.REFUND_ISSUED,
    EmailType.TRIAL_WILL_END,
    EmailType.SUBSCRIPTION_CANCELED,
}
"""R13's list: reminders (`invoice_reminder`, `payment_action_reminder`, `upcoming_renewal`) and the R6b
activation prompt are not logged types."""


def test_R13_logged_types() -> None:
    assert set(rules.logged(EmailType)) == R13_TYPES
    assert rules.LOGGED_TYPES == R13_TYPES
    assert rules.logged([EmailType.UPCOMING_RENEWAL, EmailType.INVOICE_PAID]) == [EmailType.INVOICE_PAID]


@pytest.mark.parametrize("email_type", list(EmailType))
def test_R13_each_type(email_type: EmailType) -> None:
    frame = email_frame([(utc(2026, 5, 20, 12), 1, 1, email_type, True)])
    shown = rules.email_log(frame, 1, dt.date(2026, 5, 21)).height == 1
    assert shown is (email_type in set(rules.logged([email_type])))
    assert shown is (email_type in R13_TYPES)
