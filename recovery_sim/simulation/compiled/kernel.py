"""The compiled fast path: the SimPy model of `engine.py`, run for one customer at a time.

Why: a run of a million customers must cost less than SimPy needs to tick each customer-month once
(docs/performance.md). Customers never interact and every draw is keyed, so each customer can be
simulated alone, start to finish, by compiled code.

How it stays the same model: each SimPy process has its compiled twin (lifecycle.py, processes.py),
the domain's formulas are the very functions the SimPy side calls (compiled in jit.py), and a small
per-customer queue orders the wake-ups exactly as SimPy's heap does: by time, then priority (a new
process starts before any other event at the same instant), then scheduling order.
`tests/simulation/test_fast_path.py` proves the frames equal the SimPy reference path's, bit for bit.
"""

from __future__ import annotations

import math

from numba import njit

from recovery_sim.simulation.compiled.layout import (
    A_CUSTOMER_SELF,
    ACTIVE,
    C_ANCHOR_DAY,
    C_ANCHOR_FRAC,
    C_CARD_EMAIL_AT,
    C_CARD_EXPIRES_AT,
    C_CARD_PROCESS,
    C_COHORT,
    C_FIRST_PERIOD,
    C_ID,
    C_METHOD,
    C_NO_METHOD,
    C_PLAN,
    C_RECIPIENT,
    C_SEND_INVOICE,
    C_SIGNUP_AT,
    C_TRIAL_DAYS,
    F_HORIZON,
    F_QUEUE_ARG,
    F_QUEUE_AT,
    F_STATE,
    I_QUEUE,
    I_STATE,
    INVOICE_BEGIN,
    L_PERIOD_BEGIN,
    L_TRIAL_BEGIN,
    L_TRIAL_WAITED,
    MAX_INVOICES,
    NORMAL,
    Q_A,
    Q_ACTIVATION,
    Q_B,
    Q_CARD,
    Q_CARD_SELF_UPDATE,
    Q_CARD_START,
    Q_CONDITION,
    Q_DEADLINE,
    Q_FINAL_NOTICE,
    Q_FOLLOW_LINK,
    Q_INVOICE,
    Q_INVOICE_START,
    Q_LIFE,
    Q_SELF_UPDATE,
    Q_WHAT,
    QUEUE,
    S_ANCHOR_DAY,
    S_ANCHOR_FRAC,
    S_CARD_EMAIL,
    S_CARD_EXPIRES,
    S_CARD_VERSION,
    S_COHORT,
    S_EMAILS,
    S_EVENTS,
    S_HAS_METHOD,
    S_ID,
    S_INVOICE_ROWS,
    S_K,
    S_METHOD,
    S_METHOD_UPDATED,
    S_NOW,
    S_PERIOD_END,
    S_PLAN,
    S_RECIPIENT,
    S_SEND_INVOICE,
    S_SIGNUP,
    S_STATUS,
    S_STATUS_SINCE,
    S_TRIAL_DAYS,
    S_WAITING,
)
from recovery_sim.simulation.compiled.lifecycle import lifecycle
from recovery_sim.simulation.compiled.processes import card, final_notice, send_invoice
from recovery_sim.simulation.compiled.state import (
    ended,
    flush_invoices,
    follow_link,
    new_method,
    pop,
    push,
)


@njit(cache=True)
def customer(f64, i64, rows_f, rows_i, cust_i, cust_f, j):
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
    trialing = cust_i[C_TRIAL_DAYS, j] > 0 and cust_i[C_FIRST_PERIOD, j] == 0
    lifecycle(f64, i64, rows_f, rows_i, L_TRIAL_BEGIN if trialing else L_PERIOD_BEGIN)
    if cust_i[C_CARD_PROCESS, j] == 1:
        push(f64, i64, f64[S_CARD_EMAIL], NORMAL, Q_CARD, 0, 0, 0.0)
    while True:
        slot = pop(f64, i64)
        if slot < 0 or f64[F_QUEUE_AT + slot] >= f64[F_HORIZON]:
            break  # SimPy's run(until=horizon) stops before anything at the horizon
        q = I_QUEUE + 5 * slot
        what, a, b, x = i64[q + Q_WHAT], i64[q + Q_A], i64[q + Q_B], f64[F_QUEUE_ARG + slot]
        i64[q + Q_WHAT] = 0
        f64[S_NOW] = f64[F_QUEUE_AT + slot]
        if what == Q_LIFE:
            lifecycle(f64, i64, rows_f, rows_i, a)
        elif what == Q_CARD_START:
            if i64[S_CARD_VERSION] == a:
                push(f64, i64, f64[S_CARD_EMAIL], NORMAL, Q_CARD, a, 0, 0.0)
        elif what == Q_CARD:
            card(f64, i64, rows_f, rows_i, a, b)
        elif what == Q_INVOICE_START:
            send_invoice(f64, i64, rows_f, rows_i, a, INVOICE_BEGIN)
        elif what == Q_INVOICE:
            send_invoice(f64, i64, rows_f, rows_i, a, b)
        elif what == Q_FINAL_NOTICE:
            final_notice(f64, i64, rows_f, rows_i, a, x)
        elif what == Q_FOLLOW_LINK:
            follow_link(f64, i64, rows_f, rows_i, x)
        elif what == Q_SELF_UPDATE:
            if not ended(i64):
                new_method(f64, i64, rows_f, rows_i, A_CUSTOMER_SELF)
        elif what == Q_CARD_SELF_UPDATE:
            if i64[S_CARD_VERSION] == a and not ended(i64):
                new_method(f64, i64, rows_f, rows_i, A_CUSTOMER_SELF)
        elif what == Q_ACTIVATION or what == Q_DEADLINE:
            if i64[S_WAITING] == 1:  # the AnyOf condition triggers once, then resumes the lifecycle
                i64[S_WAITING] = 0
                push(f64, i64, f64[S_NOW], NORMAL, Q_CONDITION, 0, 0, 0.0)
        elif what == Q_CONDITION:
            lifecycle(f64, i64, rows_f, rows_i, L_TRIAL_WAITED)
    flush_invoices(f64, i64, rows_f, rows_i)
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
        status[j] = customer(f64, i64, rows_f, rows_i, cust_i, cust_f, j)
        j += 1
    return j
