"""The compiled fast path: the SimPy model of `engine.py`, transcribed for one customer at a time.

Why: a run of a million customers must cost less than SimPy needs to tick each customer-month once
(docs/performance.md). Customers never interact and every draw is keyed, so each
customer can be simulated alone, start to finish, by compiled code.

How it stays the same model: each SimPy process of `engine.Engine` (the lifecycle with its trial,
periods, confirmations and dunning; a card process per card; a process per send_invoice invoice; the
scheduled customer actions) is a state machine here, and a small per-customer event queue orders
their wake-ups exactly as SimPy's heap does: by time, then priority (a new process starts before any
other event at the same instant), then scheduling order. Every rule decision mirrors the function of
`rules.py` named beside it, and every draw is `rng.Streams`' keyed draw. `tests/test_fast_path.py`
proves the frames equal the SimPy reference path's, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from recovery_sim.domain.enums import Actor, EmailType, EventKind, InvoiceStatus, SubscriptionStatus
from recovery_sim.simulation.events import ACTOR, EMAIL, KIND, STATUS
from recovery_sim.simulation.reference.engine import (
    CARD_INDEX,
    PER_PERIOD,
    SLOT_CONFIRM,
    SLOT_INVOICE_REMINDER,
    SLOT_LINK_PAYMENT,
    SLOT_PAUSED,
    SLOT_REMINDER,
    SLOT_TRIAL,
)
from recovery_sim.simulation.rng import Purpose

# ------------------------------------------------------- integer codes (the recorder's, events.py)
_STATUSES = list(SubscriptionStatus)
TRIALING = _STATUSES.index(SubscriptionStatus.TRIALING)
ACTIVE = _STATUSES.index(SubscriptionStatus.ACTIVE)
PAST_DUE = _STATUSES.index(SubscriptionStatus.PAST_DUE)
UNPAID = _STATUSES.index(SubscriptionStatus.UNPAID)
CANCELED = _STATUSES.index(SubscriptionStatus.CANCELED)
INCOMPLETE_EXPIRED = _STATUSES.index(SubscriptionStatus.INCOMPLETE_EXPIRED)
PAUSED = _STATUSES.index(SubscriptionStatus.PAUSED)

K_SUBSCRIPTION_CREATED = KIND[EventKind.SUBSCRIPTION_CREATED]
K_TRIAL_ENDED = KIND[EventKind.TRIAL_ENDED]
K_SUBSCRIPTION_PAUSED = KIND[EventKind.SUBSCRIPTION_PAUSED]
K_SUBSCRIPTION_ACTIVATED = KIND[EventKind.SUBSCRIPTION_ACTIVATED]
K_INVOICE_CREATED = KIND[EventKind.INVOICE_CREATED]
K_PAYMENT_SUCCEEDED = KIND[EventKind.PAYMENT_SUCCEEDED]
K_PAYMENT_FAILED = KIND[EventKind.PAYMENT_FAILED]
K_PAYMENT_ACTION_REQUIRED = KIND[EventKind.PAYMENT_ACTION_REQUIRED]
K_PAYMENT_EXPIRED = KIND[EventKind.PAYMENT_EXPIRED]
K_INVOICE_PAID = KIND[EventKind.INVOICE_PAID]
K_INVOICE_UNCOLLECTIBLE = KIND[EventKind.INVOICE_UNCOLLECTIBLE]
K_INVOICE_VOIDED = KIND[EventKind.INVOICE_VOIDED]
K_CARD_EXPIRED = KIND[EventKind.CARD_EXPIRED]
K_CARD_UPDATED = KIND[EventKind.CARD_UPDATED]
K_PAYMENT_METHOD_UPDATED = KIND[EventKind.PAYMENT_METHOD_UPDATED]
K_LINK_FOLLOWED = KIND[EventKind.LINK_FOLLOWED]
K_LINK_DEAD = KIND[EventKind.LINK_DEAD]
K_SUBSCRIPTION_PAST_DUE = KIND[EventKind.SUBSCRIPTION_PAST_DUE]
K_SUBSCRIPTION_UNPAID = KIND[EventKind.SUBSCRIPTION_UNPAID]
K_SUBSCRIPTION_CANCELED = KIND[EventKind.SUBSCRIPTION_CANCELED]

E_PAYMENT_FAILED = EMAIL[EmailType.PAYMENT_FAILED]
E_PAYMENT_ACTION_REQUIRED = EMAIL[EmailType.PAYMENT_ACTION_REQUIRED]
E_PAYMENT_ACTION_REMINDER = EMAIL[EmailType.PAYMENT_ACTION_REMINDER]
E_INVOICE_REMINDER = EMAIL[EmailType.INVOICE_REMINDER]
E_TRIAL_WILL_END = EMAIL[EmailType.TRIAL_WILL_END]
E_TRIAL_ENDED_PAUSED = EMAIL[EmailType.TRIAL_ENDED_PAUSED]
E_UPCOMING_RENEWAL = EMAIL[EmailType.UPCOMING_RENEWAL]
E_CARD_EXPIRING = EMAIL[EmailType.CARD_EXPIRING]
E_INVOICE_FINALIZED = EMAIL[EmailType.INVOICE_FINALIZED]
E_INVOICE_PAID = EMAIL[EmailType.INVOICE_PAID]
E_SUBSCRIPTION_CANCELED = EMAIL[EmailType.SUBSCRIPTION_CANCELED]

A_SYSTEM = ACTOR[Actor.SYSTEM]
A_RETRY = ACTOR[Actor.RETRY]
A_CUSTOMER_LINK = ACTOR[Actor.CUSTOMER_LINK]
A_CUSTOMER_SELF = ACTOR[Actor.CUSTOMER_SELF]
A_CARD_UPDATER = ACTOR[Actor.CARD_UPDATER]
A_CUSTOMER = ACTOR[Actor.CUSTOMER]

OPEN = STATUS[InvoiceStatus.OPEN]
PAID = STATUS[InvoiceStatus.PAID]
VOID = STATUS[InvoiceStatus.VOID]
UNCOLLECTIBLE = STATUS[InvoiceStatus.UNCOLLECTIBLE]

# Draw purposes (the keyed-draw slots PER_PERIOD, SLOT_* and CARD_INDEX come from engine.py).
P_FIRST_ATTEMPT, P_DECLINE_CODE = int(Purpose.FIRST_ATTEMPT), int(Purpose.DECLINE_CODE)
P_NEEDS_CONFIRMATION, P_RETRY = int(Purpose.NEEDS_CONFIRMATION), int(Purpose.RETRY)
P_SPONTANEOUS_FIX, P_SPONTANEOUS_DELAY = int(Purpose.SPONTANEOUS_FIX), int(Purpose.SPONTANEOUS_DELAY)
P_ACT, P_ACT_DELAY, P_NEW_METHOD = int(Purpose.ACT), int(Purpose.ACT_DELAY), int(Purpose.NEW_METHOD)
P_CONFIRM_UNPROMPTED, P_CONFIRM_DELAY = int(Purpose.CONFIRM_UNPROMPTED), int(Purpose.CONFIRM_DELAY)
P_CARD_UPDATER, P_CARD_SELF_UPDATE = int(Purpose.CARD_UPDATER), int(Purpose.CARD_SELF_UPDATE)
P_CHURN, P_REMINDER_CANCEL = int(Purpose.CHURN), int(Purpose.REMINDER_CANCEL)
P_INVOICE_PAY, P_INVOICE_PAY_DELAY = int(Purpose.INVOICE_PAY), int(Purpose.INVOICE_PAY_DELAY)
P_TRIAL_CANCEL, P_NEW_CARD_EXPIRY = int(Purpose.TRIAL_CANCEL), int(Purpose.NEW_CARD_EXPIRY)


# ------------------------------------------------------------------------------------- layout
# Everything the kernel reads and keeps lives in two arrays, `f64` (float64) and `i64` (int64): the run's
# settings, then one customer's state. Rows go to `rows_f` and `rows_i`. Few arrays, because every array a
# compiled call passes costs two atomic reference-count updates (half the run time with 30 of them); the
# small helpers called per row or per draw are inlined for the same reason.
MAX_PLANS, MAX_COHORTS, MAX_DECLINES, MAX_RETRIES, MAX_INVOICE_REMINDERS = 1024, 256, 64, 16, 16
MAX_INVOICES = 96  # per customer: a 60-month horizon has at most 66 periods
QUEUE = 32  # per-customer wake-ups waiting at once
TYPES, RECIPIENTS = 16, 4  # room for the email types and recipient kinds


class OutOfRoom(RuntimeError):
    """A customer needs more room than the kernel's fixed tables hold (an extreme scenario)."""


def _blocks(*sizes: int) -> list[int]:
    """Start offsets of consecutive blocks of the given sizes, then the total."""
    offsets = [0]
    for size in sizes:
        offsets.append(offsets[-1] + size)
    return offsets


# Settings in f64: scalar parameters (`F_*` below 32), then tables.
(F_HORIZON, F_FATIGUE, F_NEW_METHOD_SUCCESS, F_REMINDER_CANCEL, F_ACT_DELAY, F_SPONTANEOUS_FIX,
 F_SPONTANEOUS_DELAY, F_BOLETO_EXPIRY, F_THREE_DS_EXPIRY, F_CONFIRM_UNPROMPTED, F_PAY_SHARE,
 F_PAY_DELAY, F_WRITE_OFF, F_TRIAL_CANCEL, F_CARD_SELF_UPDATE, F_CARD_UPDATER, F_RENEWAL_DAYS,
 F_CONFIRM_STEP) = range(18)  # fmt: skip
(_, F_ACT_CHANCE, F_PLAN_CHURN, F_COHORT_RATE, F_COHORT_3DS, F_COHORT_DUE, F_DECLINE_EDGES,
 F_RETRY_SUCCESS, F_RETRY_OFFSETS, F_INVOICE_REMINDERS, F_STATE, F_INVOICES, F_QUEUE_AT, F_QUEUE_ARG,
 F_SIZE) = _blocks(32, TYPES, MAX_PLANS, MAX_COHORTS, MAX_COHORTS, MAX_COHORTS, MAX_DECLINES,
                   MAX_DECLINES, MAX_RETRIES, MAX_INVOICE_REMINDERS, 16, 4 * MAX_INVOICES, QUEUE,
                   QUEUE)  # fmt: skip
# Settings in i64.
(I_END_ACTION, I_RETRY_HARD, I_TRIAL_REMINDERS, I_CONFIRM_REMINDERS, I_INVOICE_REMINDERS,
 I_PAYMENT_FAILED, I_START_DAY, I_CARD, I_BOLETO, I_EXPIRED_CARD, I_GENERIC_DECLINE,
 I_AUTHENTICATION_EXPIRED, I_N_DECLINES, I_N_RETRIES, I_N_INVOICE_REMINDERS) = range(15)  # fmt: skip
(_, I_SENDS, I_LINKS, I_MANAGEMENT, I_DELIVERED, I_KEYS, I_PLAN_STEP, I_PLAN_PRICE, I_PLAN_REMINDER,
 I_DECLINE_IDS, I_DECLINE_HARD, I_STATE, I_INVOICES, I_QUEUE, I_SIZE) = _blocks(
    32, TYPES, 2 * TYPES, 2 * TYPES, RECIPIENTS * TYPES, 32, MAX_PLANS, MAX_PLANS, MAX_PLANS, MAX_DECLINES,
    MAX_DECLINES, 32, 8 * MAX_INVOICES, 5 * QUEUE)  # fmt: skip
END_CANCEL, END_MARK_UNPAID, END_LEAVE_PAST_DUE = 0, 1, 2

# One customer's state: floats in f64, integers in i64 (Engine's Subscription, plus the processes' locals).
(S_NOW, S_STATUS_SINCE, S_CARD_EXPIRES, S_CARD_EMAIL, S_METHOD_UPDATED, S_ANCHOR_FRAC, S_PERIOD_END,
 S_SIGNUP, S_RENEW, S_T0, S_EXPIRES, S_CONFIRM_AT, S_NEXT_AT, S_TRIAL_END,
 S_LINKS) = range(F_STATE, F_STATE + 15)  # fmt: skip
(S_ID, S_PLAN, S_COHORT, S_METHOD, S_RECIPIENT, S_SEND_INVOICE, S_STATUS, S_CARD_VERSION,
 S_HAS_METHOD, S_ANCHOR_DAY, S_CANCEL_AT_END, S_ACTIVATION, S_SEQ, S_K, S_INVOICE, S_DECLINE,
 S_HARD, S_STEP, S_ACTOR, S_NEW_SIGNUP, S_N_INVOICES, S_WAITING, S_TRIAL_DAYS, S_EVENTS, S_EMAILS,
 S_INVOICE_ROWS) = range(I_STATE, I_STATE + 26)  # fmt: skip
NO_ACTIVATION, ACTIVATION_PENDING, ACTIVATION_TRIGGERED = 0, 1, 2
# An invoice: 8 integers at i64[I_INVOICES + 8 n], 4 floats at f64[F_INVOICES + 4 n].
V_ID, V_PERIOD, V_AMOUNT, V_STATUS, V_ATTEMPTS, V_DECLINE, V_AT_RISK, V_PAID_BY = range(8)
V_CREATED, V_PAID_AT, V_DUE, V_PAY_AT = range(4)

# Output rows: rows_f[row, n] and rows_i[row, n] (recorder columns, in `Recorder`'s order).
O_EVENT_TIME, O_EMAIL_TIME, O_EMAIL_LIVE_UNTIL, O_INVOICE_CREATED, O_INVOICE_PAID_AT, O_INVOICE_DUE = range(6)
(O_EVENT_CUSTOMER, O_EVENT_INVOICE, O_EVENT_KIND, O_EVENT_AMOUNT, O_EVENT_DECLINE, O_EVENT_ACTOR,
 O_EVENT_ATTEMPT, O_EMAIL_CUSTOMER, O_EMAIL_INVOICE, O_EMAIL_TYPE, O_EMAIL_LINK, O_EMAIL_MANAGEMENT,
 O_EMAIL_DELIVERED, O_EMAIL_ACTED, O_INVOICE_ID, O_INVOICE_CUSTOMER, O_INVOICE_PERIOD, O_INVOICE_AMOUNT,
 O_INVOICE_STATUS, O_INVOICE_ATTEMPTS, O_INVOICE_DECLINE, O_INVOICE_AT_RISK,
 O_INVOICE_PAID_BY) = range(23)  # fmt: skip

# Where each recorder column is: (float row?, row), in `events.Recorder`'s column order.
EVENT_ROWS = ((True, O_EVENT_TIME), (False, O_EVENT_CUSTOMER), (False, O_EVENT_INVOICE),
              (False, O_EVENT_KIND), (False, O_EVENT_AMOUNT), (False, O_EVENT_DECLINE),
              (False, O_EVENT_ACTOR), (False, O_EVENT_ATTEMPT))  # fmt: skip
EMAIL_ROWS = ((True, O_EMAIL_TIME), (False, O_EMAIL_CUSTOMER), (False, O_EMAIL_INVOICE),
              (False, O_EMAIL_TYPE), (False, O_EMAIL_LINK), (False, O_EMAIL_MANAGEMENT),
              (True, O_EMAIL_LIVE_UNTIL), (False, O_EMAIL_DELIVERED), (False, O_EMAIL_ACTED))  # fmt: skip
INVOICE_ROWS = ((False, O_INVOICE_ID), (False, O_INVOICE_CUSTOMER), (False, O_INVOICE_PERIOD),
                (True, O_INVOICE_CREATED), (False, O_INVOICE_AMOUNT), (False, O_INVOICE_STATUS),
                (True, O_INVOICE_PAID_AT), (False, O_INVOICE_ATTEMPTS), (False, O_INVOICE_DECLINE),
                (False, O_INVOICE_AT_RISK), (False, O_INVOICE_PAID_BY), (True, O_INVOICE_DUE))  # fmt: skip

# Queue entries: what wakes up, with two integer arguments and one float.
(Q_LIFE, Q_CARD_START, Q_CARD, Q_INVOICE_START, Q_INVOICE, Q_FOLLOW_LINK, Q_SELF_UPDATE,
 Q_CARD_SELF_UPDATE, Q_ACTIVATION, Q_CONDITION, Q_DEADLINE) = range(1, 12)  # fmt: skip
Q_WHAT, Q_PRIORITY, Q_SEQ, Q_A, Q_B = range(5)  # an entry's integers at i64[I_QUEUE + 5 slot]
URGENT, NORMAL = 0, 1  # simpy.core's priorities: a new process starts before other events at its instant
INVOICE_BEGIN, INVOICE_SETTLE = -2, -1  # a send_invoice process starting, or settling (else reminder n)

# The lifecycle's code blocks: where it resumes after a `yield` (L_*), and the steps in between.
(L_TRIAL_BEGIN, L_TRIAL_START, L_TRIAL_REMINDER, L_TRIAL_END_WAIT, L_TRIAL_END, L_TRIAL_WAITED,
 L_PERIOD_BEGIN, L_REMINDER, L_RENEWAL_WAIT, L_RENEWAL, L_COLLECT, L_PERIOD_DONE, L_CONFIRM_NEXT,
 L_CONFIRM_EMAIL, L_CONFIRM_WAIT, L_CONFIRMED, L_CONFIRM_EXPIRED, L_RETRY_NEXT, L_RETRY,
 L_DONE) = range(1, 21)  # fmt: skip

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_R30, _R27, _R31, _R11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53

# Customer columns: integers in cust_i[row, j], floats in cust_f[row, j].
(C_ID, C_PLAN, C_COHORT, C_METHOD, C_RECIPIENT, C_SEND_INVOICE, C_TRIAL_DAYS, C_NO_METHOD, C_ANCHOR_DAY,
 C_FIRST_PERIOD, C_CARD_PROCESS) = range(11)  # fmt: skip
C_SIGNUP_AT, C_CARD_EXPIRES_AT, C_CARD_EMAIL_AT, C_ANCHOR_FRAC = range(4)


# --------------------------------------------------------------------------------------- draws


@njit(cache=True, inline="always")
def _uniform(i64, purpose, entity, index):
    """rng.Streams.uniform: SplitMix64 over (stream key ^ entity), then ^ index."""
    z = (np.uint64(i64[I_KEYS + purpose]) ^ np.uint64(entity)) + _GOLDEN
    z = (z ^ (z >> _R30)) * _M1
    z = (z ^ (z >> _R27)) * _M2
    z = ((z ^ (z >> _R31)) ^ np.uint64(index)) + _GOLDEN
    z = (z ^ (z >> _R30)) * _M1
    z = (z ^ (z >> _R27)) * _M2
    return np.float64((z ^ (z >> _R31)) >> _R11) * _TO_UNIT


@njit(cache=True, inline="always")
def _exponential(i64, purpose, entity, index, mean):
    """rng.Streams.exponential."""
    return -mean * math.log1p(-_uniform(i64, purpose, entity, index))


# ------------------------------------------------------------------------------------ calendar


@njit(cache=True)
def _days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    y -= 1 if m <= 2 else 0
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True)
def _civil_from_days(z):
    """(year, month, day) of a day count since 1970-01-01."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


@njit(cache=True)
def _add_months(y, m, d, months):
    """config.add_months on a (year, month, day): the same day `months` later, clipped to the month."""
    index = y * 12 + m - 1 + months
    year, month = index // 12, index % 12 + 1
    last = _days_from_civil(year + (1 if month == 12 else 0), month % 12 + 1, 1) - _days_from_civil(
        year, month, 1
    )
    return year, month, min(d, last)


@njit(cache=True, inline="always")
def _boundary(f64, i64, k):
    """Engine._boundary: renewal k's instant (periods.whole_days + the anchor's fraction)."""
    start_day = i64[I_START_DAY]
    y, m, d = _civil_from_days(start_day + i64[S_ANCHOR_DAY])
    y2, m2, d2 = _add_months(y, m, d, k * i64[I_PLAN_STEP + i64[S_PLAN]])
    return float(_days_from_civil(y2, m2, d2) - start_day) + f64[S_ANCHOR_FRAC]


# ------------------------------------------------------------------------------------ the queue


@njit(cache=True, inline="always")
def _push(f64, i64, when, priority, what, a, b, x):
    """Schedule a wake-up at `when`, never before now (as `_Environment.timeout_at`)."""
    for slot in range(QUEUE):
        q = I_QUEUE + 5 * slot
        if i64[q + Q_WHAT] == 0:
            f64[F_QUEUE_AT + slot] = max(when, f64[S_NOW])
            f64[F_QUEUE_ARG + slot] = x
            i64[q + Q_WHAT], i64[q + Q_PRIORITY], i64[q + Q_SEQ], i64[q + Q_A], i64[q + Q_B] = (
                what,
                priority,
                i64[S_SEQ],
                a,
                b,
            )
            i64[S_SEQ] += 1
            return
    raise OutOfRoom("per-customer event queue is full")


@njit(cache=True)
def _pop(f64, i64):
    """The next wake-up by (time, priority, scheduling order), as SimPy's heap; -1 when none."""
    best = -1
    best_at, best_priority, best_seq = math.inf, 0, 0
    for slot in range(QUEUE):
        q = I_QUEUE + 5 * slot
        if i64[q + Q_WHAT] == 0:
            continue
        at, priority, seq = f64[F_QUEUE_AT + slot], i64[q + Q_PRIORITY], i64[q + Q_SEQ]
        if (
            best < 0
            or at < best_at
            or (
                at == best_at and (priority < best_priority or (priority == best_priority and seq < best_seq))
            )
        ):
            best, best_at, best_priority, best_seq = slot, at, priority, seq
    return best


@njit(cache=True, inline="always")
def _at(f64, i64, when, what, a, x):
    """Engine._at: a customer action at `when`, dropped at or beyond the horizon."""
    if when < f64[F_HORIZON]:
        _push(f64, i64, when, NORMAL, what, a, 0, x)


@njit(cache=True, inline="always")
def _wait(f64, i64, when, resume):
    """`yield env.timeout_at(when)` in the lifecycle: resume at block `resume`."""
    _push(f64, i64, when, NORMAL, Q_LIFE, resume, 0, 0.0)


# ------------------------------------------------------------------------------------ recording


@njit(cache=True, inline="always")
def _event(f64, i64, rows_f, rows_i, kind, invoice, amount, decline, actor, attempt):
    """Recorder.event."""
    n = i64[S_EVENTS]
    if n >= rows_f.shape[1]:
        raise OutOfRoom("event buffer is full")
    rows_f[O_EVENT_TIME, n] = f64[S_NOW]
    rows_i[O_EVENT_CUSTOMER, n] = i64[S_ID]
    rows_i[O_EVENT_INVOICE, n] = invoice
    rows_i[O_EVENT_KIND, n] = kind
    rows_i[O_EVENT_AMOUNT, n] = amount
    rows_i[O_EVENT_DECLINE, n] = decline
    rows_i[O_EVENT_ACTOR, n] = actor
    rows_i[O_EVENT_ATTEMPT, n] = attempt
    i64[S_EVENTS] = n + 1


@njit(cache=True, inline="always")
def _email(f64, i64, rows_f, rows_i, invoice, email_type, link, management, live_until, delivered, acted):
    """Recorder.email."""
    n = i64[S_EMAILS]
    if n >= rows_f.shape[1]:
        raise OutOfRoom("email buffer is full")
    rows_f[O_EMAIL_TIME, n] = f64[S_NOW]
    rows_f[O_EMAIL_LIVE_UNTIL, n] = live_until
    rows_i[O_EMAIL_CUSTOMER, n] = i64[S_ID]
    rows_i[O_EMAIL_INVOICE, n] = invoice
    rows_i[O_EMAIL_TYPE, n] = email_type
    rows_i[O_EMAIL_LINK, n] = link
    rows_i[O_EMAIL_MANAGEMENT, n] = management
    rows_i[O_EMAIL_DELIVERED, n] = delivered
    rows_i[O_EMAIL_ACTED, n] = acted
    i64[S_EMAILS] = n + 1


@njit(cache=True)
def _flush_invoices(f64, i64, rows_f, rows_i):
    """Engine._flush_invoices: the customer's invoices as they ended."""
    for j in range(i64[S_N_INVOICES]):
        n = i64[S_INVOICE_ROWS]
        if n >= rows_f.shape[1]:
            raise OutOfRoom("invoice buffer is full")
        v, f = I_INVOICES + 8 * j, F_INVOICES + 4 * j
        rows_i[O_INVOICE_ID, n] = i64[v + V_ID]
        rows_i[O_INVOICE_CUSTOMER, n] = i64[S_ID]
        rows_i[O_INVOICE_PERIOD, n] = i64[v + V_PERIOD]
        rows_i[O_INVOICE_AMOUNT, n] = i64[v + V_AMOUNT]
        rows_i[O_INVOICE_STATUS, n] = i64[v + V_STATUS]
        rows_i[O_INVOICE_ATTEMPTS, n] = i64[v + V_ATTEMPTS]
        rows_i[O_INVOICE_DECLINE, n] = i64[v + V_DECLINE]
        rows_i[O_INVOICE_AT_RISK, n] = i64[v + V_AT_RISK]
        rows_i[O_INVOICE_PAID_BY, n] = i64[v + V_PAID_BY]
        rows_f[O_INVOICE_CREATED, n] = f64[f + V_CREATED]
        rows_f[O_INVOICE_PAID_AT, n] = f64[f + V_PAID_AT]
        rows_f[O_INVOICE_DUE, n] = f64[f + V_DUE]
        i64[S_INVOICE_ROWS] = n + 1


# ---------------------------------------------------------------------------------------- rules


@njit(cache=True, inline="always")
def _link_is_live(live_until, at, status, status_since):
    """rules.link_is_live (R11, R11b)."""
    if at >= live_until:
        return False
    killing = status == CANCELED or status == INCOMPLETE_EXPIRED or status == UNPAID
    return not (killing and status_since <= at)


@njit(cache=True, inline="always")
def _ended(i64):
    """Subscription.ended."""
    status = i64[S_STATUS]
    return status == CANCELED or status == UNPAID or status == PAUSED


@njit(cache=True, inline="always")
def _invoice_status(i64, n):
    return i64[I_INVOICES + 8 * n + V_STATUS]


# --------------------------------------------------------------------------------- state changes


@njit(cache=True)
def _set_status(f64, i64, rows_f, rows_i, status, actor):
    """Engine._set_status."""
    if status == i64[S_STATUS]:
        return
    i64[S_STATUS] = status
    f64[S_STATUS_SINCE] = f64[S_NOW]
    kind = -1
    if status == CANCELED:
        kind = K_SUBSCRIPTION_CANCELED
    elif status == UNPAID:
        kind = K_SUBSCRIPTION_UNPAID
    elif status == PAST_DUE:
        kind = K_SUBSCRIPTION_PAST_DUE
    elif status == PAUSED:
        kind = K_SUBSCRIPTION_PAUSED
    if kind >= 0:
        _event(f64, i64, rows_f, rows_i, kind, -1, 0, 0, actor, 0)


@njit(cache=True)
def _send(f64, i64, rows_f, rows_i, email_type, invoice_id, period_end, trial_end, act_index, earlier, force):
    """Engine._send: (sent, acts, link live until or -inf). R3/R10b link, R11 lifetime, R12 delivery."""
    if not (force or i64[I_SENDS + email_type] == 1):
        return False, False, -math.inf
    now = f64[S_NOW]
    has_link = i64[I_LINKS + 2 * email_type + i64[S_SEND_INVOICE]] == 1
    link = has_link
    live_until = math.inf
    if link:
        until = period_end  # rules.link_live_until: R11d
        if email_type == E_TRIAL_WILL_END or email_type == E_TRIAL_ENDED_PAUSED:
            until = now + 30.0  # R11a
            if i64[S_HAS_METHOD] == 1 and not math.isnan(trial_end):
                until = min(until, trial_end)  # R11c
        live_until = max(until, now)
        link = _link_is_live(live_until, now, i64[S_STATUS], f64[S_STATUS_SINCE])  # R11: no dead link
    delivered = i64[I_DELIVERED + RECIPIENTS * email_type + i64[S_RECIPIENT]] == 1
    acts = False
    if delivered and act_index >= 0 and (link or not has_link):
        chance = f64[F_ACT_CHANCE + email_type] * math.pow(f64[F_FATIGUE], float(earlier))
        acts = _uniform(i64, P_ACT, i64[S_ID], act_index) < chance
    management = i64[I_MANAGEMENT + 2 * email_type + i64[S_SEND_INVOICE]]
    _email(
        f64,
        i64,
        rows_f,
        rows_i,
        invoice_id,
        email_type,
        1 if link else 0,
        management,
        live_until if link else math.inf,
        1 if delivered else 0,
        1 if acts else 0,
    )
    return True, acts, (live_until if link else -math.inf)


@njit(cache=True)
def _new_invoice(f64, i64, rows_f, rows_i, period):
    """Engine._new_invoice: the period's invoice, open, with its `invoice_created` event."""
    amount = i64[I_PLAN_PRICE + i64[S_PLAN]]
    n = i64[S_N_INVOICES]
    if n >= MAX_INVOICES:
        raise OutOfRoom("per-customer invoice table is full")
    v, f = I_INVOICES + 8 * n, F_INVOICES + 4 * n
    invoice_id = i64[S_ID] * 128 + period
    i64[v + V_ID], i64[v + V_PERIOD], i64[v + V_AMOUNT], i64[v + V_STATUS] = invoice_id, period, amount, OPEN
    i64[v + V_ATTEMPTS], i64[v + V_DECLINE], i64[v + V_AT_RISK], i64[v + V_PAID_BY] = 0, 0, 0, A_SYSTEM
    f64[f + V_CREATED], f64[f + V_PAID_AT], f64[f + V_DUE], f64[f + V_PAY_AT] = (
        f64[S_NOW],
        math.inf,
        math.inf,
        math.inf,
    )
    i64[S_N_INVOICES] = n + 1
    _event(f64, i64, rows_f, rows_i, K_INVOICE_CREATED, invoice_id, amount, 0, A_SYSTEM, 0)
    return n


@njit(cache=True)
def _pay(f64, i64, rows_f, rows_i, n, actor, attempt, kind):
    """Engine._pay."""
    v = I_INVOICES + 8 * n
    i64[v + V_STATUS] = PAID
    f64[F_INVOICES + 4 * n + V_PAID_AT] = f64[S_NOW]
    i64[v + V_PAID_BY] = actor
    i64[v + V_ATTEMPTS] = max(i64[v + V_ATTEMPTS], attempt)
    _event(f64, i64, rows_f, rows_i, kind, i64[v + V_ID], i64[v + V_AMOUNT], 0, actor, attempt)
    if i64[S_STATUS] == PAST_DUE:
        still_open = False
        for j in range(i64[S_N_INVOICES]):
            still_open = still_open or _invoice_status(i64, j) == OPEN
        if not still_open:
            _set_status(f64, i64, rows_f, rows_i, ACTIVE, actor)
    _send(f64, i64, rows_f, rows_i, E_INVOICE_PAID, i64[v + V_ID], f64[S_PERIOD_END], math.nan, -1, 0, False)


@njit(cache=True)
def _close_invoice(f64, i64, rows_f, rows_i, n, status):
    """Engine._close_invoice."""
    v = I_INVOICES + 8 * n
    i64[v + V_STATUS] = status
    kind = K_INVOICE_VOIDED if status == VOID else K_INVOICE_UNCOLLECTIBLE
    _event(f64, i64, rows_f, rows_i, kind, i64[v + V_ID], i64[v + V_AMOUNT], 0, A_SYSTEM, 0)


@njit(cache=True)
def _cancel(f64, i64, rows_f, rows_i, actor):
    """Engine._cancel: write off what is open (R5), cancel, say so once."""
    for n in range(i64[S_N_INVOICES]):
        if _invoice_status(i64, n) == OPEN:
            _close_invoice(f64, i64, rows_f, rows_i, n, UNCOLLECTIBLE)
    _set_status(f64, i64, rows_f, rows_i, CANCELED, actor)
    _send(f64, i64, rows_f, rows_i, E_SUBSCRIPTION_CANCELED, -1, f64[S_PERIOD_END], math.nan, -1, 0, False)


@njit(cache=True)
def _end_of_dunning(f64, i64, rows_f, rows_i):
    """Engine._end_of_dunning."""
    action = i64[I_END_ACTION]
    if action == END_CANCEL:
        _cancel(f64, i64, rows_f, rows_i, A_SYSTEM)
    elif action == END_MARK_UNPAID:
        _set_status(f64, i64, rows_f, rows_i, UNPAID, A_SYSTEM)  # R11b: its links die now


@njit(cache=True)
def _new_method(f64, i64, rows_f, rows_i, actor):
    """Engine._new_method, with cohorts.new_card_expiry and rules.card_expires_at for a new card."""
    now = f64[S_NOW]
    f64[S_METHOD_UPDATED] = now
    i64[S_HAS_METHOD] = 1
    if i64[S_METHOD] != i64[I_CARD]:
        _event(f64, i64, rows_f, rows_i, K_PAYMENT_METHOD_UPDATED, -1, 0, 0, actor, 0)
        return
    i64[S_CARD_VERSION] += 1
    version = i64[S_CARD_VERSION]
    ahead = 24 + int(_uniform(i64, P_NEW_CARD_EXPIRY, i64[S_ID], version) * 36)
    start_day = i64[I_START_DAY]
    y, m, _d = _civil_from_days(start_day + int(now))
    year, month, _day = _add_months(y, m, 1, ahead)
    after_year, after_month, _first = _add_months(year, month, 1, 1)
    f64[S_CARD_EXPIRES] = float(_days_from_civil(after_year, after_month, 1) - start_day)
    f64[S_CARD_EMAIL] = float(_days_from_civil(year, month, 1) - start_day)
    _event(f64, i64, rows_f, rows_i, K_CARD_UPDATED, -1, 0, 0, actor, 0)
    if f64[S_CARD_EMAIL] < f64[F_HORIZON]:
        _push(f64, i64, now, URGENT, Q_CARD_START, version, 0, 0.0)  # env.process(_card(...))


@njit(cache=True)
def _follow_link(f64, i64, rows_f, rows_i, live_until):
    """Engine._follow_link: R10c through a live link (R11): a new method, pay what is open; R6b."""
    if not _link_is_live(live_until, f64[S_NOW], i64[S_STATUS], f64[S_STATUS_SINCE]):
        _event(f64, i64, rows_f, rows_i, K_LINK_DEAD, -1, 0, 0, A_CUSTOMER_LINK, 0)
        return
    _event(f64, i64, rows_f, rows_i, K_LINK_FOLLOWED, -1, 0, 0, A_CUSTOMER_LINK, 0)
    _new_method(f64, i64, rows_f, rows_i, A_CUSTOMER_LINK)
    for n in range(i64[S_N_INVOICES]):
        v = I_INVOICES + 8 * n
        if i64[v + V_STATUS] != OPEN:
            continue
        index = i64[v + V_PERIOD] * PER_PERIOD + SLOT_LINK_PAYMENT
        if _uniform(i64, P_NEW_METHOD, i64[S_ID], index) < f64[F_NEW_METHOD_SUCCESS]:
            i64[v + V_ATTEMPTS] += 1
            _pay(f64, i64, rows_f, rows_i, n, A_CUSTOMER_LINK, i64[v + V_ATTEMPTS], K_PAYMENT_SUCCEEDED)
    if i64[S_ACTIVATION] == ACTIVATION_PENDING:
        i64[S_ACTIVATION] = ACTIVATION_TRIGGERED  # `activation.succeed()`: processed as an event, now
        _push(f64, i64, f64[S_NOW], NORMAL, Q_ACTIVATION, 0, 0, 0.0)


# ------------------------------------------------------------------------------------- processes


@njit(cache=True)
def _failed_attempt(f64, i64, rows_f, rows_i, n, decline, attempt, last):
    """Engine._failed_attempt: the failure, the R4 email, the customer's reaction."""
    v = I_INVOICES + 8 * n
    actor = A_RETRY if attempt > 1 else A_SYSTEM
    _event(
        f64, i64, rows_f, rows_i, K_PAYMENT_FAILED, i64[v + V_ID], i64[v + V_AMOUNT], decline, actor, attempt
    )
    # rules.payment_failed_email_due (R4): card-paid, charge_automatically invoices.
    if not (i64[I_PAYMENT_FAILED] == 1 and i64[S_SEND_INVOICE] == 0 and i64[S_METHOD] == i64[I_CARD]):
        return
    index = i64[v + V_PERIOD] * PER_PERIOD + attempt
    link_dies = last and i64[I_END_ACTION] != END_LEAVE_PAST_DUE
    period_end = f64[S_NOW] if link_dies else f64[S_PERIOD_END]
    sent, acts, live = _send(
        f64,
        i64,
        rows_f,
        rows_i,
        E_PAYMENT_FAILED,
        i64[v + V_ID],
        period_end,
        math.nan,
        index,
        attempt - 1,
        False,
    )
    if sent and acts:
        delay = _exponential(i64, P_ACT_DELAY, i64[S_ID], index, f64[F_ACT_DELAY])
        _at(f64, i64, f64[S_NOW] + delay, Q_FOLLOW_LINK, 0, live)


@njit(cache=True)
def _card(f64, i64, rows_f, rows_i, version, stage):
    """Engine._card: R9 a month before the card expires, then the updater or an expired card."""
    if i64[S_CARD_VERSION] != version:
        return  # a replaced card's process ends at its next wake-up, doing nothing
    sid, index = i64[S_ID], CARD_INDEX + version
    email_at, expires = f64[S_CARD_EMAIL], f64[S_CARD_EXPIRES]
    if stage == 0:
        if _ended(i64) or i64[S_HAS_METHOD] == 0:
            return  # R9 is about a saved card: a trial without a payment method has none
        sent, acts, live = _send(
            f64, i64, rows_f, rows_i, E_CARD_EXPIRING, -1, f64[S_PERIOD_END], math.nan, index, 0, False
        )
        if sent and acts:
            delay = _exponential(i64, P_ACT_DELAY, sid, index, f64[F_ACT_DELAY])
            _at(f64, i64, f64[S_NOW] + delay, Q_FOLLOW_LINK, 0, live)
        if _uniform(i64, P_CARD_SELF_UPDATE, sid, index) < f64[F_CARD_SELF_UPDATE]:
            when = email_at + _uniform(i64, P_SPONTANEOUS_DELAY, sid, index) * (expires - email_at)
            _at(f64, i64, when, Q_CARD_SELF_UPDATE, version, 0.0)
        if expires < f64[F_HORIZON]:
            _push(f64, i64, expires, NORMAL, Q_CARD, version, 1, 0.0)
        return
    if _ended(i64):
        return
    if _uniform(i64, P_CARD_UPDATER, sid, index) < f64[F_CARD_UPDATER]:
        _new_method(f64, i64, rows_f, rows_i, A_CARD_UPDATER)
    else:
        _event(f64, i64, rows_f, rows_i, K_CARD_EXPIRED, -1, 0, 0, A_SYSTEM, 0)


@njit(cache=True)
def _invoice_next(f64, i64, n, r):
    """Engine._send_invoice between wake-ups: the next R5 reminder, else payment or write-off."""
    f = F_INVOICES + 4 * n
    due, pay_at = f64[f + V_DUE], f64[f + V_PAY_AT]
    write_off = due + f64[F_WRITE_OFF]
    if i64[I_INVOICE_REMINDERS] == 1 and r < i64[I_N_INVOICE_REMINDERS]:  # rules.invoice_reminder_times
        when = due + f64[F_INVOICE_REMINDERS + r]
        if when < pay_at and when < write_off and when < f64[F_HORIZON]:
            _push(f64, i64, when, NORMAL, Q_INVOICE, n, r, 0.0)
            return
    settle = min(pay_at, write_off)
    if settle < f64[F_HORIZON]:
        _push(f64, i64, settle, NORMAL, Q_INVOICE, n, INVOICE_SETTLE, 0.0)


@njit(cache=True)
def _send_invoice(f64, i64, rows_f, rows_i, n, r):
    """Engine._send_invoice (R5): the invoice itself, reminders until settled, payment or write-off."""
    v, f = I_INVOICES + 8 * n, F_INVOICES + 4 * n
    sid, k, due = i64[S_ID], i64[v + V_PERIOD], f64[f + V_DUE]
    if r == INVOICE_BEGIN:  # the process starts: the invoice email, always sent
        _send(f64, i64, rows_f, rows_i, E_INVOICE_FINALIZED, i64[v + V_ID], due, math.nan, -1, 0, True)
        if _uniform(i64, P_INVOICE_PAY, sid, k) < f64[F_PAY_SHARE]:
            f64[f + V_PAY_AT] = f64[S_NOW] + _exponential(i64, P_INVOICE_PAY_DELAY, sid, k, f64[F_PAY_DELAY])
        _invoice_next(f64, i64, n, 0)
        return
    if r == INVOICE_SETTLE:
        if i64[v + V_STATUS] != OPEN:
            return
        if f64[f + V_PAY_AT] <= due + f64[F_WRITE_OFF] and i64[S_STATUS] != CANCELED:
            _pay(f64, i64, rows_f, rows_i, n, A_CUSTOMER, 1, K_INVOICE_PAID)
            return
        _close_invoice(f64, i64, rows_f, rows_i, n, UNCOLLECTIBLE)
        if not _ended(i64):
            _end_of_dunning(f64, i64, rows_f, rows_i)
        return
    if i64[v + V_STATUS] != OPEN or i64[S_STATUS] == CANCELED:
        return
    index = k * PER_PERIOD + SLOT_INVOICE_REMINDER + r
    sent, acts, _live = _send(
        f64, i64, rows_f, rows_i, E_INVOICE_REMINDER, i64[v + V_ID], due, math.nan, index, r, False
    )
    if sent and acts:
        when = due + f64[F_INVOICE_REMINDERS + r]
        f64[f + V_PAY_AT] = min(
            f64[f + V_PAY_AT], when + _exponential(i64, P_ACT_DELAY, sid, index, f64[F_ACT_DELAY])
        )
    _invoice_next(f64, i64, n, r + 1)


@njit(cache=True)
def _lifecycle(f64, i64, rows_f, rows_i, block):
    """Engine._lifecycle with _trial, _period, _collect, _confirmation and _dunning, as code blocks.

    Runs from `block` to the next wait (scheduled with `_wait`) or to the end of the lifecycle.
    """
    horizon, sid = f64[F_HORIZON], i64[S_ID]
    while True:
        now, k, n = f64[S_NOW], i64[S_K], i64[S_INVOICE]
        v = I_INVOICES + 8 * n
        if block == L_DONE:
            return
        # ---- Engine._trial (R6)
        if block == L_TRIAL_BEGIN:
            f64[S_TRIAL_END] = f64[S_SIGNUP] + i64[S_TRIAL_DAYS]
            _wait(f64, i64, f64[S_SIGNUP], L_TRIAL_START)
            return
        if block == L_TRIAL_START:
            start, end = f64[S_SIGNUP], f64[S_TRIAL_END]
            i64[S_STATUS], f64[S_STATUS_SINCE] = TRIALING, start
            f64[S_PERIOD_END] = end  # R11d: during the trial, the current period is the trial itself
            _event(f64, i64, rows_f, rows_i, K_SUBSCRIPTION_CREATED, -1, 0, 0, A_SYSTEM, 0)
            f64[S_LINKS] = -math.inf
            block = L_TRIAL_END_WAIT
            if i64[I_TRIAL_REMINDERS] == 1:  # rules.trial_reminder_at (R6a)
                at = end - 7.0
                if not at < start - 1e-9:
                    reminder = max(at, start)
                    if reminder < horizon:
                        _wait(f64, i64, reminder, L_TRIAL_REMINDER)
                        return
            continue
        if block == L_TRIAL_REMINDER:
            end = f64[S_TRIAL_END]
            sent, acts, live = _send(
                f64, i64, rows_f, rows_i, E_TRIAL_WILL_END, -1, end, end, SLOT_TRIAL, 0, False
            )
            if sent and acts and i64[S_HAS_METHOD] == 0:
                f64[S_LINKS] = max(f64[S_LINKS], live)
                delay = _exponential(i64, P_ACT_DELAY, sid, SLOT_TRIAL, f64[F_ACT_DELAY])
                _at(f64, i64, now + delay, Q_FOLLOW_LINK, 0, live)
            block = L_TRIAL_END_WAIT
            continue
        if block == L_TRIAL_END_WAIT:
            if f64[S_TRIAL_END] < horizon:
                _wait(f64, i64, f64[S_TRIAL_END], L_TRIAL_END)
            return
        if block == L_TRIAL_END:
            _event(f64, i64, rows_f, rows_i, K_TRIAL_ENDED, -1, 0, 0, A_SYSTEM, 0)
            if i64[S_HAS_METHOD] == 1:
                if _uniform(i64, P_TRIAL_CANCEL, sid, 0) < f64[F_TRIAL_CANCEL]:
                    _cancel(f64, i64, rows_f, rows_i, A_CUSTOMER)
                    return
                i64[S_STATUS], i64[S_K] = ACTIVE, 0
                block = L_PERIOD_BEGIN
                continue
            # R6b: paused; the first invoice waits for a method added on the hosted page.
            n = _new_invoice(f64, i64, rows_f, rows_i, 0)
            v = I_INVOICES + 8 * n
            i64[S_INVOICE], i64[v + V_AT_RISK] = n, 1
            _set_status(f64, i64, rows_f, rows_i, PAUSED, A_SYSTEM)  # rules.status_at_trial_end(False)
            i64[S_ACTIVATION] = ACTIVATION_PENDING
            sent, acts, live = _send(
                f64,
                i64,
                rows_f,
                rows_i,
                E_TRIAL_ENDED_PAUSED,
                i64[v + V_ID],
                math.inf,
                f64[S_TRIAL_END],
                SLOT_PAUSED,
                1,
                False,
            )
            if sent and acts:
                f64[S_LINKS] = max(f64[S_LINKS], live)
                delay = _exponential(i64, P_ACT_DELAY, sid, SLOT_PAUSED, f64[F_ACT_DELAY])
                _at(f64, i64, now + delay, Q_FOLLOW_LINK, 0, live)
            deadline = min(now if f64[S_LINKS] == -math.inf else f64[S_LINKS], horizon)
            if deadline > now:  # `yield activation | timeout_at(deadline)`
                i64[S_WAITING] = 1
                _push(f64, i64, deadline, NORMAL, Q_DEADLINE, 0, 0, 0.0)
                return
            block = L_TRIAL_WAITED
            continue
        if block == L_TRIAL_WAITED:
            if i64[S_ACTIVATION] != ACTIVATION_TRIGGERED or i64[v + V_STATUS] != PAID:
                if i64[v + V_STATUS] == OPEN:
                    _close_invoice(f64, i64, rows_f, rows_i, n, VOID)
                return
            _set_status(f64, i64, rows_f, rows_i, ACTIVE, A_CUSTOMER_LINK)
            _event(f64, i64, rows_f, rows_i, K_SUBSCRIPTION_ACTIVATED, -1, 0, 0, A_CUSTOMER_LINK, 0)
            i64[S_ANCHOR_DAY] = int(math.floor(now))  # activation re-anchors billing
            f64[S_ANCHOR_FRAC] = now - i64[S_ANCHOR_DAY]
            i64[S_K] = 1
            block = L_PERIOD_BEGIN
            continue
        # ---- Engine._period
        if block == L_PERIOD_BEGIN:
            renew = _boundary(f64, i64, k)
            period_start = _boundary(f64, i64, k - 1) if k > 0 else f64[S_SIGNUP]
            f64[S_RENEW], f64[S_PERIOD_END] = renew, renew
            i64[S_NEW_SIGNUP] = 1 if k == 0 and f64[S_SIGNUP] >= 0 and i64[S_TRIAL_DAYS] == 0 else 0
            block = L_RENEWAL_WAIT
            if k > 0 and i64[I_PLAN_REMINDER + i64[S_PLAN]] == 1:  # rules.renewal_reminder_at (R7a)
                reminder = max(period_start, renew - f64[F_RENEWAL_DAYS])
                if 0.0 <= reminder < horizon:
                    _wait(f64, i64, reminder, L_REMINDER)
                    return
            continue
        if block == L_REMINDER:
            if _ended(i64):
                return
            renew = f64[S_RENEW]
            index = k * PER_PERIOD + SLOT_REMINDER
            sent, acts, live = _send(
                f64, i64, rows_f, rows_i, E_UPCOMING_RENEWAL, -1, renew, math.nan, index, 0, False
            )
            if sent:  # R7: the reminder can prompt a cancellation or a card update
                if _uniform(i64, P_REMINDER_CANCEL, sid, k) < f64[F_REMINDER_CANCEL]:
                    i64[S_CANCEL_AT_END] = 1
                if acts and f64[S_CARD_EXPIRES] <= renew:
                    delay = _exponential(i64, P_ACT_DELAY, sid, index, f64[F_ACT_DELAY])
                    _at(f64, i64, now + delay, Q_FOLLOW_LINK, 0, live)
            block = L_RENEWAL_WAIT
            continue
        if block == L_RENEWAL_WAIT:
            if f64[S_RENEW] < horizon:
                _wait(f64, i64, f64[S_RENEW], L_RENEWAL)
            return
        if block == L_RENEWAL:
            if _ended(i64):
                return
            if i64[S_CANCEL_AT_END] == 1:
                _cancel(f64, i64, rows_f, rows_i, A_CUSTOMER)
                return
            if k > 0 and _uniform(i64, P_CHURN, sid, k) < f64[F_PLAN_CHURN + i64[S_PLAN]]:
                _cancel(f64, i64, rows_f, rows_i, A_CUSTOMER)
                return
            if i64[S_NEW_SIGNUP] == 1:
                _event(f64, i64, rows_f, rows_i, K_SUBSCRIPTION_CREATED, -1, 0, 0, A_SYSTEM, 0)
            f64[S_PERIOD_END] = _boundary(
                f64, i64, k + 1
            )  # R11d: links end with the period the invoice opens
            n = _new_invoice(f64, i64, rows_f, rows_i, k)
            v = I_INVOICES + 8 * n
            i64[S_INVOICE] = n
            if i64[S_SEND_INVOICE] == 1:
                f64[F_INVOICES + 4 * n + V_DUE] = now + f64[F_COHORT_DUE + i64[S_COHORT]]
                _push(f64, i64, now, URGENT, Q_INVOICE_START, n, 0, 0.0)  # env.process(_send_invoice(...))
                i64[S_K] = k + 1
                block = L_PERIOD_BEGIN
                continue
            _send(
                f64,
                i64,
                rows_f,
                rows_i,
                E_INVOICE_FINALIZED,
                i64[v + V_ID],
                f64[S_RENEW],
                math.nan,
                -1,
                0,
                False,
            )
            if i64[S_NEW_SIGNUP] == 1:  # paid on-session at checkout
                i64[v + V_ATTEMPTS] = 1
                _pay(f64, i64, rows_f, rows_i, n, A_SYSTEM, 1, K_PAYMENT_SUCCEEDED)
                i64[S_K] = k + 1
                block = L_PERIOD_BEGIN
                continue
            block = L_COLLECT
            continue
        if block == L_PERIOD_DONE:
            if i64[S_STATUS] == CANCELED or i64[S_STATUS] == UNPAID:
                return
            i64[S_K] = k + 1
            block = L_PERIOD_BEGIN
            continue
        # ---- Engine._collect and _first_attempt
        if block == L_COLLECT:
            method = i64[S_METHOD]
            confirm, decline = False, 0
            if method == i64[I_BOLETO]:
                confirm = True
            elif method == i64[I_CARD] and f64[S_CARD_EXPIRES] <= now:
                decline = i64[I_EXPIRED_CARD]
            elif _uniform(i64, P_FIRST_ATTEMPT, sid, k) < f64[F_COHORT_RATE + i64[S_COHORT]]:
                u = _uniform(i64, P_DECLINE_CODE, sid, k)
                pick = 0
                while (
                    pick < i64[I_N_DECLINES] and f64[F_DECLINE_EDGES + pick] <= u
                ):  # searchsorted(side="right")
                    pick += 1
                decline = i64[I_DECLINE_IDS + min(pick, i64[I_N_DECLINES] - 1)]
            elif method == i64[I_CARD] and (
                _uniform(i64, P_NEEDS_CONFIRMATION, sid, k) < f64[F_COHORT_3DS + i64[S_COHORT]]
            ):
                confirm = True
            i64[v + V_ATTEMPTS] = 1
            if not confirm and decline == 0:
                _pay(f64, i64, rows_f, rows_i, n, A_SYSTEM, 1, K_PAYMENT_SUCCEEDED)
                block = L_PERIOD_DONE
                continue
            i64[v + V_AT_RISK] = 1
            f64[S_T0] = now
            if confirm:  # ---- Engine._confirmation (R8)
                boleto = method == i64[I_BOLETO]
                expires = now + (f64[F_BOLETO_EXPIRY] if boleto else f64[F_THREE_DS_EXPIRY])
                f64[S_EXPIRES] = expires
                _event(
                    f64,
                    i64,
                    rows_f,
                    rows_i,
                    K_PAYMENT_ACTION_REQUIRED,
                    i64[v + V_ID],
                    i64[v + V_AMOUNT],
                    0,
                    A_SYSTEM,
                    0,
                )
                f64[S_CONFIRM_AT] = math.inf
                if _uniform(i64, P_CONFIRM_UNPROMPTED, sid, k) < f64[F_CONFIRM_UNPROMPTED]:
                    f64[S_CONFIRM_AT] = now + _exponential(i64, P_CONFIRM_DELAY, sid, k, (expires - now) / 2)
                i64[S_ACTOR], i64[S_STEP], f64[S_NEXT_AT] = A_CUSTOMER_SELF, 0, now
                block = L_CONFIRM_NEXT
                continue
            # ---- Engine._dunning (R4 and the retry schedule)
            i64[v + V_DECLINE] = decline
            _set_status(f64, i64, rows_f, rows_i, PAST_DUE, A_SYSTEM)
            _failed_attempt(f64, i64, rows_f, rows_i, n, decline, 1, False)
            if _uniform(i64, P_SPONTANEOUS_FIX, sid, k) < f64[F_SPONTANEOUS_FIX]:
                delay = _exponential(i64, P_SPONTANEOUS_DELAY, sid, k, f64[F_SPONTANEOUS_DELAY])
                _at(f64, i64, now + delay, Q_SELF_UPDATE, 0, 0.0)
            i64[S_DECLINE] = decline
            i64[S_HARD] = 1 if i64[I_DECLINE_HARD + decline] == 1 and i64[I_RETRY_HARD] == 0 else 0
            i64[S_STEP] = 0
            block = L_RETRY_NEXT
            continue
        if block == L_CONFIRM_NEXT:
            step, when = i64[S_STEP], f64[S_NEXT_AT]
            more = step == 0 or (i64[I_CONFIRM_REMINDERS] == 1 and when < f64[S_EXPIRES] - 1e-9)
            if more and when < f64[S_CONFIRM_AT] and when < horizon:
                _wait(f64, i64, when, L_CONFIRM_EMAIL)
                return
            block = L_CONFIRM_WAIT
            continue
        if block == L_CONFIRM_EMAIL:
            if i64[v + V_STATUS] != OPEN:
                block = L_PERIOD_DONE  # paid meanwhile through another live link (R10c)
                continue
            step, when = i64[S_STEP], f64[S_NEXT_AT]
            index = k * PER_PERIOD + SLOT_CONFIRM + step
            email_type = E_PAYMENT_ACTION_REQUIRED if step == 0 else E_PAYMENT_ACTION_REMINDER
            period_end = min(f64[S_EXPIRES], f64[S_PERIOD_END])
            sent, acts, live = _send(
                f64, i64, rows_f, rows_i, email_type, i64[v + V_ID], period_end, math.nan, index, step, False
            )
            if sent and acts:
                at = when + _exponential(i64, P_ACT_DELAY, sid, index, f64[F_ACT_DELAY])
                if at < f64[S_CONFIRM_AT] and _link_is_live(live, at, i64[S_STATUS], f64[S_STATUS_SINCE]):
                    f64[S_CONFIRM_AT], i64[S_ACTOR] = at, A_CUSTOMER_LINK
            # rules.confirmation_reminder_times: every `step` days after the request, before expiry.
            f64[S_NEXT_AT] = (f64[S_T0] if step == 0 else when) + f64[F_CONFIRM_STEP]
            i64[S_STEP] = step + 1
            block = L_CONFIRM_NEXT
            continue
        if block == L_CONFIRM_WAIT:
            confirm_at, expires = f64[S_CONFIRM_AT], f64[S_EXPIRES]
            if confirm_at < expires and confirm_at < horizon:
                _wait(f64, i64, confirm_at, L_CONFIRMED)
            elif expires < horizon:
                _wait(f64, i64, expires, L_CONFIRM_EXPIRED)
            return  # else it waits for the horizon, which never comes
        if block == L_CONFIRMED:
            if i64[v + V_STATUS] == OPEN:
                _pay(f64, i64, rows_f, rows_i, n, i64[S_ACTOR], 1, K_PAYMENT_SUCCEEDED)
            block = L_PERIOD_DONE
            continue
        if block == L_CONFIRM_EXPIRED:
            if i64[v + V_STATUS] == OPEN:
                expired = i64[I_AUTHENTICATION_EXPIRED]
                i64[v + V_DECLINE] = expired
                _event(
                    f64,
                    i64,
                    rows_f,
                    rows_i,
                    K_PAYMENT_EXPIRED,
                    i64[v + V_ID],
                    i64[v + V_AMOUNT],
                    expired,
                    A_SYSTEM,
                    0,
                )
                _set_status(f64, i64, rows_f, rows_i, PAST_DUE, A_SYSTEM)
                _end_of_dunning(f64, i64, rows_f, rows_i)
            block = L_PERIOD_DONE
            continue
        if block == L_RETRY_NEXT:
            if i64[S_STEP] < i64[I_N_RETRIES]:
                _wait(f64, i64, f64[S_T0] + f64[F_RETRY_OFFSETS + i64[S_STEP]], L_RETRY)
                return
            if i64[v + V_STATUS] == OPEN and not _ended(i64):
                _end_of_dunning(f64, i64, rows_f, rows_i)
            block = L_PERIOD_DONE
            continue
        if block == L_RETRY:
            if i64[v + V_STATUS] != OPEN or _ended(i64):
                block = L_PERIOD_DONE
                continue
            attempt = i64[S_STEP] + 2
            i64[S_STEP] += 1
            t0 = f64[S_T0]
            block = L_RETRY_NEXT
            if i64[S_HARD] == 1 and f64[S_METHOD_UPDATED] <= t0:
                continue  # no retry on a hard decline until the customer gives a new method
            i64[v + V_ATTEMPTS] = attempt
            decline = i64[S_DECLINE]
            index = k * PER_PERIOD + attempt
            if f64[S_METHOD_UPDATED] > t0:
                success = _uniform(i64, P_NEW_METHOD, sid, index) < f64[F_NEW_METHOD_SUCCESS]
                decline = 0 if success else i64[I_GENERIC_DECLINE]
            elif i64[S_METHOD] == i64[I_CARD] and f64[S_CARD_EXPIRES] <= now:
                success, decline = False, i64[I_EXPIRED_CARD]
            else:
                success = _uniform(i64, P_RETRY, sid, index) < f64[F_RETRY_SUCCESS + decline]
            if success:
                _pay(f64, i64, rows_f, rows_i, n, A_RETRY, attempt, K_PAYMENT_SUCCEEDED)
                block = L_PERIOD_DONE
                continue
            _failed_attempt(f64, i64, rows_f, rows_i, n, decline, attempt, attempt == i64[I_N_RETRIES] + 1)
            i64[S_DECLINE] = decline
            continue
        raise RuntimeError("unknown lifecycle block")


@njit(cache=True)
def _customer(f64, i64, rows_f, rows_i, cust_i, cust_f, j):
    """One customer from creation to the horizon; returns the final subscription status."""
    f64[F_STATE:] = 0.0
    i64[I_STATE:S_EVENTS] = 0  # the row counts run on across customers
    for slot in range(QUEUE):
        i64[I_QUEUE + 5 * slot + Q_WHAT] = 0
    f64[S_STATUS_SINCE], f64[S_METHOD_UPDATED], f64[S_PERIOD_END] = -math.inf, -math.inf, math.inf
    f64[S_SIGNUP], f64[S_CARD_EXPIRES] = cust_f[C_SIGNUP_AT, j], cust_f[C_CARD_EXPIRES_AT, j]
    f64[S_CARD_EMAIL], f64[S_ANCHOR_FRAC] = cust_f[C_CARD_EMAIL_AT, j], cust_f[C_ANCHOR_FRAC, j]
    i64[S_ID], i64[S_PLAN], i64[S_COHORT], i64[S_METHOD] = (
        cust_i[C_ID, j],
        cust_i[C_PLAN, j],
        cust_i[C_COHORT, j],
        cust_i[C_METHOD, j],
    )
    i64[S_RECIPIENT], i64[S_SEND_INVOICE] = cust_i[C_RECIPIENT, j], cust_i[C_SEND_INVOICE, j]
    i64[S_STATUS], i64[S_HAS_METHOD], i64[S_ANCHOR_DAY] = (
        ACTIVE,
        1 - cust_i[C_NO_METHOD, j],
        cust_i[C_ANCHOR_DAY, j],
    )
    i64[S_TRIAL_DAYS], i64[S_K] = cust_i[C_TRIAL_DAYS, j], cust_i[C_FIRST_PERIOD, j]
    # Processes created before the run reach their first wait at time 0, in creation order.
    trial = cust_i[C_TRIAL_DAYS, j] > 0 and cust_i[C_FIRST_PERIOD, j] == 0
    _lifecycle(f64, i64, rows_f, rows_i, L_TRIAL_BEGIN if trial else L_PERIOD_BEGIN)
    if cust_i[C_CARD_PROCESS, j] == 1:
        _push(f64, i64, f64[S_CARD_EMAIL], NORMAL, Q_CARD, 0, 0, 0.0)
    while True:
        slot = _pop(f64, i64)
        if slot < 0 or f64[F_QUEUE_AT + slot] >= f64[F_HORIZON]:
            break  # SimPy's run(until=horizon) stops before anything at the horizon
        q = I_QUEUE + 5 * slot
        what, a, b, x = i64[q + Q_WHAT], i64[q + Q_A], i64[q + Q_B], f64[F_QUEUE_ARG + slot]
        i64[q + Q_WHAT] = 0
        f64[S_NOW] = f64[F_QUEUE_AT + slot]
        if what == Q_LIFE:
            _lifecycle(f64, i64, rows_f, rows_i, a)
        elif what == Q_CARD_START:
            if i64[S_CARD_VERSION] == a:
                _push(f64, i64, f64[S_CARD_EMAIL], NORMAL, Q_CARD, a, 0, 0.0)
        elif what == Q_CARD:
            _card(f64, i64, rows_f, rows_i, a, b)
        elif what == Q_INVOICE_START:
            _send_invoice(f64, i64, rows_f, rows_i, a, INVOICE_BEGIN)
        elif what == Q_INVOICE:
            _send_invoice(f64, i64, rows_f, rows_i, a, b)
        elif what == Q_FOLLOW_LINK:
            _follow_link(f64, i64, rows_f, rows_i, x)
        elif what == Q_SELF_UPDATE:
            if not _ended(i64):
                _new_method(f64, i64, rows_f, rows_i, A_CUSTOMER_SELF)
        elif what == Q_CARD_SELF_UPDATE:
            if i64[S_CARD_VERSION] == a and not _ended(i64):
                _new_method(f64, i64, rows_f, rows_i, A_CUSTOMER_SELF)
        elif what == Q_ACTIVATION or what == Q_DEADLINE:
            if i64[S_WAITING] == 1:  # the AnyOf condition triggers once, then resumes the lifecycle
                i64[S_WAITING] = 0
                _push(f64, i64, f64[S_NOW], NORMAL, Q_CONDITION, 0, 0, 0.0)
        elif what == Q_CONDITION:
            _lifecycle(f64, i64, rows_f, rows_i, L_TRIAL_WAITED)
    _flush_invoices(f64, i64, rows_f, rows_i)
    return i64[S_STATUS]


@njit(cache=True, nogil=True)
def run_customers(f64, i64, rows_f, rows_i, cust_i, cust_f, first, last, status, room):
    """Customers first..last-1 until the buffers might not hold another; returns where it stopped.

    Row counts are in i64[S_EVENTS], i64[S_EMAILS], i64[S_INVOICE_ROWS]. Releases the GIL: threads
    may run disjoint customer ranges, each with its own f64, i64 and buffers.
    """
    j = first
    capacity = rows_f.shape[1]
    while j < last:
        if (
            max(i64[S_EVENTS], i64[S_EMAILS]) + room > capacity
            or i64[S_INVOICE_ROWS] + MAX_INVOICES > capacity
        ):
            return j
        status[j] = _customer(f64, i64, rows_f, rows_i, cust_i, cust_f, j)
        j += 1
    return j
