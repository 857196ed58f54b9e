"""The compiled processes the queue starts beside the lifecycle: a card's (R9) and a send_invoice
invoice's (R5), the failed attempt that dunning shares with the first attempt, and the final notice
(the R4 escalation dunning schedules).

Each is named like its SimPy twin (reference/processes.py); the lifecycle's are in lifecycle.py.
"""

from __future__ import annotations

import math

from numba import njit

from recovery_sim.simulation.compiled.jit import (
    draw_index,
    dunning_ends_at,
    final_notice_at,
    final_notice_due,
    invoice_reminder_at,
    payment_failed_email_due,
)
from recovery_sim.simulation.compiled.layout import (
    A_CARD_UPDATER,
    A_CUSTOMER,
    A_RETRY,
    A_SYSTEM,
    CANCELED,
    E_CARD_EXPIRING,
    E_FINAL_NOTICE,
    E_INVOICE_FINALIZED,
    E_INVOICE_REMINDER,
    E_PAYMENT_FAILED,
    END_LEAVE_PAST_DUE,
    F_ACT_DELAY,
    F_CARD_SELF_UPDATE,
    F_CARD_UPDATER,
    F_FINAL_NOTICE_DAYS,
    F_HORIZON,
    F_INVOICE_REMINDERS,
    F_INVOICES,
    F_PAY_DELAY,
    F_PAY_SHARE,
    F_RETRY_OFFSETS,
    F_WRITE_OFF,
    I_CARD,
    I_CARD_INDEX,
    I_END_ACTION,
    I_FINAL_NOTICE,
    I_INVOICE_REMINDERS,
    I_INVOICES,
    I_N_INVOICE_REMINDERS,
    I_N_RETRIES,
    I_PAYMENT_FAILED,
    I_PER_PERIOD,
    I_SLOT_FINAL_NOTICE,
    I_SLOT_INVOICE_REMINDER,
    INVOICE_BEGIN,
    INVOICE_SETTLE,
    K_CARD_EXPIRED,
    K_INVOICE_PAID,
    K_PAYMENT_FAILED,
    NORMAL,
    OPEN,
    P_ACT_DELAY,
    P_CARD_SELF_UPDATE,
    P_CARD_UPDATER,
    P_INVOICE_PAY,
    P_INVOICE_PAY_DELAY,
    P_SPONTANEOUS_DELAY,
    Q_CARD,
    Q_CARD_SELF_UPDATE,
    Q_FINAL_NOTICE,
    Q_FOLLOW_LINK,
    Q_INVOICE,
    S_CARD_EMAIL,
    S_CARD_EXPIRES,
    S_CARD_VERSION,
    S_HAS_METHOD,
    S_ID,
    S_METHOD,
    S_NOW,
    S_PERIOD_END,
    S_SEND_INVOICE,
    S_STATUS,
    S_T0,
    UNCOLLECTIBLE,
    V_AMOUNT,
    V_ATTEMPTS,
    V_DUE,
    V_ID,
    V_PAY_AT,
    V_PERIOD,
    V_STATUS,
)
from recovery_sim.simulation.compiled.state import (
    close_invoice,
    end_of_dunning,
    ended,
    event,
    exponential,
    new_method,
    pay,
    push,
    schedule_at,
    send,
    uniform,
)


@njit(cache=True)
def failed_attempt(f64, i64, rows_f, rows_i, n, decline, attempt, last):
    """Engine._failed_attempt: the failure, the R4 email, the customer's reaction."""
    v = I_INVOICES + 8 * n
    actor = A_RETRY if attempt > 1 else A_SYSTEM
    event(
        f64, i64, rows_f, rows_i, K_PAYMENT_FAILED, i64[v + V_ID], i64[v + V_AMOUNT], decline, actor, attempt
    )
    if not payment_failed_email_due(
        i64[I_PAYMENT_FAILED] == 1, i64[S_SEND_INVOICE] == 1, i64[S_METHOD] == i64[I_CARD]
    ):
        return
    index = draw_index(i64[v + V_PERIOD], attempt, i64[I_PER_PERIOD])
    link_dies = last and i64[I_END_ACTION] != END_LEAVE_PAST_DUE
    period_end = f64[S_NOW] if link_dies else f64[S_PERIOD_END]
    sent, acts, live = send(
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
        delay = exponential(i64, P_ACT_DELAY, i64[S_ID], index, f64[F_ACT_DELAY])
        schedule_at(f64, i64, f64[S_NOW] + delay, Q_FOLLOW_LINK, 0, live)


@njit(cache=True)
def schedule_final_notice(f64, i64, n):
    """Engine._dunning after the first failure at t0: the final notice at `rules.final_notice_at`."""
    due = final_notice_due(
        i64[I_FINAL_NOTICE] == 1,
        i64[I_END_ACTION] != END_LEAVE_PAST_DUE,  # rules.end_action_kills_links
        i64[S_SEND_INVOICE] == 1,
        i64[S_METHOD] == i64[I_CARD],
    )
    if not due:
        return
    t0, retries = f64[S_T0], i64[I_N_RETRIES]
    ends = dunning_ends_at(t0, f64[F_RETRY_OFFSETS + retries - 1] if retries > 0 else 0.0)
    at = final_notice_at(ends, f64[F_FINAL_NOTICE_DAYS], t0)
    if not math.isnan(at):
        schedule_at(f64, i64, at, Q_FINAL_NOTICE, n, ends)


@njit(cache=True)
def final_notice(f64, i64, rows_f, rows_i, n, dunning_ends):
    """Engine._final_notice: the R4 escalation while the invoice is open and the subscription runs."""
    v = I_INVOICES + 8 * n
    if i64[v + V_STATUS] != OPEN or ended(i64):
        return
    index = draw_index(i64[v + V_PERIOD], i64[I_SLOT_FINAL_NOTICE], i64[I_PER_PERIOD])
    period_end = min(f64[S_PERIOD_END], dunning_ends)  # rules.foreseen_link_deadline: R11b at the end
    r4_emails = payment_failed_email_due(
        i64[I_PAYMENT_FAILED] == 1, i64[S_SEND_INVOICE] == 1, i64[S_METHOD] == i64[I_CARD]
    )
    earlier = i64[v + V_ATTEMPTS] if r4_emails else 0
    sent, acts, live = send(
        f64, i64, rows_f, rows_i, E_FINAL_NOTICE, i64[v + V_ID], period_end, math.nan, index, earlier, False
    )
    if sent and acts:
        delay = exponential(i64, P_ACT_DELAY, i64[S_ID], index, f64[F_ACT_DELAY])
        schedule_at(f64, i64, f64[S_NOW] + delay, Q_FOLLOW_LINK, 0, live)


@njit(cache=True)
def card(f64, i64, rows_f, rows_i, version, stage):
    """Engine._card: R9 a month before the card expires, then the updater or an expired card."""
    if i64[S_CARD_VERSION] != version:
        return  # a replaced card's process ends at its next wake-up, doing nothing
    sid, index = i64[S_ID], i64[I_CARD_INDEX] + version
    email_at, expires = f64[S_CARD_EMAIL], f64[S_CARD_EXPIRES]
    if stage == 0:
        if ended(i64) or i64[S_HAS_METHOD] == 0:
            return  # R9 is about a saved card: a trial without a payment method has none
        sent, acts, live = send(
            f64, i64, rows_f, rows_i, E_CARD_EXPIRING, -1, f64[S_PERIOD_END], math.nan, index, 0, False
        )
        if sent and acts:
            delay = exponential(i64, P_ACT_DELAY, sid, index, f64[F_ACT_DELAY])
            schedule_at(f64, i64, f64[S_NOW] + delay, Q_FOLLOW_LINK, 0, live)
        if uniform(i64, P_CARD_SELF_UPDATE, sid, index) < f64[F_CARD_SELF_UPDATE]:
            when = email_at + uniform(i64, P_SPONTANEOUS_DELAY, sid, index) * (expires - email_at)
            schedule_at(f64, i64, when, Q_CARD_SELF_UPDATE, version, 0.0)
        if expires < f64[F_HORIZON]:
            push(f64, i64, expires, NORMAL, Q_CARD, version, 1, 0.0)
        return
    if ended(i64):
        return
    if uniform(i64, P_CARD_UPDATER, sid, index) < f64[F_CARD_UPDATER]:
        new_method(f64, i64, rows_f, rows_i, A_CARD_UPDATER)
    else:
        event(f64, i64, rows_f, rows_i, K_CARD_EXPIRED, -1, 0, 0, A_SYSTEM, 0)


@njit(cache=True)
def invoice_next(f64, i64, n, r):
    """Engine._send_invoice between wake-ups: the next R5 reminder, else payment or write-off."""
    f = F_INVOICES + 4 * n
    due, pay_at = f64[f + V_DUE], f64[f + V_PAY_AT]
    write_off = due + f64[F_WRITE_OFF]
    if i64[I_INVOICE_REMINDERS] == 1 and r < i64[I_N_INVOICE_REMINDERS]:  # rules.invoice_reminder_times
        when = invoice_reminder_at(due, f64[F_INVOICE_REMINDERS + r])
        if when < pay_at and when < write_off and when < f64[F_HORIZON]:
            push(f64, i64, when, NORMAL, Q_INVOICE, n, r, 0.0)
            return
    settle = min(pay_at, write_off)
    if settle < f64[F_HORIZON]:
        push(f64, i64, settle, NORMAL, Q_INVOICE, n, INVOICE_SETTLE, 0.0)


@njit(cache=True)
def send_invoice(f64, i64, rows_f, rows_i, n, r):
    """Engine._send_invoice (R5): the invoice itself, reminders until settled, payment or write-off."""
    v, f = I_INVOICES + 8 * n, F_INVOICES + 4 * n
    sid, k, due = i64[S_ID], i64[v + V_PERIOD], f64[f + V_DUE]
    if r == INVOICE_BEGIN:  # the process starts: the invoice email, always sent
        send(f64, i64, rows_f, rows_i, E_INVOICE_FINALIZED, i64[v + V_ID], due, math.nan, -1, 0, True)
        if uniform(i64, P_INVOICE_PAY, sid, k) < f64[F_PAY_SHARE]:
            f64[f + V_PAY_AT] = f64[S_NOW] + exponential(i64, P_INVOICE_PAY_DELAY, sid, k, f64[F_PAY_DELAY])
        invoice_next(f64, i64, n, 0)
        return
    if r == INVOICE_SETTLE:
        if i64[v + V_STATUS] != OPEN:
            return
        if f64[f + V_PAY_AT] <= due + f64[F_WRITE_OFF] and i64[S_STATUS] != CANCELED:
            pay(f64, i64, rows_f, rows_i, n, A_CUSTOMER, 1, K_INVOICE_PAID)
            return
        close_invoice(f64, i64, rows_f, rows_i, n, UNCOLLECTIBLE)
        if not ended(i64):
            end_of_dunning(f64, i64, rows_f, rows_i)
        return
    if i64[v + V_STATUS] != OPEN or i64[S_STATUS] == CANCELED:
        return
    index = draw_index(k, i64[I_SLOT_INVOICE_REMINDER] + r, i64[I_PER_PERIOD])
    sent, acts, _live = send(
        f64, i64, rows_f, rows_i, E_INVOICE_REMINDER, i64[v + V_ID], due, math.nan, index, r, False
    )
    if sent and acts:
        when = invoice_reminder_at(due, f64[F_INVOICE_REMINDERS + r])
        f64[f + V_PAY_AT] = min(
            f64[f + V_PAY_AT], when + exponential(i64, P_ACT_DELAY, sid, index, f64[F_ACT_DELAY])
        )
    invoice_next(f64, i64, n, r + 1)
