"""The compiled model's building blocks: keyed draws, the calendar, the wake-up queue, recording, and
the state changes every process shares (`Engine._send`, `_pay`, `_cancel`, `_new_method`, ...).

Each mirrors the `engine.Engine` method or `rng`/`calendar` function named in its docstring; the small
ones called per row or per draw are inlined (a compiled call costs reference-count updates per array).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from recovery_sim.simulation.compiled.jit import (
    act_chance,
    add_civil_months,
    card_expires_day,
    card_expiring_email_day,
    civil_from_days,
    days_from_civil,
    draw_index,
    invoice_id,
    link_is_live,
    link_live_until,
)
from recovery_sim.simulation.compiled.layout import (
    _GOLDEN,
    _M1,
    _M2,
    _R11,
    _R27,
    _R30,
    _R31,
    _TO_UNIT,
    A_CUSTOMER_LINK,
    A_SYSTEM,
    ACTIVATION_PENDING,
    ACTIVATION_TRIGGERED,
    ACTIVE,
    CANCELED,
    E_INVOICE_PAID,
    E_SUBSCRIPTION_CANCELED,
    E_TRIAL_ENDED_PAUSED,
    E_TRIAL_WILL_END,
    END_CANCEL,
    END_MARK_UNPAID,
    F_ACT_CHANCE,
    F_FATIGUE,
    F_HORIZON,
    F_INVOICES,
    F_NEW_METHOD_SUCCESS,
    F_QUEUE_ARG,
    F_QUEUE_AT,
    I_CARD,
    I_DELIVERED,
    I_END_ACTION,
    I_INVOICES,
    I_KEYS,
    I_LINKS,
    I_MANAGEMENT,
    I_PER_PERIOD,
    I_PLAN_PRICE,
    I_PLAN_STEP,
    I_QUEUE,
    I_SENDS,
    I_SLOT_LINK_PAYMENT,
    I_START_DAY,
    K_CARD_UPDATED,
    K_INVOICE_CREATED,
    K_INVOICE_UNCOLLECTIBLE,
    K_INVOICE_VOIDED,
    K_LINK_DEAD,
    K_LINK_FOLLOWED,
    K_PAYMENT_METHOD_UPDATED,
    K_PAYMENT_SUCCEEDED,
    K_SUBSCRIPTION_CANCELED,
    K_SUBSCRIPTION_PAST_DUE,
    K_SUBSCRIPTION_PAUSED,
    K_SUBSCRIPTION_UNPAID,
    MAX_INVOICES,
    NORMAL,
    O_EMAIL_ACTED,
    O_EMAIL_CUSTOMER,
    O_EMAIL_DELIVERED,
    O_EMAIL_INVOICE,
    O_EMAIL_LINK,
    O_EMAIL_LIVE_UNTIL,
    O_EMAIL_MANAGEMENT,
    O_EMAIL_TIME,
    O_EMAIL_TYPE,
    O_EVENT_ACTOR,
    O_EVENT_AMOUNT,
    O_EVENT_ATTEMPT,
    O_EVENT_CUSTOMER,
    O_EVENT_DECLINE,
    O_EVENT_INVOICE,
    O_EVENT_KIND,
    O_EVENT_TIME,
    O_INVOICE_AMOUNT,
    O_INVOICE_AT_RISK,
    O_INVOICE_ATTEMPTS,
    O_INVOICE_CREATED,
    O_INVOICE_CUSTOMER,
    O_INVOICE_DECLINE,
    O_INVOICE_DUE,
    O_INVOICE_ID,
    O_INVOICE_PAID_AT,
    O_INVOICE_PAID_BY,
    O_INVOICE_PERIOD,
    O_INVOICE_STATUS,
    OPEN,
    P_ACT,
    P_NEW_CARD_EXPIRY,
    P_NEW_METHOD,
    PAID,
    PAST_DUE,
    PAUSED,
    Q_A,
    Q_ACTIVATION,
    Q_B,
    Q_CARD_START,
    Q_LIFE,
    Q_PRIORITY,
    Q_SEQ,
    Q_WHAT,
    QUEUE,
    RECIPIENTS,
    S_ACTIVATION,
    S_ANCHOR_DAY,
    S_ANCHOR_FRAC,
    S_CARD_EMAIL,
    S_CARD_EXPIRES,
    S_CARD_VERSION,
    S_EMAILS,
    S_EVENTS,
    S_HAS_METHOD,
    S_ID,
    S_INVOICE_ROWS,
    S_METHOD,
    S_METHOD_UPDATED,
    S_N_INVOICES,
    S_NOW,
    S_PERIOD_END,
    S_PLAN,
    S_RECIPIENT,
    S_SEND_INVOICE,
    S_SEQ,
    S_STATUS,
    S_STATUS_SINCE,
    UNCOLLECTIBLE,
    UNPAID,
    URGENT,
    V_AMOUNT,
    V_AT_RISK,
    V_ATTEMPTS,
    V_CREATED,
    V_DECLINE,
    V_DUE,
    V_ID,
    V_PAID_AT,
    V_PAID_BY,
    V_PAY_AT,
    V_PERIOD,
    V_STATUS,
    VOID,
    OutOfRoom,
)

# --------------------------------------------------------------------------------------- draws


@njit(cache=True, inline="always")
def uniform(i64, purpose, entity, index):
    """rng.Streams.uniform: SplitMix64 over (stream key ^ entity), then ^ index."""
    z = (np.uint64(i64[I_KEYS + purpose]) ^ np.uint64(entity)) + _GOLDEN
    z = (z ^ (z >> _R30)) * _M1
    z = (z ^ (z >> _R27)) * _M2
    z = ((z ^ (z >> _R31)) ^ np.uint64(index)) + _GOLDEN
    z = (z ^ (z >> _R30)) * _M1
    z = (z ^ (z >> _R27)) * _M2
    return np.float64((z ^ (z >> _R31)) >> _R11) * _TO_UNIT


@njit(cache=True, inline="always")
def exponential(i64, purpose, entity, index, mean):
    """rng.Streams.exponential."""
    return -mean * math.log1p(-uniform(i64, purpose, entity, index))


# ------------------------------------------------------------------------------------ calendar


@njit(cache=True, inline="always")
def boundary(f64, i64, k):
    """Engine._boundary: renewal k's instant (periods.whole_days + the anchor's fraction)."""
    start_day = i64[I_START_DAY]
    y, m, d = civil_from_days(start_day + i64[S_ANCHOR_DAY])
    y2, m2, d2 = add_civil_months(y, m, d, k * i64[I_PLAN_STEP + i64[S_PLAN]])
    return float(days_from_civil(y2, m2, d2) - start_day) + f64[S_ANCHOR_FRAC]


# ------------------------------------------------------------------------------------ the queue


@njit(cache=True, inline="always")
def push(f64, i64, when, priority, what, a, b, x):
    """Schedule a wake-up at `when`, never before now (as `Environment.timeout_at`)."""
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
def pop(f64, i64):
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
def schedule_at(f64, i64, when, what, a, x):
    """Engine._at: a customer action at `when`, dropped at or beyond the horizon."""
    if when < f64[F_HORIZON]:
        push(f64, i64, when, NORMAL, what, a, 0, x)


@njit(cache=True, inline="always")
def wait(f64, i64, when, resume):
    """`yield env.timeout_at(when)` in the lifecycle: resume at block `resume`."""
    push(f64, i64, when, NORMAL, Q_LIFE, resume, 0, 0.0)


# ------------------------------------------------------------------------------------ recording


@njit(cache=True, inline="always")
def event(f64, i64, rows_f, rows_i, kind, invoice, amount, decline, actor, attempt):
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
def email(f64, i64, rows_f, rows_i, invoice, email_type, link, management, live_until, delivered, acted):
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
def flush_invoices(f64, i64, rows_f, rows_i):
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
def ended(i64):
    """Subscription.ended."""
    status = i64[S_STATUS]
    return status == CANCELED or status == UNPAID or status == PAUSED


@njit(cache=True, inline="always")
def invoice_status(i64, n):
    return i64[I_INVOICES + 8 * n + V_STATUS]


# --------------------------------------------------------------------------------- state changes


@njit(cache=True)
def set_status(f64, i64, rows_f, rows_i, status, actor):
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
        event(f64, i64, rows_f, rows_i, kind, -1, 0, 0, actor, 0)


@njit(cache=True)
def send(f64, i64, rows_f, rows_i, email_type, invoice, period_end, trial_end, act_index, earlier, force):
    """Engine._send: (sent, acts, link live until or -inf). R3/R10b link, R11 lifetime, R12 delivery."""
    if not (force or i64[I_SENDS + email_type] == 1):
        return False, False, -math.inf
    now = f64[S_NOW]
    has_link = i64[I_LINKS + 2 * email_type + i64[S_SEND_INVOICE]] == 1
    link = has_link
    live_until = math.inf
    if link:
        trial_link = email_type == E_TRIAL_WILL_END or email_type == E_TRIAL_ENDED_PAUSED
        live_until = link_live_until(trial_link, now, period_end, trial_end, i64[S_HAS_METHOD] == 1)
        link = link_is_live(live_until, now, i64[S_STATUS], f64[S_STATUS_SINCE])  # R11: no dead link
    delivered = i64[I_DELIVERED + RECIPIENTS * email_type + i64[S_RECIPIENT]] == 1
    acts = False
    if delivered and act_index >= 0 and (link or not has_link):
        chance = act_chance(f64[F_ACT_CHANCE + email_type], f64[F_FATIGUE], earlier)
        acts = uniform(i64, P_ACT, i64[S_ID], act_index) < chance
    management = i64[I_MANAGEMENT + 2 * email_type + i64[S_SEND_INVOICE]]
    email(
        f64,
        i64,
        rows_f,
        rows_i,
        invoice,
        email_type,
        1 if link else 0,
        management,
        live_until if link else math.inf,
        1 if delivered else 0,
        1 if acts else 0,
    )
    return True, acts, (live_until if link else -math.inf)


@njit(cache=True)
def new_invoice(f64, i64, rows_f, rows_i, period):
    """Engine._new_invoice: the period's invoice, open, with its `invoice_created` event."""
    amount = i64[I_PLAN_PRICE + i64[S_PLAN]]
    n = i64[S_N_INVOICES]
    if n >= MAX_INVOICES:
        raise OutOfRoom("per-customer invoice table is full")
    v, f = I_INVOICES + 8 * n, F_INVOICES + 4 * n
    new_id = invoice_id(i64[S_ID], period)
    i64[v + V_ID], i64[v + V_PERIOD], i64[v + V_AMOUNT], i64[v + V_STATUS] = new_id, period, amount, OPEN
    i64[v + V_ATTEMPTS], i64[v + V_DECLINE], i64[v + V_AT_RISK], i64[v + V_PAID_BY] = 0, 0, 0, A_SYSTEM
    f64[f + V_CREATED], f64[f + V_PAID_AT], f64[f + V_DUE], f64[f + V_PAY_AT] = (
        f64[S_NOW],
        math.inf,
        math.inf,
        math.inf,
    )
    i64[S_N_INVOICES] = n + 1
    event(f64, i64, rows_f, rows_i, K_INVOICE_CREATED, new_id, amount, 0, A_SYSTEM, 0)
    return n


@njit(cache=True)
def pay(f64, i64, rows_f, rows_i, n, actor, attempt, kind):
    """Engine._pay."""
    v = I_INVOICES + 8 * n
    i64[v + V_STATUS] = PAID
    f64[F_INVOICES + 4 * n + V_PAID_AT] = f64[S_NOW]
    i64[v + V_PAID_BY] = actor
    i64[v + V_ATTEMPTS] = max(i64[v + V_ATTEMPTS], attempt)
    event(f64, i64, rows_f, rows_i, kind, i64[v + V_ID], i64[v + V_AMOUNT], 0, actor, attempt)
    if i64[S_STATUS] == PAST_DUE:
        still_open = False
        for j in range(i64[S_N_INVOICES]):
            still_open = still_open or invoice_status(i64, j) == OPEN
        if not still_open:
            set_status(f64, i64, rows_f, rows_i, ACTIVE, actor)
    send(f64, i64, rows_f, rows_i, E_INVOICE_PAID, i64[v + V_ID], f64[S_PERIOD_END], math.nan, -1, 0, False)


@njit(cache=True)
def close_invoice(f64, i64, rows_f, rows_i, n, status):
    """Engine._close_invoice."""
    v = I_INVOICES + 8 * n
    i64[v + V_STATUS] = status
    kind = K_INVOICE_VOIDED if status == VOID else K_INVOICE_UNCOLLECTIBLE
    event(f64, i64, rows_f, rows_i, kind, i64[v + V_ID], i64[v + V_AMOUNT], 0, A_SYSTEM, 0)


@njit(cache=True)
def cancel(f64, i64, rows_f, rows_i, actor):
    """Engine._cancel: write off what is open (R5), cancel, say so once."""
    for n in range(i64[S_N_INVOICES]):
        if invoice_status(i64, n) == OPEN:
            close_invoice(f64, i64, rows_f, rows_i, n, UNCOLLECTIBLE)
    set_status(f64, i64, rows_f, rows_i, CANCELED, actor)
    send(f64, i64, rows_f, rows_i, E_SUBSCRIPTION_CANCELED, -1, f64[S_PERIOD_END], math.nan, -1, 0, False)


@njit(cache=True)
def end_of_dunning(f64, i64, rows_f, rows_i):
    """Engine._end_of_dunning."""
    action = i64[I_END_ACTION]
    if action == END_CANCEL:
        cancel(f64, i64, rows_f, rows_i, A_SYSTEM)
    elif action == END_MARK_UNPAID:
        set_status(f64, i64, rows_f, rows_i, UNPAID, A_SYSTEM)  # R11b: its links die now


@njit(cache=True)
def new_method(f64, i64, rows_f, rows_i, actor):
    """Engine._new_method, with cohorts.new_card_expiry and rules.card_expires_at for a new card."""
    now = f64[S_NOW]
    f64[S_METHOD_UPDATED] = now
    i64[S_HAS_METHOD] = 1
    if i64[S_METHOD] != i64[I_CARD]:
        event(f64, i64, rows_f, rows_i, K_PAYMENT_METHOD_UPDATED, -1, 0, 0, actor, 0)
        return
    i64[S_CARD_VERSION] += 1
    version = i64[S_CARD_VERSION]
    ahead = 24 + int(uniform(i64, P_NEW_CARD_EXPIRY, i64[S_ID], version) * 36)
    start_day = i64[I_START_DAY]
    y, m, _d = civil_from_days(start_day + int(now))
    year, month, _day = add_civil_months(y, m, 1, ahead)
    f64[S_CARD_EXPIRES] = card_expires_day(year, month, start_day)
    f64[S_CARD_EMAIL] = card_expiring_email_day(year, month, start_day)
    event(f64, i64, rows_f, rows_i, K_CARD_UPDATED, -1, 0, 0, actor, 0)
    if f64[S_CARD_EMAIL] < f64[F_HORIZON]:
        push(f64, i64, now, URGENT, Q_CARD_START, version, 0, 0.0)  # env.process(card(...))


@njit(cache=True)
def follow_link(f64, i64, rows_f, rows_i, live_until):
    """Engine._follow_link: R10c through a live link (R11): a new method, pay what is open; R6b."""
    if not link_is_live(live_until, f64[S_NOW], i64[S_STATUS], f64[S_STATUS_SINCE]):
        event(f64, i64, rows_f, rows_i, K_LINK_DEAD, -1, 0, 0, A_CUSTOMER_LINK, 0)
        return
    event(f64, i64, rows_f, rows_i, K_LINK_FOLLOWED, -1, 0, 0, A_CUSTOMER_LINK, 0)
    new_method(f64, i64, rows_f, rows_i, A_CUSTOMER_LINK)
    for n in range(i64[S_N_INVOICES]):
        v = I_INVOICES + 8 * n
        if i64[v + V_STATUS] != OPEN:
            continue
        index = draw_index(i64[v + V_PERIOD], i64[I_SLOT_LINK_PAYMENT], i64[I_PER_PERIOD])
        if uniform(i64, P_NEW_METHOD, i64[S_ID], index) < f64[F_NEW_METHOD_SUCCESS]:
            i64[v + V_ATTEMPTS] += 1
            pay(f64, i64, rows_f, rows_i, n, A_CUSTOMER_LINK, i64[v + V_ATTEMPTS], K_PAYMENT_SUCCEEDED)
    if i64[S_ACTIVATION] == ACTIVATION_PENDING:
        i64[S_ACTIVATION] = ACTIVATION_TRIGGERED  # `activation.succeed()`: processed as an event, now
        push(f64, i64, f64[S_NOW], NORMAL, Q_ACTIVATION, 0, 0, 0.0)
