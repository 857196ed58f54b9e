"""The per-event formulas of SPEC: when each email is due, how long a link lives, whether it works.

Written once, for both engines: the SimPy model and `rules.py` call them as Python, the compiled
engine compiles these very functions with numba (`simulation/compiled/jit.py`). So they take and
return scalars only (floats, ints, bools; NaN for "no such instant"), use the `math` module, call
nothing but the calendar's integer arithmetic, and raise to powers with `math.pow` (numba compiles
`x ** n` for an integer `n` to repeated multiplication, whose last bit can differ from C's `pow`).

Times are simulation days since the scenario's start; `start_day` is that start as days since
1970-01-01. Statuses are `SubscriptionStatus` codes (their index in the enum).
"""

from __future__ import annotations

import math

from recovery_sim.domain.calendar import add_civil_months, days_from_civil
from recovery_sim.domain.enums import LINK_KILLING_STATUSES, SubscriptionStatus

TRIAL_REMINDER_LEAD_DAYS = 7.0  # R6a
TRIAL_LINK_LIFETIME_DAYS = 30.0  # R11a
TOLERANCE_DAYS = 1e-9
"""Float rounding slack at a boundary (a 7-day trial keeps its reminder, an expiry its last reminder)."""
INVOICE_IDS_PER_CUSTOMER = 128
"""Invoice ids are customer * 128 + period mod 128: unique, since one run spans at most 62 periods."""

STATUS_CODE = {status: code for code, status in enumerate(SubscriptionStatus)}
_CANCELED, _INCOMPLETE_EXPIRED, _UNPAID = (
    STATUS_CODE[SubscriptionStatus.CANCELED],
    STATUS_CODE[SubscriptionStatus.INCOMPLETE_EXPIRED],
    STATUS_CODE[SubscriptionStatus.UNPAID],
)
assert {_CANCELED, _INCOMPLETE_EXPIRED, _UNPAID} == {STATUS_CODE[s] for s in LINK_KILLING_STATUSES}


def payment_failed_email_due(switched_on: bool, send_invoice: bool, card: bool) -> bool:
    """R4: after each failed attempt of a card-paid, charge_automatically invoice, when switched on."""
    return switched_on and not send_invoice and card


def dunning_ends_at(first_failure_at: float, last_retry_offset: float) -> float:
    """When retries run out and the end-of-dunning action applies: at the last scheduled retry
    (`last_retry_offset` is 0 when the policy schedules none)."""
    return first_failure_at + last_retry_offset


def final_notice_due(switched_on: bool, end_action_ends: bool, send_invoice: bool, card: bool) -> bool:
    """R4 escalation: for the invoices R4 emails about (card, charge_automatically), when switched on and
    an action follows the end of dunning (canceling or marking unpaid; leaving it past due ends nothing)."""
    return switched_on and end_action_ends and not send_invoice and card


def final_notice_at(dunning_ends: float, lead_days: float, first_failure_at: float) -> float:
    """R4 escalation: `lead_days` before the end of dunning; NaN unless strictly after the first failure
    (with less time than that, the first R4 email is the only notice there is room for)."""
    at = dunning_ends - lead_days
    if at > first_failure_at + TOLERANCE_DAYS:
        return at
    return math.nan


def invoice_reminder_at(due_at: float, offset_days: float) -> float:
    """R5: a reminder at its configured offset from the due date."""
    return due_at + offset_days


def trial_reminder_at(trial_start: float, trial_end: float) -> float:
    """R6a: 7 days before the trial ends, never before it began; NaN when the trial is too short."""
    at = trial_end - TRIAL_REMINDER_LEAD_DAYS
    if at < trial_start - TOLERANCE_DAYS:
        return math.nan
    return max(at, trial_start)


def renewal_reminder_at(period_start: float, renewal_at: float, lead_days: float) -> float:
    """R7a: `lead_days` before the renewal, never before the period began."""
    return max(period_start, renewal_at - lead_days)


def next_confirmation_reminder(previous_at: float, step_days: float) -> float:
    """R8(2): the reminder after the request (or the previous reminder) at the configured frequency."""
    return previous_at + step_days


def before_expiry(at: float, expires_at: float) -> bool:
    """R8(2): reminders go strictly before the payment expires."""
    return at < expires_at - TOLERANCE_DAYS


def card_expires_day(exp_year: int, exp_month: int, start_day: int) -> float:
    """R9 interpretation: a card works through the last day of its expiry month (UTC)."""
    year, month, _day = add_civil_months(exp_year, exp_month, 1, 1)
    return float(days_from_civil(year, month, 1) - start_day)


def card_expiring_email_day(exp_year: int, exp_month: int, start_day: int) -> float:
    """R9: the email goes on the first day of the expiry month, a calendar month before it stops."""
    return float(days_from_civil(exp_year, exp_month, 1) - start_day)


def link_live_until(
    trial_link: bool, sent_at: float, period_end: float, trial_end: float, had_method_at_trial_end: bool
) -> float:
    """R11a, R11c, R11d: the instant a link sent at `sent_at` stops working, statuses aside.

    R11d: a link dies with the period it was about (`period_end`). R11a: a trial link (`trial_link`)
    lives 30 days instead; R11c: no later than the trial's end (NaN: none) if a method was on file.
    """
    until = period_end
    if trial_link:
        until = sent_at + TRIAL_LINK_LIFETIME_DAYS
        if had_method_at_trial_end and not math.isnan(trial_end):
            until = min(until, trial_end)
    return max(until, sent_at)


def status_kills_link(status: int) -> bool:
    """R11b: canceled, incomplete_expired and unpaid subscriptions' links stop working."""
    return status == _CANCELED or status == _INCOMPLETE_EXPIRED or status == _UNPAID


def link_is_live(live_until: float, at: float, status: int, status_since: float) -> bool:
    """R11: a link works before its deadline, unless a killing status (R11b) holds at `at`."""
    if at >= live_until:
        return False
    return not (status_kills_link(status) and status_since <= at)


def act_chance(first_email_chance: float, fatigue: float, earlier_emails: int) -> float:
    """The chance a customer acts on an email: the type's chance, times `fatigue` per earlier email."""
    return first_email_chance * math.pow(fatigue, float(earlier_emails))


def period_churn_chance(monthly: float, step_months: int) -> float:
    """Voluntary churn at a renewal: the monthly chance compounded over the plan's months."""
    return 1.0 - math.pow(1.0 - monthly, float(step_months))


def invoice_id(customer_id: int, period: int) -> int:
    """A period's invoice id: unique across customers, and within a run (it spans < 128 periods)."""
    return customer_id * INVOICE_IDS_PER_CUSTOMER + period % INVOICE_IDS_PER_CUSTOMER
