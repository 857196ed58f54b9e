"""The compiled lifecycle: `Engine._lifecycle` and the processes it enters, one function each.

SimPy runs a process from one `yield` to the next; here a process function runs one code block (its
resume points are `layout.L_*`) and returns the block to run next, or L_STOP once it has scheduled its
wake-up. `lifecycle` hands each block to its process. Each function is named like its SimPy twin
(reference/processes.py); `layout.SIMPY_PROCESSES` lists them all.
"""

from __future__ import annotations

import math

from numba import njit

from recovery_sim.simulation.compiled.jit import (
    before_expiry,
    draw_index,
    link_is_live,
    next_confirmation_reminder,
    renewal_reminder_at,
    trial_reminder_at,
)
from recovery_sim.simulation.compiled.layout import (
    A_CUSTOMER,
    A_CUSTOMER_LINK,
    A_CUSTOMER_SELF,
    A_RETRY,
    A_SYSTEM,
    ACTIVATION_PENDING,
    ACTIVATION_TRIGGERED,
    ACTIVE,
    CANCELED,
    E_INVOICE_FINALIZED,
    E_PAYMENT_ACTION_REMINDER,
    E_PAYMENT_ACTION_REQUIRED,
    E_TRIAL_ENDED_PAUSED,
    E_TRIAL_WILL_END,
    E_UPCOMING_RENEWAL,
    F_ACT_DELAY,
    F_BOLETO_EXPIRY,
    F_COHORT_3DS,
    F_COHORT_DUE,
    F_COHORT_RATE,
    F_CONFIRM_STEP,
    F_CONFIRM_UNPROMPTED,
    F_DECLINE_EDGES,
    F_HORIZON,
    F_INVOICES,
    F_NEW_METHOD_SUCCESS,
    F_PLAN_CHURN,
    F_REMINDER_CANCEL,
    F_RENEWAL_DAYS,
    F_RETRY_OFFSETS,
    F_RETRY_SUCCESS,
    F_SPONTANEOUS_DELAY,
    F_SPONTANEOUS_FIX,
    F_THREE_DS_EXPIRY,
    F_TRIAL_CANCEL,
    I_AUTHENTICATION_EXPIRED,
    I_BOLETO,
    I_CARD,
    I_CONFIRM_REMINDERS,
    I_DECLINE_HARD,
    I_DECLINE_IDS,
    I_EXPIRED_CARD,
    I_GENERIC_DECLINE,
    I_INVOICES,
    I_N_DECLINES,
    I_N_RETRIES,
    I_PER_PERIOD,
    I_PLAN_REMINDER,
    I_RETRY_HARD,
    I_SLOT_CONFIRMATION,
    I_SLOT_RENEWAL_REMINDER,
    I_SLOT_TRIAL_PAUSED,
    I_SLOT_TRIAL_REMINDER,
    I_TRIAL_REMINDERS,
    K_PAYMENT_ACTION_REQUIRED,
    K_PAYMENT_EXPIRED,
    K_PAYMENT_SUCCEEDED,
    K_SUBSCRIPTION_ACTIVATED,
    K_SUBSCRIPTION_CREATED,
    K_TRIAL_ENDED,
    L_COLLECT,
    L_CONFIRM_BEGIN,
    L_CONFIRM_EMAIL,
    L_CONFIRM_EXPIRED,
    L_CONFIRM_NEXT,
    L_CONFIRM_WAIT,
    L_CONFIRMED,
    L_DUNNING_BEGIN,
    L_PERIOD_BEGIN,
    L_PERIOD_DONE,
    L_REMINDER,
    L_RENEWAL,
    L_RENEWAL_WAIT,
    L_RETRY,
    L_RETRY_NEXT,
    L_STOP,
    L_TRIAL_BEGIN,
    L_TRIAL_END,
    L_TRIAL_END_WAIT,
    L_TRIAL_REMINDER,
    L_TRIAL_START,
    L_TRIAL_WAITED,
    NORMAL,
    OPEN,
    P_ACT_DELAY,
    P_CHURN,
    P_CONFIRM_DELAY,
    P_CONFIRM_UNPROMPTED,
    P_DECLINE_CODE,
    P_FIRST_ATTEMPT,
    P_NEEDS_CONFIRMATION,
    P_NEW_METHOD,
    P_REMINDER_CANCEL,
    P_RETRY,
    P_SPONTANEOUS_DELAY,
    P_SPONTANEOUS_FIX,
    P_TRIAL_CANCEL,
    PAID,
    PAST_DUE,
    PAUSED,
    Q_DEADLINE,
    Q_FOLLOW_LINK,
    Q_INVOICE_START,
    Q_SELF_UPDATE,
    S_ACTIVATION,
    S_ACTOR,
    S_ANCHOR_DAY,
    S_ANCHOR_FRAC,
    S_CANCEL_AT_END,
    S_CARD_EXPIRES,
    S_COHORT,
    S_CONFIRM_AT,
    S_DECLINE,
    S_EXPIRES,
    S_HARD,
    S_HAS_METHOD,
    S_ID,
    S_INVOICE,
    S_K,
    S_LINKS,
    S_METHOD,
    S_METHOD_UPDATED,
    S_NEW_SIGNUP,
    S_NEXT_AT,
    S_NOW,
    S_PERIOD_END,
    S_PLAN,
    S_RENEW,
    S_SEND_INVOICE,
    S_SIGNUP,
    S_STATUS,
    S_STATUS_SINCE,
    S_STEP,
    S_T0,
    S_TRIAL_DAYS,
    S_TRIAL_END,
    S_WAITING,
    TRIALING,
    UNPAID,
    URGENT,
    V_AMOUNT,
    V_AT_RISK,
    V_ATTEMPTS,
    V_DECLINE,
    V_DUE,
    V_ID,
    V_STATUS,
    VOID,
)
from recovery_sim.simulation.compiled.processes import failed_attempt, schedule_final_notice
from recovery_sim.simulation.compiled.state import (
    boundary,
    cancel,
    close_invoice,
    end_of_dunning,
    ended,
    event,
    exponential,
    new_invoice,
    pay,
    push,
    schedule_at,
    send,
    set_status,
    uniform,
    wait,
)


@njit(cache=True, inline="always")
def trial(f64, i64, rows_f, rows_i, block):
    """Engine._trial (R6): the reminder 7 days before the end; without a method, paused (R6b)."""
    horizon, sid = f64[F_HORIZON], i64[S_ID]
    now, n = f64[S_NOW], i64[S_INVOICE]
    v = I_INVOICES + 8 * n
    if block == L_TRIAL_BEGIN:
        f64[S_TRIAL_END] = f64[S_SIGNUP] + i64[S_TRIAL_DAYS]
        wait(f64, i64, f64[S_SIGNUP], L_TRIAL_START)
        return L_STOP
    if block == L_TRIAL_START:
        start, end = f64[S_SIGNUP], f64[S_TRIAL_END]
        i64[S_STATUS], f64[S_STATUS_SINCE] = TRIALING, start
        f64[S_PERIOD_END] = end  # R11d: during the trial, the current period is the trial itself
        event(f64, i64, rows_f, rows_i, K_SUBSCRIPTION_CREATED, -1, 0, 0, A_SYSTEM, 0)
        f64[S_LINKS] = -math.inf
        block = L_TRIAL_END_WAIT
        if i64[I_TRIAL_REMINDERS] == 1:  # rules.trial_reminder_at (R6a)
            reminder = trial_reminder_at(start, end)
            if not math.isnan(reminder) and reminder < horizon:
                wait(f64, i64, reminder, L_TRIAL_REMINDER)
                return L_STOP
        return block
    if block == L_TRIAL_REMINDER:
        end = f64[S_TRIAL_END]
        sent, acts, live = send(
            f64, i64, rows_f, rows_i, E_TRIAL_WILL_END, -1, end, end, i64[I_SLOT_TRIAL_REMINDER], 0, False
        )
        if sent and acts and i64[S_HAS_METHOD] == 0:
            f64[S_LINKS] = max(f64[S_LINKS], live)
            delay = exponential(i64, P_ACT_DELAY, sid, i64[I_SLOT_TRIAL_REMINDER], f64[F_ACT_DELAY])
            schedule_at(f64, i64, now + delay, Q_FOLLOW_LINK, 0, live)
        return L_TRIAL_END_WAIT
    if block == L_TRIAL_END_WAIT:
        if f64[S_TRIAL_END] < horizon:
            wait(f64, i64, f64[S_TRIAL_END], L_TRIAL_END)
        return L_STOP
    if block == L_TRIAL_END:
        event(f64, i64, rows_f, rows_i, K_TRIAL_ENDED, -1, 0, 0, A_SYSTEM, 0)
        if i64[S_HAS_METHOD] == 1:
            if uniform(i64, P_TRIAL_CANCEL, sid, 0) < f64[F_TRIAL_CANCEL]:
                cancel(f64, i64, rows_f, rows_i, A_CUSTOMER)
                return L_STOP
            i64[S_STATUS], i64[S_K] = ACTIVE, 0
            return L_PERIOD_BEGIN
        # R6b: paused; the first invoice waits for a method added on the hosted page.
        n = new_invoice(f64, i64, rows_f, rows_i, 0)
        v = I_INVOICES + 8 * n
        i64[S_INVOICE], i64[v + V_AT_RISK] = n, 1
        set_status(f64, i64, rows_f, rows_i, PAUSED, A_SYSTEM)  # rules.status_at_trial_end(False)
        i64[S_ACTIVATION] = ACTIVATION_PENDING
        sent, acts, live = send(
            f64,
            i64,
            rows_f,
            rows_i,
            E_TRIAL_ENDED_PAUSED,
            i64[v + V_ID],
            math.inf,
            f64[S_TRIAL_END],
            i64[I_SLOT_TRIAL_PAUSED],
            1,
            False,
        )
        if sent and acts:
            f64[S_LINKS] = max(f64[S_LINKS], live)
            delay = exponential(i64, P_ACT_DELAY, sid, i64[I_SLOT_TRIAL_PAUSED], f64[F_ACT_DELAY])
            schedule_at(f64, i64, now + delay, Q_FOLLOW_LINK, 0, live)
        deadline = min(now if f64[S_LINKS] == -math.inf else f64[S_LINKS], horizon)
        if deadline > now:  # `yield activation | timeout_at(deadline)`
            i64[S_WAITING] = 1
            push(f64, i64, deadline, NORMAL, Q_DEADLINE, 0, 0, 0.0)
            return L_STOP
        return L_TRIAL_WAITED
    if block == L_TRIAL_WAITED:
        if i64[S_ACTIVATION] != ACTIVATION_TRIGGERED or i64[v + V_STATUS] != PAID:
            if i64[v + V_STATUS] == OPEN:
                close_invoice(f64, i64, rows_f, rows_i, n, VOID)
            return L_STOP
        set_status(f64, i64, rows_f, rows_i, ACTIVE, A_CUSTOMER_LINK)
        event(f64, i64, rows_f, rows_i, K_SUBSCRIPTION_ACTIVATED, -1, 0, 0, A_CUSTOMER_LINK, 0)
        i64[S_ANCHOR_DAY] = int(math.floor(now))  # activation re-anchors billing
        f64[S_ANCHOR_FRAC] = now - i64[S_ANCHOR_DAY]
        i64[S_K] = 1
        return L_PERIOD_BEGIN
    raise RuntimeError("unknown trial block")


@njit(cache=True, inline="always")
def period(f64, i64, rows_f, rows_i, block):
    """Engine._period: one billing period, its R7 reminder and the renewal that opens its invoice."""
    horizon, sid = f64[F_HORIZON], i64[S_ID]
    now, k, n = f64[S_NOW], i64[S_K], i64[S_INVOICE]
    v = I_INVOICES + 8 * n
    if block == L_PERIOD_BEGIN:
        renew = boundary(f64, i64, k)
        period_start = boundary(f64, i64, k - 1) if k > 0 else f64[S_SIGNUP]
        f64[S_RENEW], f64[S_PERIOD_END] = renew, renew
        i64[S_NEW_SIGNUP] = 1 if k == 0 and f64[S_SIGNUP] >= 0 and i64[S_TRIAL_DAYS] == 0 else 0
        block = L_RENEWAL_WAIT
        if k > 0 and i64[I_PLAN_REMINDER + i64[S_PLAN]] == 1:  # rules.renewal_reminder_at (R7a)
            reminder = renewal_reminder_at(period_start, renew, f64[F_RENEWAL_DAYS])
            if 0.0 <= reminder < horizon:
                wait(f64, i64, reminder, L_REMINDER)
                return L_STOP
        return block
    if block == L_REMINDER:
        if ended(i64):
            return L_STOP
        renew = f64[S_RENEW]
        index = draw_index(k, i64[I_SLOT_RENEWAL_REMINDER], i64[I_PER_PERIOD])
        sent, acts, live = send(
            f64, i64, rows_f, rows_i, E_UPCOMING_RENEWAL, -1, renew, math.nan, index, 0, False
        )
        if sent:  # R7: the reminder can prompt a cancellation or a card update
            if uniform(i64, P_REMINDER_CANCEL, sid, k) < f64[F_REMINDER_CANCEL]:
                i64[S_CANCEL_AT_END] = 1
            if acts and f64[S_CARD_EXPIRES] <= renew:
                delay = exponential(i64, P_ACT_DELAY, sid, index, f64[F_ACT_DELAY])
                schedule_at(f64, i64, now + delay, Q_FOLLOW_LINK, 0, live)
        return L_RENEWAL_WAIT
    if block == L_RENEWAL_WAIT:
        if f64[S_RENEW] < horizon:
            wait(f64, i64, f64[S_RENEW], L_RENEWAL)
        return L_STOP
    if block == L_RENEWAL:
        if ended(i64):
            return L_STOP
        if i64[S_CANCEL_AT_END] == 1:
            cancel(f64, i64, rows_f, rows_i, A_CUSTOMER)
            return L_STOP
        if k > 0 and uniform(i64, P_CHURN, sid, k) < f64[F_PLAN_CHURN + i64[S_PLAN]]:
            cancel(f64, i64, rows_f, rows_i, A_CUSTOMER)
            return L_STOP
        if i64[S_NEW_SIGNUP] == 1:
            event(f64, i64, rows_f, rows_i, K_SUBSCRIPTION_CREATED, -1, 0, 0, A_SYSTEM, 0)
        f64[S_PERIOD_END] = boundary(f64, i64, k + 1)  # R11d: links end with the period the invoice opens
        n = new_invoice(f64, i64, rows_f, rows_i, k)
        v = I_INVOICES + 8 * n
        i64[S_INVOICE] = n
        if i64[S_SEND_INVOICE] == 1:
            f64[F_INVOICES + 4 * n + V_DUE] = now + f64[F_COHORT_DUE + i64[S_COHORT]]
            push(f64, i64, now, URGENT, Q_INVOICE_START, n, 0, 0.0)  # env.process(send_invoice(...))
            i64[S_K] = k + 1
            return L_PERIOD_BEGIN
        send(
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
            pay(f64, i64, rows_f, rows_i, n, A_SYSTEM, 1, K_PAYMENT_SUCCEEDED)
            i64[S_K] = k + 1
            return L_PERIOD_BEGIN
        return L_COLLECT
    if block == L_PERIOD_DONE:
        if i64[S_STATUS] == CANCELED or i64[S_STATUS] == UNPAID:
            return L_STOP
        i64[S_K] = k + 1
        return L_PERIOD_BEGIN
    raise RuntimeError("unknown period block")


@njit(cache=True, inline="always")
def collect(f64, i64, rows_f, rows_i, block):
    """Engine._collect with _first_attempt: the renewal's first automatic attempt."""
    sid = i64[S_ID]
    now, k, n = f64[S_NOW], i64[S_K], i64[S_INVOICE]
    v = I_INVOICES + 8 * n
    if block == L_COLLECT:
        method = i64[S_METHOD]
        confirm, decline = False, 0
        if method == i64[I_BOLETO]:
            confirm = True
        elif method == i64[I_CARD] and f64[S_CARD_EXPIRES] <= now:
            decline = i64[I_EXPIRED_CARD]
        elif uniform(i64, P_FIRST_ATTEMPT, sid, k) < f64[F_COHORT_RATE + i64[S_COHORT]]:
            u = uniform(i64, P_DECLINE_CODE, sid, k)
            pick = 0
            while pick < i64[I_N_DECLINES] and f64[F_DECLINE_EDGES + pick] <= u:  # searchsorted(side="right")
                pick += 1
            decline = i64[I_DECLINE_IDS + min(pick, i64[I_N_DECLINES] - 1)]
        elif method == i64[I_CARD] and (
            uniform(i64, P_NEEDS_CONFIRMATION, sid, k) < f64[F_COHORT_3DS + i64[S_COHORT]]
        ):
            confirm = True
        i64[v + V_ATTEMPTS] = 1
        if not confirm and decline == 0:
            pay(f64, i64, rows_f, rows_i, n, A_SYSTEM, 1, K_PAYMENT_SUCCEEDED)
            return L_PERIOD_DONE
        i64[v + V_AT_RISK] = 1
        f64[S_T0] = now
        i64[S_DECLINE] = decline
        return L_CONFIRM_BEGIN if confirm else L_DUNNING_BEGIN
    raise RuntimeError("unknown collect block")


@njit(cache=True, inline="always")
def confirmation(f64, i64, rows_f, rows_i, block):
    """Engine._confirmation (R8): 3-D Secure or Boleto, confirmed or expired into end of dunning."""
    horizon, sid = f64[F_HORIZON], i64[S_ID]
    now, k, n = f64[S_NOW], i64[S_K], i64[S_INVOICE]
    v = I_INVOICES + 8 * n
    if block == L_CONFIRM_BEGIN:
        method = i64[S_METHOD]
        boleto = method == i64[I_BOLETO]
        expires = now + (f64[F_BOLETO_EXPIRY] if boleto else f64[F_THREE_DS_EXPIRY])
        f64[S_EXPIRES] = expires
        event(
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
        if uniform(i64, P_CONFIRM_UNPROMPTED, sid, k) < f64[F_CONFIRM_UNPROMPTED]:
            f64[S_CONFIRM_AT] = now + exponential(i64, P_CONFIRM_DELAY, sid, k, (expires - now) / 2)
        i64[S_ACTOR], i64[S_STEP], f64[S_NEXT_AT] = A_CUSTOMER_SELF, 0, now
        return L_CONFIRM_NEXT
    if block == L_CONFIRM_NEXT:
        step, when = i64[S_STEP], f64[S_NEXT_AT]
        more = step == 0 or (i64[I_CONFIRM_REMINDERS] == 1 and before_expiry(when, f64[S_EXPIRES]))
        if more and when < f64[S_CONFIRM_AT] and when < horizon:
            wait(f64, i64, when, L_CONFIRM_EMAIL)
            return L_STOP
        return L_CONFIRM_WAIT
    if block == L_CONFIRM_EMAIL:
        if i64[v + V_STATUS] != OPEN:
            block = L_PERIOD_DONE  # paid meanwhile through another live link (R10c)
            return block
        step, when = i64[S_STEP], f64[S_NEXT_AT]
        index = draw_index(k, i64[I_SLOT_CONFIRMATION] + step, i64[I_PER_PERIOD])
        email_type = E_PAYMENT_ACTION_REQUIRED if step == 0 else E_PAYMENT_ACTION_REMINDER
        period_end = min(f64[S_EXPIRES], f64[S_PERIOD_END])
        sent, acts, live = send(
            f64, i64, rows_f, rows_i, email_type, i64[v + V_ID], period_end, math.nan, index, step, False
        )
        if sent and acts:
            at = when + exponential(i64, P_ACT_DELAY, sid, index, f64[F_ACT_DELAY])
            if at < f64[S_CONFIRM_AT] and link_is_live(live, at, i64[S_STATUS], f64[S_STATUS_SINCE]):
                f64[S_CONFIRM_AT], i64[S_ACTOR] = at, A_CUSTOMER_LINK
        # rules.confirmation_reminder_times: every `step` days after the request, before expiry.
        f64[S_NEXT_AT] = next_confirmation_reminder(f64[S_T0] if step == 0 else when, f64[F_CONFIRM_STEP])
        i64[S_STEP] = step + 1
        return L_CONFIRM_NEXT
    if block == L_CONFIRM_WAIT:
        confirm_at, expires = f64[S_CONFIRM_AT], f64[S_EXPIRES]
        if confirm_at < expires and confirm_at < horizon:
            wait(f64, i64, confirm_at, L_CONFIRMED)
        elif expires < horizon:
            wait(f64, i64, expires, L_CONFIRM_EXPIRED)
        return L_STOP  # else it waits for the horizon, which never comes
    if block == L_CONFIRMED:
        if i64[v + V_STATUS] == OPEN:
            pay(f64, i64, rows_f, rows_i, n, i64[S_ACTOR], 1, K_PAYMENT_SUCCEEDED)
        return L_PERIOD_DONE
    if block == L_CONFIRM_EXPIRED:
        if i64[v + V_STATUS] == OPEN:
            expired = i64[I_AUTHENTICATION_EXPIRED]
            i64[v + V_DECLINE] = expired
            event(
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
            set_status(f64, i64, rows_f, rows_i, PAST_DUE, A_SYSTEM)
            end_of_dunning(f64, i64, rows_f, rows_i)
        return L_PERIOD_DONE
    raise RuntimeError("unknown confirmation block")


@njit(cache=True, inline="always")
def dunning(f64, i64, rows_f, rows_i, block):
    """Engine._dunning: retries on the policy's schedule, R4 emails, the end-of-dunning action."""
    sid = i64[S_ID]
    now, k, n = f64[S_NOW], i64[S_K], i64[S_INVOICE]
    v = I_INVOICES + 8 * n
    if block == L_DUNNING_BEGIN:
        decline = i64[S_DECLINE]
        i64[v + V_DECLINE] = decline
        set_status(f64, i64, rows_f, rows_i, PAST_DUE, A_SYSTEM)
        failed_attempt(f64, i64, rows_f, rows_i, n, decline, 1, False)
        schedule_final_notice(f64, i64, n)
        if uniform(i64, P_SPONTANEOUS_FIX, sid, k) < f64[F_SPONTANEOUS_FIX]:
            delay = exponential(i64, P_SPONTANEOUS_DELAY, sid, k, f64[F_SPONTANEOUS_DELAY])
            schedule_at(f64, i64, now + delay, Q_SELF_UPDATE, 0, 0.0)
        i64[S_HARD] = 1 if i64[I_DECLINE_HARD + decline] == 1 and i64[I_RETRY_HARD] == 0 else 0
        i64[S_STEP] = 0
        return L_RETRY_NEXT
    if block == L_RETRY_NEXT:
        if i64[S_STEP] < i64[I_N_RETRIES]:
            wait(f64, i64, f64[S_T0] + f64[F_RETRY_OFFSETS + i64[S_STEP]], L_RETRY)
            return L_STOP
        if i64[v + V_STATUS] == OPEN and not ended(i64):
            end_of_dunning(f64, i64, rows_f, rows_i)
        return L_PERIOD_DONE
    if block == L_RETRY:
        if i64[v + V_STATUS] != OPEN or ended(i64):
            return L_PERIOD_DONE
        attempt = i64[S_STEP] + 2
        i64[S_STEP] += 1
        t0 = f64[S_T0]
        block = L_RETRY_NEXT
        if i64[S_HARD] == 1 and f64[S_METHOD_UPDATED] <= t0:
            return block  # no retry on a hard decline until the customer gives a new method
        i64[v + V_ATTEMPTS] = attempt
        decline = i64[S_DECLINE]
        index = draw_index(k, attempt, i64[I_PER_PERIOD])
        if f64[S_METHOD_UPDATED] > t0:
            success = uniform(i64, P_NEW_METHOD, sid, index) < f64[F_NEW_METHOD_SUCCESS]
            decline = 0 if success else i64[I_GENERIC_DECLINE]
        elif i64[S_METHOD] == i64[I_CARD] and f64[S_CARD_EXPIRES] <= now:
            success, decline = False, i64[I_EXPIRED_CARD]
        else:
            success = uniform(i64, P_RETRY, sid, index) < f64[F_RETRY_SUCCESS + decline]
        if success:
            pay(f64, i64, rows_f, rows_i, n, A_RETRY, attempt, K_PAYMENT_SUCCEEDED)
            return L_PERIOD_DONE
        failed_attempt(f64, i64, rows_f, rows_i, n, decline, attempt, attempt == i64[I_N_RETRIES] + 1)
        i64[S_DECLINE] = decline
        return block
    raise RuntimeError("unknown dunning block")


@njit(cache=True)
def lifecycle(f64, i64, rows_f, rows_i, block):
    """Engine._lifecycle: from `block`, each block by the process it belongs to, until the next wait.

    A SimPy process's `yield from` another becomes a hand-over: a process returns the block to run
    next (of its own or of the process it enters or returns to), or L_STOP once a wait is scheduled.
    """
    while block != L_STOP:
        if block < L_PERIOD_BEGIN:
            block = trial(f64, i64, rows_f, rows_i, block)
        elif block < L_COLLECT:
            block = period(f64, i64, rows_f, rows_i, block)
        elif block == L_COLLECT:
            block = collect(f64, i64, rows_f, rows_i, block)
        elif block < L_DUNNING_BEGIN:
            block = confirmation(f64, i64, rows_f, rows_i, block)
        else:
            block = dunning(f64, i64, rows_f, rows_i, block)
