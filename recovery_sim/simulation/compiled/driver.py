"""The fast path's driver: the compiled model (`kernel.py`) over all customers, into a `Recorder`.

`engine.Engine` is the model in SimPy and the reference; `CompiledEngine` runs the same model compiled,
customer by customer, and gives the same rows in the same recorder columns (tests/test_fast_path.py).
"""

from __future__ import annotations

import datetime as dt
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from recovery_sim.domain import rules
from recovery_sim.domain.declines import EXPIRED_CARD, decline_codes
from recovery_sim.domain.enums import CollectionMethod, DunningAction, EmailType
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.simulation.compiled import kernel
from recovery_sim.simulation.customers import RECIPIENT_KINDS, Customers
from recovery_sim.simulation.events import DECLINE, DECLINES, Recorder
from recovery_sim.simulation.reference.engine import (
    BOLETO,
    CARD,
    Engine,
    card_emails_at,
    decline_edges,
    first_periods,
    has_card_process,
)
from recovery_sim.simulation.rng import Streams

_END_ACTIONS = {
    DunningAction.CANCEL: kernel.END_CANCEL,
    DunningAction.MARK_UNPAID: kernel.END_MARK_UNPAID,
    DunningAction.LEAVE_PAST_DUE: kernel.END_LEAVE_PAST_DUE,
}
_BUFFER_ROWS = 1 << 18  # rows per recording chunk (events and emails)


def _settings(scenario: Scenario, policy: Policy, customers: Customers, streams: Streams) -> tuple:
    """The kernel's settings arrays (`kernel.F_*` and `kernel.I_*` offsets), decided once per run."""
    b, e, k = scenario.behaviour, policy.emails, kernel
    f64, i64 = np.zeros(k.F_SIZE), np.zeros(k.I_SIZE, dtype=np.int64)
    f64[[k.F_HORIZON, k.F_FATIGUE, k.F_NEW_METHOD_SUCCESS, k.F_REMINDER_CANCEL, k.F_ACT_DELAY,
         k.F_SPONTANEOUS_FIX, k.F_SPONTANEOUS_DELAY, k.F_BOLETO_EXPIRY, k.F_THREE_DS_EXPIRY,
         k.F_CONFIRM_UNPROMPTED, k.F_PAY_SHARE, k.F_PAY_DELAY, k.F_WRITE_OFF, k.F_TRIAL_CANCEL,
         k.F_CARD_SELF_UPDATE, k.F_CARD_UPDATER, k.F_RENEWAL_DAYS, k.F_CONFIRM_STEP]] = [
        scenario.horizon_days, b.fatigue, b.new_method_success, b.reminder_cancel_propensity,
        b.act_delay_days, b.spontaneous_fix_rate, b.spontaneous_fix_delay_days, b.boleto_expiry_days,
        b.three_ds_expiry_days, b.confirm_unprompted, b.send_invoice_pay_share,
        b.send_invoice_pay_delay_days, b.send_invoice_write_off_days, b.trial_cancel_share,
        b.card_self_update_before_expiry, scenario.card_updater_rate, e.upcoming_renewal_days,
        e.payment_action_reminder_days,
    ]  # fmt: skip
    codes = decline_codes()
    retries = policy.retries.offsets()
    i64[[k.I_END_ACTION, k.I_RETRY_HARD, k.I_TRIAL_REMINDERS, k.I_CONFIRM_REMINDERS, k.I_INVOICE_REMINDERS,
         k.I_PAYMENT_FAILED, k.I_START_DAY, k.I_CARD, k.I_BOLETO, k.I_EXPIRED_CARD, k.I_GENERIC_DECLINE,
         k.I_AUTHENTICATION_EXPIRED, k.I_N_DECLINES, k.I_N_RETRIES, k.I_N_INVOICE_REMINDERS]] = [
        _END_ACTIONS[policy.end_action], policy.retries.retry_hard_declines, e.trial_will_end,
        e.payment_action_reminders, e.invoice_reminders, e.payment_failed,
        (scenario.start_date - dt.date(1970, 1, 1)).days, CARD, BOLETO, DECLINE[EXPIRED_CARD],
        DECLINE["generic_decline"], DECLINE["authentication_expired"], len(codes), len(retries),
        len(e.invoice_reminder_offsets),
    ]  # fmt: skip

    def put(target: np.ndarray, at: int, values, room: int, what: str) -> None:
        values = np.asarray(values).ravel()
        if len(values) > room:
            raise ValueError(f"the compiled engine holds at most {room} {what}, got {len(values)}")
        target[at : at + len(values)] = values

    types = list(EmailType)
    collections = (CollectionMethod.CHARGE_AUTOMATICALLY, CollectionMethod.SEND_INVOICE)
    test_mode = scenario.test_mode.enabled
    recipients = RECIPIENT_KINDS + [None] * (k.RECIPIENTS - len(RECIPIENT_KINDS))
    put(i64, k.I_SENDS, [rules.policy_sends(policy, t) for t in types], k.TYPES, "email types")
    put(f64, k.F_ACT_CHANCE, [b.act_on_email.get(t, 0.0) for t in types], k.TYPES, "email types")
    put(i64, k.I_LINKS, [[rules.carries_update_link(t, m) for m in collections] for t in types],
        2 * k.TYPES, "email types")  # R3, R10b  # fmt: skip
    management = [[rules.carries_management_link(policy, t, m) for m in collections] for t in types]
    put(i64, k.I_MANAGEMENT, management, 2 * k.TYPES, "email types")  # R3b
    delivered = [
        [r is not None and rules.delivered_in_test_mode(t, r, test_mode) for r in recipients] for t in types
    ]
    put(i64, k.I_DELIVERED, delivered, k.RECIPIENTS * k.TYPES, "email types")  # R12
    put(i64, k.I_KEYS, streams.key_table().view(np.int64), 32, "draw purposes")

    plans = customers.plans
    put(i64, k.I_PLAN_STEP, [p.step_months for p in plans], k.MAX_PLANS, "plans")
    put(i64, k.I_PLAN_PRICE, [p.price for p in plans], k.MAX_PLANS, "plans")
    put(f64, k.F_PLAN_CHURN, [1.0 - (1.0 - b.voluntary_churn_monthly) ** p.step_months for p in plans],
        k.MAX_PLANS, "plans")  # fmt: skip
    reminded = [e.upcoming_renewal and p.interval in e.upcoming_renewal_intervals for p in plans]
    put(i64, k.I_PLAN_REMINDER, reminded, k.MAX_PLANS, "plans")  # rules.renewal_reminder_at (R7a)
    cohorts = scenario.cohorts
    put(f64, k.F_COHORT_RATE, [c.first_attempt_failure_rate for c in cohorts], k.MAX_COHORTS, "cohorts")
    put(f64, k.F_COHORT_3DS, [c.three_ds_share for c in cohorts], k.MAX_COHORTS, "cohorts")
    put(f64, k.F_COHORT_DUE, [float(c.days_until_due) for c in cohorts], k.MAX_COHORTS, "cohorts")

    put(f64, k.F_DECLINE_EDGES, decline_edges(scenario), k.MAX_DECLINES, "decline codes")
    put(i64, k.I_DECLINE_IDS, [DECLINE[d.code] for d in codes], k.MAX_DECLINES, "decline codes")
    hard, success = np.zeros(len(DECLINES), dtype=bool), np.zeros(len(DECLINES))
    for d in codes:
        hard[DECLINE[d.code]], success[DECLINE[d.code]] = d.hard, d.retry_success
    put(i64, k.I_DECLINE_HARD, hard, k.MAX_DECLINES, "decline codes")
    put(f64, k.F_RETRY_SUCCESS, success, k.MAX_DECLINES, "decline codes")
    put(f64, k.F_RETRY_OFFSETS, retries, k.MAX_RETRIES, "retries")
    put(f64, k.F_INVOICE_REMINDERS, e.invoice_reminder_offsets, k.MAX_INVOICE_REMINDERS, "invoice reminders")
    return f64, i64


def _customer_columns(customers: Customers, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """The customer columns the kernel reads (`kernel.C_*` rows): integers, then floats."""
    c, start = customers, scenario.start_date
    plan_step = np.array([p.step_months for p in c.plans], dtype=np.int64)
    card_email_at = card_emails_at(c, start)
    card_process = has_card_process(c, card_email_at, scenario.horizon_days)
    ints = np.stack([c.ids, c.plan, c.cohort, c.method, c.recipient, c.send_invoice, c.trial_days,
                     c.trial_without_method, c.anchor_day, first_periods(c, start, plan_step), card_process],
                    dtype=np.int64)  # fmt: skip
    floats = np.stack([c.signup_at, c.card_expires_at, card_email_at, c.anchor_frac], dtype=np.float64)
    return ints, floats


class CompiledEngine:
    """Runs one (scenario, policy, seed, replication) over a set of customers, compiled."""

    def __init__(
        self, scenario: Scenario, policy: Policy, customers: Customers, streams: Streams, threads: int = 1
    ) -> None:
        self.scenario = scenario
        self.policy = policy
        self.c = customers
        self.streams = streams
        self.threads = max(1, threads)
        self.rec = Recorder()
        self.final_status = np.zeros(len(customers), dtype=np.int64)

    def run(self) -> Recorder:
        """The compiled run; where a customer outgrows the kernel's fixed tables, the SimPy reference.

        The kernel holds 32 pending wake-ups and 96 invoices per customer. A scenario whose customers
        need more (say, reactions delayed by months to hundreds of emails) runs in SimPy instead: the
        same model, so the same frames, only slower; a warning says so.
        """
        try:
            return self._run_compiled()
        except kernel.OutOfRoom as exc:
            warnings.warn(f"{exc}: this run uses the SimPy engine (same results, slower)", stacklevel=2)
            reference = Engine(self.scenario, self.policy, self.c, self.streams)
            self.rec = reference.run()
            self.final_status = reference.statuses()
            return self.rec

    def _run_compiled(self) -> Recorder:
        """Every customer through the kernel; with threads, contiguous customer ranges side by side.

        Customers never interact, and the frames order rows by time, customer and each customer's own
        recording order, so neither the ranges nor the order of the chunks changes the frames.
        """
        cust_i, cust_f = _customer_columns(self.c, self.scenario)
        settings = _settings(self.scenario, self.policy, self.c, self.streams)
        edges = np.linspace(0, len(self.c), self.threads + 1).astype(np.int64).tolist()
        ranges = list(zip(edges[:-1], edges[1:], strict=True))
        if self.threads == 1:
            parts = [self._run_range(settings, cust_i, cust_f, *ranges[0])]
        else:
            with ThreadPoolExecutor(self.threads) as pool:
                parts = list(pool.map(lambda r: self._run_range(settings, cust_i, cust_f, *r), ranges))
        for chunks in parts:
            for events, emails, invoices in chunks:
                self.rec.events.extend(**events)
                self.rec.emails.extend(**emails)
                self.rec.invoices.extend(**invoices)
        return self.rec

    def _run_range(
        self, settings: tuple, cust_i: np.ndarray, cust_f: np.ndarray, first: int, last: int
    ) -> list:
        """Customers first..last-1, as recorder chunks (events, emails, invoices)."""
        f64, i64 = (array.copy() for array in settings)  # the customer state lives in them
        room = 128 * kernel.MAX_INVOICES  # more rows than one customer can write
        chunks = []
        # Reused chunk after chunk: fresh pages for every chunk cost more than the kernel itself.
        rows_f = np.empty((6, _BUFFER_ROWS))
        rows_i = np.empty((23, _BUFFER_ROWS), dtype=np.int64)
        while first < last:
            i64[kernel.S_EVENTS : kernel.S_INVOICE_ROWS + 1] = 0
            first = kernel.run_customers(
                f64, i64, rows_f, rows_i, cust_i, cust_f, first, last, self.final_status, room
            )
            counts = i64[kernel.S_EVENTS : kernel.S_INVOICE_ROWS + 1].tolist()
            chunks.append(
                tuple(
                    _typed(spec, rows, rows_f, rows_i, n)
                    for spec, rows, n in zip(
                        (Recorder.EVENT_COLUMNS, Recorder.EMAIL_COLUMNS, Recorder.INVOICE_COLUMNS),
                        (kernel.EVENT_ROWS, kernel.EMAIL_ROWS, kernel.INVOICE_ROWS),
                        counts,
                        strict=True,
                    )
                )
            )
        return chunks

    def statuses(self) -> np.ndarray:
        """Each customer's subscription status at the end of the run (index into SubscriptionStatus)."""
        return self.final_status


def _typed(spec: dict[str, str], rows: tuple, rows_f: np.ndarray, rows_i: np.ndarray, n: int) -> dict:
    """The first n kernel rows of one table, as recorder columns in their types."""
    return {
        name: (rows_f if is_float else rows_i)[row, :n].astype(spec[name])
        for name, (is_float, row) in zip(spec, rows, strict=True)
    }


def warm_up() -> None:
    """Compile the kernel into numba's on-disk cache (a first compile takes about a minute)."""
    from recovery_sim.api import simulate  # the driver is imported by api, not the other way round

    scenario = Scenario.default().scaled(customers=60, months=2)
    simulate(scenario, Policy.named("all-on"), seed=0)
