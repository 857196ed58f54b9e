"""SPEC R1-R13 as pure functions: the one place that decides what is due, what carries a link,
how long a link lives, what test mode delivers and what the email log shows.

The engine, the Stripe replay and the email previews all call these; the compiled fast path (kernel.py)
takes its per-run decisions from them and transcribes the per-event time formulas, proven identical
by tests/simulation/test_fast_path.py.
Times are simulation days (float) since the scenario's start at 00:00 UTC; calendar rules take the
start date to convert. No SimPy, no I/O. What each email type is (which rules, links, log, test mode)
is a row of `email_types.TABLE`; the sets below are views of it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from operator import attrgetter

import polars as pl

from recovery_sim.domain import formulas
from recovery_sim.domain.email_types import BY_TYPE, types_where
from recovery_sim.domain.enums import (
    CollectionMethod,
    DunningAction,
    EmailType,
    PaymentMethodKind,
    PlanInterval,
    RecipientKind,
    SubscriptionStatus,
)
from recovery_sim.settings.config import Policy

NEVER = math.inf
TRIAL_REMINDER_LEAD_DAYS = formulas.TRIAL_REMINDER_LEAD_DAYS  # R6a
TRIAL_LINK_LIFETIME_DAYS = formulas.TRIAL_LINK_LIFETIME_DAYS  # R11a
EMAIL_LOG_WINDOW_DAYS = 30  # R13
INVOICE_LINK_LIFETIME_DAYS = 30.0  # R5 interpretation: each reminder's invoice-page link, from sending

UPDATE_LINK_TYPES = types_where(lambda t: t.update_link)
"""R3: the notifications that carry an update-payment-method link."""
MANAGEMENT_LINK_TYPES = types_where(lambda t: t.management_link)
"""R3b: subscription emails where a configured subscription-management link is shown."""
TEST_MODE_TYPES = types_where(lambda t: t.test_mode)
"""R12: the only four types a test account sends, and only to verified-domain or team addresses."""
LOGGED_TYPES = types_where(lambda t: t.logged)
"""R13: the email types that appear in a customer's email log."""
TRIAL_LINK_TYPES = types_where(lambda t: t.trial)
"""R11a/R11c: the trial emails whose links follow the trial's deadlines rather than the period's."""
INVOICE_LINK_TYPES = types_where(lambda t: t.invoice_link)
"""R5/R10b: the invoice emails that link the invoice's own hosted page on send_invoice subscriptions."""


# ------------------------------------------------------------------------------ which emails are on


def policy_sends(policy: Policy, email_type: EmailType) -> bool:
    """Whether the policy's settings switch this email type on at all (R1, R4-R9): the row's `switch`."""
    row = BY_TYPE.get(email_type)
    return row is not None and row.switch is not None and bool(attrgetter(row.switch)(policy))


def is_recommended_minimum(policy: Policy) -> bool:
    """R1: payment failures (R4) and confirmations (R8(1)) are both covered."""
    return policy.emails.payment_failed and policy.emails.payment_action_required


def payment_failed_email_due(
    policy: Policy, collection_method: CollectionMethod, method: PaymentMethodKind
) -> bool:
    """R4: after each failed attempt (first and retries) of a card-paid subscription invoice."""
    return formulas.payment_failed_email_due(
        policy.emails.payment_failed,
        collection_method == CollectionMethod.SEND_INVOICE,
        method == PaymentMethodKind.CARD,
    )


def attempts_allowed(policy: Policy) -> int:
    """R4 and the retry schedule: the first attempt plus one per scheduled retry ("attempt 2 of 4")."""
    return 1 + len(policy.retries.offsets())


def next_attempt_at(policy: Policy, first_failure_at: float, attempt: int) -> float | None:
    """The retry that follows failed attempt `attempt` (1 is the first), or None after the last one."""
    offsets = policy.retries.offsets()
    return first_failure_at + offsets[attempt - 1] if 1 <= attempt <= len(offsets) else None


def is_last_attempt(policy: Policy, attempt: int) -> bool:
    """Whether failed attempt `attempt` was the schedule's last: the end-of-dunning action follows it."""
    return attempt >= attempts_allowed(policy)


def dunning_ends_at(policy: Policy, first_failure_at: float) -> float:
    """When retries run out and `policy.end_action` applies: at the last scheduled retry (at the first
    failure itself when the policy schedules none)."""
    offsets = policy.retries.offsets()
    return formulas.dunning_ends_at(first_failure_at, offsets[-1] if offsets else 0.0)


def final_notice_at(
    policy: Policy, collection_method: CollectionMethod, method: PaymentMethodKind, first_failure_at: float
) -> float | None:
    """R4 escalation: the final notice, `emails.final_notice_days` before the end-of-dunning action.

    Only for the invoices R4 emails about (card, charge_automatically), only when an action follows
    (canceling or marking unpaid; leaving it past due ends nothing), and only strictly after the first
    failure: with less time than that, the first R4 email is the only notice there is room for.
    The caller skips it once the invoice is paid, voided or uncollectible, or the subscription ended.
    """
    if not formulas.final_notice_due(
        policy.emails.final_notice,
        end_action_kills_links(policy.end_action),
        collection_method == CollectionMethod.SEND_INVOICE,
        method == PaymentMethodKind.CARD,
    ):
        return None
    at = formulas.final_notice_at(
        dunning_ends_at(policy, first_failure_at), policy.emails.final_notice_days, first_failure_at
    )
    return None if math.isnan(at) else at


def invoice_reminder_times(policy: Policy, collection_method: CollectionMethod, due_at: float) -> list[float]:
    """R5: reminders for unpaid send_invoice invoices, at the configured offsets from the due date.

    The caller stops sending once the invoice is paid, voided or uncollectible.
    """
    if not policy.emails.invoice_reminders or collection_method != CollectionMethod.SEND_INVOICE:
        return []
    return [formulas.invoice_reminder_at(due_at, offset) for offset in policy.emails.invoice_reminder_offsets]


def trial_reminder_at(policy: Policy, trial_start: float, trial_end: float) -> float | None:
    """R6a: 7 days before the trial ends (never before the trial began)."""
    if not policy.emails.trial_will_end:
        return None
    at = formulas.trial_reminder_at(trial_start, trial_end)
    return None if math.isnan(at) else at


def status_at_trial_end(has_payment_method: bool) -> SubscriptionStatus:
    """R6b: a trial that ends with no payment method pauses; otherwise it bills and goes active."""
    return SubscriptionStatus.ACTIVE if has_payment_method else SubscriptionStatus.PAUSED


def renewal_reminder_at(
    policy: Policy, interval: PlanInterval, period_start: float, renewal_at: float
) -> float | None:
    """R7a: the configured number of days before the period ends, never before the period began."""
    e = policy.emails
    if not e.upcoming_renewal or interval not in e.upcoming_renewal_intervals:
        return None
    return formulas.renewal_reminder_at(period_start, renewal_at, e.upcoming_renewal_days)


def confirmation_email_due(policy: Policy) -> bool:
    """R8(1): a hosted confirmation link when a payment needs 3-D Secure or Boleto."""
    return policy.emails.payment_action_required


def confirmation_reminder_times(policy: Policy, requested_at: float, expires_at: float) -> list[float]:
    """R8(2): reminders at the configured frequency until the payment is confirmed or expires.

    The caller stops at confirmation; this lists every reminder strictly before expiry.
    """
    if not policy.emails.payment_action_reminders:
        return []
    step = policy.emails.payment_action_reminder_days
    times = []
    at = formulas.next_confirmation_reminder(requested_at, step)
    while formulas.before_expiry(at, expires_at):
        times.append(at)
        at = formulas.next_confirmation_reminder(at, step)
    return times


def card_expires_at(exp_month: int, exp_year: int, start_date: dt.date) -> float:
    """R9 interpretation: a card is valid through the last day of its expiry month (UTC)."""
    return formulas.card_expires_day(exp_year, exp_month, _epoch_day(start_date))


def card_expiring_email_at(
    policy: Policy, exp_month: int, exp_year: int, start_date: dt.date
) -> float | None:
    """R9: one calendar month before the card stops working."""
    if not policy.emails.card_expiring:
        return None
    return formulas.card_expiring_email_day(exp_year, exp_month, _epoch_day(start_date))


# ---------------------------------------------------------------------------------- links (R3, R10, R11)


def carries_update_link(email_type: EmailType, collection_method: CollectionMethod) -> bool:
    """R3 lists the types with an update-payment link; R10b removes it for send_invoice subscriptions."""
    return email_type in UPDATE_LINK_TYPES and collection_method != CollectionMethod.SEND_INVOICE


def carries_management_link(
    policy: Policy, email_type: EmailType, collection_method: CollectionMethod
) -> bool:
    """R3b: the subscription-management link when configured; never a hosted page on send_invoice (R10b)."""
    setting = policy.links.subscription_management
    if setting == "none" or email_type not in MANAGEMENT_LINK_TYPES:
        return False
    return not (setting == "hosted" and collection_method == CollectionMethod.SEND_INVOICE)


def link_live_until(
    email_type: EmailType,
    sent_at: float,
    period_end: float,
    *,
    trial_end: float | None = None,
    had_payment_method_at_trial_end: bool = False,
) -> float:
    """R11a, R11c, R11d: the instant a link sent at `sent_at` stops working, statuses aside.

    R11d: every link dies when the renewal period it was about has expired (`period_end`).
    R11a/R11c apply to trial links: 30 days after the email, or at trial end if a method was on file.
    R11b (status) depends on the future and is checked by `link_is_live`.
    """
    return formulas.link_live_until(
        email_type in TRIAL_LINK_TYPES,
        sent_at,
        period_end,
        math.nan if trial_end is None else trial_end,
        had_payment_method_at_trial_end,
    )


def link_is_live(
    live_until: float, at: float, status: SubscriptionStatus, status_since: float = -NEVER
) -> bool:
    """R11: a link works before its deadline and while the subscription is not canceled/expired/unpaid.

    R11b: the status kills the link as soon as it holds, so a status reached at `status_since` ≤ `at`
    makes the link dead.
    """
    return formulas.link_is_live(live_until, at, formulas.STATUS_CODE[status], status_since)


def status_kills_link(status: SubscriptionStatus) -> bool:
    """R11b."""
    return formulas.status_kills_link(formulas.STATUS_CODE[status])


def end_action_kills_links(end_action: DunningAction) -> bool:
    """R11b ahead of time: canceling or marking unpaid at the end of dunning kills every link then."""
    return end_action is not DunningAction.LEAVE_PAST_DUE


def foreseen_link_deadline(
    live_until: float,
    *,
    payment_expires_at: float | None = None,
    dunning_ends_at: float | None = None,
    end_action: DunningAction | None = None,
) -> float:
    """The deadline an email states for its link: `live_until` (R11a/c/d), brought forward to what the
    email already knows will end it, so the email never names two deadlines that disagree.

    R8: a confirmation link ends with the payment it confirms (`payment_expires_at`).
    R11b: when dunning ends by canceling or marking unpaid, every link dies at `dunning_ends_at`.
    """
    until = live_until
    if payment_expires_at is not None:
        until = min(until, payment_expires_at)
    if dunning_ends_at is not None and end_action is not None and end_action_kills_links(end_action):
        until = min(until, dunning_ends_at)
    return until


def carries_invoice_link(email_type: EmailType, collection_method: CollectionMethod) -> bool:
    """R5/R10b: send_invoice invoice emails link the invoice's own hosted page, where it is read and paid.

    R10b withholds the hosted *update-payment* page from send_invoice subscriptions; the invoice page is
    another page, the one a send_invoice customer pays through, so it stays. Automatically charged
    invoices need no such link: there is nothing for the customer to pay by hand.
    """
    return email_type in INVOICE_LINK_TYPES and collection_method == CollectionMethod.SEND_INVOICE


# ----------------------------------------------------------------------------------- test mode (R12)


def delivered_in_test_mode(email_type: EmailType, recipient: RecipientKind, test_mode: bool) -> bool:
    """R12: a live account delivers every email; a test account only the four types, only to own addresses."""
    if not test_mode:
        return True
    return email_type in TEST_MODE_TYPES and recipient != RecipientKind.EXTERNAL


# ----------------------------------------------------------------------------------- time zones (R7b)


def display_timezone(customer_timezone: str | None, account_timezone: str | None) -> str:
    """R7b: the customer's time zone, else the account's, else UTC."""
    return customer_timezone or account_timezone or "UTC"


def to_datetime(days: float, start_date: dt.date) -> dt.datetime:
    """Simulation days → an aware UTC datetime."""
    start = dt.datetime.combine(start_date, dt.time(), tzinfo=dt.UTC)
    return start + dt.timedelta(days=days)


# ----------------------------------------------------------------------------------- email log (R13)


def email_log(emails: pl.DataFrame, customer_id: int, as_of: dt.date) -> pl.DataFrame:
    """R13: the customer's emails of the last 30 days as the log shows them on `as_of`.

    The log is rebuilt daily, so it holds emails from the 30 days before `as_of` and none sent that day.
    Only delivered emails of the logged types appear. Dates are UTC days.
    """
    first = as_of - dt.timedelta(days=EMAIL_LOG_WINDOW_DAYS)
    day = pl.col("sent_at").dt.date()
    return (
        emails.filter(
            (pl.col("customer_id") == customer_id)
            & pl.col("delivered")
            & pl.col("email_type").cast(pl.String).is_in([t.value for t in LOGGED_TYPES])
            & (day >= first)
            & (day < as_of)
        )
        .sort("sent_at")
        .select("sent_at", "email_type", "invoice_id")
    )


def _epoch_day(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def logged(types: Iterable[EmailType]) -> list[EmailType]:
    """The subset of `types` that the email log shows (R13)."""
    return [t for t in types if t in LOGGED_TYPES]
