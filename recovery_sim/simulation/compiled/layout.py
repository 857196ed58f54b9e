"""The compiled engine's memory layout and integer codes, each declared once by name.

Everything the kernel reads and keeps lives in two arrays, `f64` (float64) and `i64` (int64): the run's
settings, then one customer's state. Rows go to `rows_f` and `rows_i`. Few arrays, because every array a
compiled call passes costs two atomic reference-count updates (half the run time with 30 of them).
The settings part is filled by the driver from `tables.RunTables`, field by field under these names.
"""

from __future__ import annotations

import numpy as np

from recovery_sim.domain.enums import Actor, EmailType, EventKind, InvoiceStatus, SubscriptionStatus
from recovery_sim.settings.config import MAX_INVOICE_REMINDERS
from recovery_sim.simulation.events import ACTOR, EMAIL, KIND, STATUS
from recovery_sim.simulation.rng import Purpose

# ------------------------------------------------------- integer codes (the recorder's, events.py)
_STATUSES = list(SubscriptionStatus)
TRIALING = _STATUSES.index(SubscriptionStatus.TRIALING)
ACTIVE = _STATUSES.index(SubscriptionStatus.ACTIVE)
PAST_DUE = _STATUSES.index(SubscriptionStatus.PAST_DUE)
UNPAID = _STATUSES.index(SubscriptionStatus.UNPAID)
CANCELED = _STATUSES.index(SubscriptionStatus.CANCELED)
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
E_FINAL_NOTICE = EMAIL[EmailType.FINAL_NOTICE]

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

# Draw purposes (the keyed-draw slots are the run's `slots.SlotLayout`, in the settings below).
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
MAX_PLANS, MAX_COHORTS, MAX_DECLINES, MAX_RETRIES = 1024, 256, 64, 16
MAX_INVOICES = 96  # per customer: a 60-month horizon has at most 66 periods
QUEUE = 32  # per-customer wake-ups waiting at once
TYPES, RECIPIENTS = 16, 4  # room for the email types and recipient kinds
SCALARS = 32  # room for the scalar settings at the start of f64 and of i64


class OutOfRoom(RuntimeError):
    """A customer needs more room than the kernel's fixed tables hold (an extreme scenario)."""


def _offsets(scalars: tuple[str, ...], tables: tuple[tuple[str, int], ...]) -> tuple[dict[str, int], int]:
    """Each name's offset: scalars from 0, tables from `SCALARS` on, then the array's size."""
    assert len(scalars) <= SCALARS
    at, offsets = SCALARS, {name: n for n, name in enumerate(scalars)}
    for name, size in tables:
        offsets[name], at = at, at + size
    return offsets, at


# Settings by name: the `tables.RunTables` field (or slot-layout field, or table length) each holds.
F_SCALARS = ("horizon", "fatigue", "new_method_success", "reminder_cancel", "act_delay", "spontaneous_fix",
             "spontaneous_delay", "boleto_expiry", "three_ds_expiry", "confirm_unprompted", "pay_share",
             "pay_delay", "write_off", "trial_cancel", "card_self_update", "card_updater", "renewal_days",
             "confirm_step", "final_notice_days")  # fmt: skip
F_TABLES = (("act_chance", TYPES), ("plan_churn", MAX_PLANS), ("cohort_rate", MAX_COHORTS),
            ("cohort_3ds", MAX_COHORTS), ("cohort_due", MAX_COHORTS), ("decline_edges", MAX_DECLINES),
            ("retry_success", MAX_DECLINES), ("retry_offsets", MAX_RETRIES),
            ("invoice_reminder_offsets", MAX_INVOICE_REMINDERS), ("state", 16),
            ("invoices", 4 * MAX_INVOICES), ("queue_at", QUEUE), ("queue_arg", QUEUE))  # fmt: skip
I_SCALARS = ("end_action", "retry_hard", "trial_reminders", "confirm_reminders", "invoice_reminders",
             "payment_failed", "final_notice", "start_day", "card", "boleto", "expired_card",
             "generic_decline", "authentication_expired", "n_declines", "n_retries", "n_invoice_reminders",
             "slot_confirmation", "slot_invoice_reminder", "slot_renewal_reminder", "slot_trial_reminder",
             "slot_trial_paused", "slot_final_notice", "slot_link_payment", "per_period",
             "card_index")  # fmt: skip
I_TABLES = (("sends", TYPES), ("links", 2 * TYPES), ("management", 2 * TYPES),
            ("delivered", RECIPIENTS * TYPES), ("keys", 32), ("plan_step", MAX_PLANS),
            ("plan_price", MAX_PLANS), ("plan_reminder", MAX_PLANS), ("decline_ids", MAX_DECLINES),
            ("decline_hard", MAX_DECLINES), ("state", 32), ("invoices", 8 * MAX_INVOICES),
            ("queue", 5 * QUEUE))  # fmt: skip
F_AT, F_SIZE = _offsets(F_SCALARS, F_TABLES)
I_AT, I_SIZE = _offsets(I_SCALARS, I_TABLES)
F_HORIZON = F_AT["horizon"]
F_FATIGUE = F_AT["fatigue"]
F_NEW_METHOD_SUCCESS = F_AT["new_method_success"]
F_REMINDER_CANCEL = F_AT["reminder_cancel"]
F_ACT_DELAY = F_AT["act_delay"]
F_SPONTANEOUS_FIX = F_AT["spontaneous_fix"]
F_SPONTANEOUS_DELAY = F_AT["spontaneous_delay"]
F_BOLETO_EXPIRY = F_AT["boleto_expiry"]
F_THREE_DS_EXPIRY = F_AT["three_ds_expiry"]
F_CONFIRM_UNPROMPTED = F_AT["confirm_unprompted"]
F_PAY_SHARE = F_AT["pay_share"]
F_PAY_DELAY = F_AT["pay_delay"]
F_WRITE_OFF = F_AT["write_off"]
F_TRIAL_CANCEL = F_AT["trial_cancel"]
F_CARD_SELF_UPDATE = F_AT["card_self_update"]
F_CARD_UPDATER = F_AT["card_updater"]
F_RENEWAL_DAYS = F_AT["renewal_days"]
F_CONFIRM_STEP = F_AT["confirm_step"]
F_FINAL_NOTICE_DAYS = F_AT["final_notice_days"]
F_ACT_CHANCE = F_AT["act_chance"]
F_PLAN_CHURN = F_AT["plan_churn"]
F_COHORT_RATE = F_AT["cohort_rate"]
F_COHORT_3DS = F_AT["cohort_3ds"]
F_COHORT_DUE = F_AT["cohort_due"]
F_DECLINE_EDGES = F_AT["decline_edges"]
F_RETRY_SUCCESS = F_AT["retry_success"]
F_RETRY_OFFSETS = F_AT["retry_offsets"]
F_INVOICE_REMINDERS = F_AT["invoice_reminder_offsets"]
F_STATE = F_AT["state"]
F_INVOICES = F_AT["invoices"]
F_QUEUE_AT = F_AT["queue_at"]
F_QUEUE_ARG = F_AT["queue_arg"]
I_END_ACTION = I_AT["end_action"]
I_RETRY_HARD = I_AT["retry_hard"]
I_TRIAL_REMINDERS = I_AT["trial_reminders"]
I_CONFIRM_REMINDERS = I_AT["confirm_reminders"]
I_INVOICE_REMINDERS = I_AT["invoice_reminders"]
I_PAYMENT_FAILED = I_AT["payment_failed"]
I_FINAL_NOTICE = I_AT["final_notice"]
I_START_DAY = I_AT["start_day"]
I_CARD = I_AT["card"]
I_BOLETO = I_AT["boleto"]
I_EXPIRED_CARD = I_AT["expired_card"]
I_GENERIC_DECLINE = I_AT["generic_decline"]
I_AUTHENTICATION_EXPIRED = I_AT["authentication_expired"]
I_N_DECLINES = I_AT["n_declines"]
I_N_RETRIES = I_AT["n_retries"]
I_N_INVOICE_REMINDERS = I_AT["n_invoice_reminders"]
I_SLOT_CONFIRMATION = I_AT["slot_confirmation"]
I_SLOT_INVOICE_REMINDER = I_AT["slot_invoice_reminder"]
I_SLOT_RENEWAL_REMINDER = I_AT["slot_renewal_reminder"]
I_SLOT_TRIAL_REMINDER = I_AT["slot_trial_reminder"]
I_SLOT_TRIAL_PAUSED = I_AT["slot_trial_paused"]
I_SLOT_FINAL_NOTICE = I_AT["slot_final_notice"]
I_SLOT_LINK_PAYMENT = I_AT["slot_link_payment"]
I_PER_PERIOD = I_AT["per_period"]
I_CARD_INDEX = I_AT["card_index"]
I_SENDS = I_AT["sends"]
I_LINKS = I_AT["links"]
I_MANAGEMENT = I_AT["management"]
I_DELIVERED = I_AT["delivered"]
I_KEYS = I_AT["keys"]
I_PLAN_STEP = I_AT["plan_step"]
I_PLAN_PRICE = I_AT["plan_price"]
I_PLAN_REMINDER = I_AT["plan_reminder"]
I_DECLINE_IDS = I_AT["decline_ids"]
I_DECLINE_HARD = I_AT["decline_hard"]
I_STATE = I_AT["state"]
I_INVOICES = I_AT["invoices"]
I_QUEUE = I_AT["queue"]
END_CANCEL, END_MARK_UNPAID, END_LEAVE_PAST_DUE = 0, 1, 2  # tables.END_ACTIONS

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
 Q_CARD_SELF_UPDATE, Q_ACTIVATION, Q_CONDITION, Q_DEADLINE, Q_FINAL_NOTICE) = range(1, 13)  # fmt: skip
Q_WHAT, Q_PRIORITY, Q_SEQ, Q_A, Q_B = range(5)  # an entry's integers at i64[I_QUEUE + 5 slot]
URGENT, NORMAL = 0, 1  # simpy.core's priorities: a new process starts before other events at its instant
INVOICE_BEGIN, INVOICE_SETTLE = -2, -1  # a send_invoice process starting, or settling (else reminder n)

# The lifecycle's code blocks, by the SimPy process they belong to: where a process resumes after a
# `yield` (L_*), and the steps in between. A process function runs one block and returns the next one,
# or L_STOP once the lifecycle waits (it scheduled its wake-up) or has ended.
L_STOP = 0
(L_TRIAL_BEGIN, L_TRIAL_START, L_TRIAL_REMINDER, L_TRIAL_END_WAIT, L_TRIAL_END,
 L_TRIAL_WAITED) = range(1, 7)  # fmt: skip
L_PERIOD_BEGIN, L_REMINDER, L_RENEWAL_WAIT, L_RENEWAL, L_PERIOD_DONE = range(10, 15)
L_COLLECT = 20
(L_CONFIRM_BEGIN, L_CONFIRM_NEXT, L_CONFIRM_EMAIL, L_CONFIRM_WAIT, L_CONFIRMED,
 L_CONFIRM_EXPIRED) = range(30, 36)  # fmt: skip
L_DUNNING_BEGIN, L_RETRY_NEXT, L_RETRY = range(40, 43)

SIMPY_PROCESSES = (
    "lifecycle",
    "trial",
    "period",
    "collect",
    "confirmation",
    "dunning",
    "send_invoice",
    "card",
)
"""The SimPy processes (`Engine._<name>`); each has a compiled twin `<name>` (lifecycle.py, processes.py)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_R30, _R27, _R31, _R11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53

# Customer columns: integers in cust_i[row, j], floats in cust_f[row, j].
(C_ID, C_PLAN, C_COHORT, C_METHOD, C_RECIPIENT, C_SEND_INVOICE, C_TRIAL_DAYS, C_NO_METHOD, C_ANCHOR_DAY,
 C_FIRST_PERIOD, C_CARD_PROCESS) = range(11)  # fmt: skip
C_SIGNUP_AT, C_CARD_EXPIRES_AT, C_CARD_EMAIL_AT, C_ANCHOR_FRAC = range(4)
