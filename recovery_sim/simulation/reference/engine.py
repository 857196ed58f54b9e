"""The SimPy model: trials, renewals, payment attempts, dunning, confirmations, cards and customers.

One process per subscription walks its billing periods; a card process wakes a month before its card
expires; customers' reactions to emails are scheduled callbacks that act on the state at their time.
Every decision that SPEC names goes through `rules`; every random draw is keyed (`rng.Streams`).

This is the model of record, and the reference path (`simulate(..., fast=False)`). The fast path,
`compiled.CompiledEngine`, runs the same model compiled (kernel.py); tests/test_fast_path.py proves
the frames identical. Customers never interact, so SimPy runs them `Engine.batch` at a time.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import simpy

from recovery_sim.domain import formulas, rules
from recovery_sim.domain.calendar import whole_days
from recovery_sim.domain.declines import EXPIRED_CARD
from recovery_sim.domain.enums import (
    Actor,
    CollectionMethod,
    DunningAction,
    EmailType,
    EventKind,
    InvoiceStatus,
    SubscriptionStatus,
)
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.simulation.customers import (
    BOLETO,
    CARD,
    METHOD_KINDS,
    RECIPIENT_KINDS,
    Customers,
    card_emails_at,
    first_periods,
    has_card_process,
    new_card_expiry,
)
from recovery_sim.simulation.events import ACTOR, DECLINE, EMAIL, KIND, NO_INVOICE, STATUS, Recorder
from recovery_sim.simulation.reference.environment import Environment
from recovery_sim.simulation.rng import Purpose, Streams
from recovery_sim.simulation.slots import draw_index
from recovery_sim.simulation.tables import RunTables

_STATUS_EVENT = {
    SubscriptionStatus.CANCELED: EventKind.SUBSCRIPTION_CANCELED,
    SubscriptionStatus.UNPAID: EventKind.SUBSCRIPTION_UNPAID,
    SubscriptionStatus.PAST_DUE: EventKind.SUBSCRIPTION_PAST_DUE,
    SubscriptionStatus.PAUSED: EventKind.SUBSCRIPTION_PAUSED,
}

OPEN = STATUS[InvoiceStatus.OPEN]
PAID = STATUS[InvoiceStatus.PAID]


@dataclass(slots=True)
class Invoice:
    id: int
    customer: int
    period: int
    created_at: float
    amount: int
    status: int = OPEN
    paid_at: float = math.inf
    attempts: int = 0
    first_decline: int = 0
    at_risk: bool = False
    paid_by: int = 0
    due_at: float = math.inf


@dataclass(slots=True)
class Subscription:
    """Mutable state of one customer's subscription during a run."""

    j: int  # row in Customers
    id: int  # global customer id (the key of every draw)
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    status_since: float = -math.inf
    card_expires_at: float = math.inf
    card_email_at: float = math.inf
    card_version: int = 0
    method_updated_at: float = -math.inf
    has_method: bool = True
    anchor_day: int = 0
    anchor_frac: float = 0.0
    period_end: float = math.inf
    cancel_at_period_end: bool = False
    pending: int = 0  # scheduled customer actions not yet fired
    open_invoices: list[Invoice] = field(default_factory=list)
    activation: simpy.Event | None = None

    @property
    def ended(self) -> bool:
        return self.status in (SubscriptionStatus.CANCELED, SubscriptionStatus.UNPAID) or (
            self.status is SubscriptionStatus.PAUSED
        )


@dataclass(frozen=True, slots=True)
class _Final:
    """A subscription's state after the run, as far as anyone reads it."""

    status: SubscriptionStatus


class Engine:
    """Runs one (scenario, policy, seed, replication) over a set of customers."""

    batch = 5_000  # customers per SimPy run (any size gives the same frames)

    def __init__(self, scenario: Scenario, policy: Policy, customers: Customers, streams: Streams) -> None:
        self.scenario = scenario
        self.policy = policy
        self.c = customers
        # The same columns as Python lists: the per-event code indexes them one customer at a time.
        self.cl = SimpleNamespace(
            **{
                name: getattr(customers, name).tolist()
                for name in (
                    "send_invoice",
                    "method",
                    "recipient",
                    "plan",
                    "cohort",
                    "signup_at",
                    "trial_days",
                )
            }
        )
        self.streams = streams
        self.start = scenario.start_date
        self.start_day = (scenario.start_date - dt.date(1970, 1, 1)).days
        self.horizon = scenario.horizon_days
        self.behaviour = scenario.behaviour
        self.test_mode = scenario.test_mode.enabled
        self.rec = Recorder()
        self.env = Environment()
        self.invoices: list[Invoice] = []
        self.tables = t = RunTables.build(scenario, policy, customers.plans)
        self.slots = t.slots
        self.decline_edges = np.array(t.decline_edges)
        self.retry_offsets = t.retry_offsets
        self.sends = {e: t.sends[EMAIL[e]] for e in EmailType}
        self.act_chance = {e: t.act_chance[EMAIL[e]] for e in EmailType}
        self.fatigue = t.fatigue
        self.subs: list[Subscription] = []
        # R3/R3b/R10b and R12 depend only on (type, collection method) and (type, recipient).
        self._links = {
            (e, send_invoice): (t.links[EMAIL[e]][send_invoice], t.management[EMAIL[e]][send_invoice])
            for e in EmailType
            for send_invoice in (False, True)
        }
        self._delivered = {
            (e, r): t.delivered[EMAIL[e]][r] for e in EmailType for r in range(len(RECIPIENT_KINDS))
        }

    # ------------------------------------------------------------------------------------- set-up

    def run(self) -> Recorder:
        # The run builds millions of long-lived objects and almost no reference cycles: the cyclic
        # collector would rescan them all again and again (15 % of the run at 100k customers).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if collecting:
                gc.enable()

    def statuses(self) -> np.ndarray:
        """Each customer's subscription status at the end of the run (index into SubscriptionStatus)."""
        code = {status: n for n, status in enumerate(SubscriptionStatus)}
        return np.array([code[s.status] for s in self.subs], dtype=np.int64)

    def _run(self) -> Recorder:
        c = self.c
        self.card_email_at = card_emails_at(c, self.start)
        first_period = first_periods(c, self.start, np.array(self.tables.plan_step, dtype=np.int64)).tolist()
        card_process = has_card_process(c, self.card_email_at, self.horizon).tolist()
        # Callers read each subscription's final status only.
        final = {status: _Final(status) for status in SubscriptionStatus}
        self.subs = [final[SubscriptionStatus.ACTIVE]] * len(c)
        # Customers never interact and every draw is keyed: SimPy runs them a batch at a time (rows are
        # those of one big run, as for shards), which keeps the event queue and live state small.
        for first in range(0, len(c), self.batch):
            self.env = env = Environment()
            batch = []
            for j in range(first, min(first + self.batch, len(c))):
                s = Subscription(
                    j=j,
                    id=int(c.ids[j]),
                    card_expires_at=float(c.card_expires_at[j]),
                    card_email_at=float(self.card_email_at[j]),
                    anchor_day=int(c.anchor_day[j]),
                    anchor_frac=float(c.anchor_frac[j]),
                    has_method=not bool(c.trial_without_method[j]),
                )
                batch.append(s)
                env.start(self._lifecycle(s, first_period[j]))
                if card_process[j]:
                    env.start(self._card(s, 0))
            env.run(until=self.horizon)
            self._flush_invoices()
            for s in batch:
                self.subs[s.j] = final[s.status]
        self.env = Environment()
        return self.rec

    # --------------------------------------------------------------------------- helpers on state

    def _event(
        self,
        s: Subscription,
        kind: EventKind,
        invoice: int = NO_INVOICE,
        amount: int = 0,
        decline: int = 0,
        actor: Actor = Actor.SYSTEM,
        attempt: int = 0,
        at: float | None = None,
    ) -> None:
        self.rec.event(
            self.env.now if at is None else at,
            s.id,
            KIND[kind],
            invoice,
            amount,
            decline,
            ACTOR[actor],
            attempt,
        )

    def _set_status(self, s: Subscription, status: SubscriptionStatus, actor: Actor = Actor.SYSTEM) -> None:
        if status is s.status:
            return
        s.status = status
        s.status_since = self.env.now
        kind = _STATUS_EVENT.get(status)
        if kind is not None:
            self._event(s, kind, actor=actor)

    def _collection(self, s: Subscription) -> CollectionMethod:
        return (
            CollectionMethod.SEND_INVOICE
            if self.cl.send_invoice[s.j]
            else CollectionMethod.CHARGE_AUTOMATICALLY
        )

    def _u(self, purpose: Purpose, s: Subscription, index: int) -> float:
        return self.streams.uniform(purpose, s.id, index)

    def _delay(self, purpose: Purpose, s: Subscription, index: int, mean: float) -> float:
        return self.streams.exponential(purpose, s.id, index, mean)

    def _send(
        self,
        s: Subscription,
        email_type: EmailType,
        invoice: Invoice | None,
        period_end: float,
        *,
        trial_end: float | None = None,
        act_index: int | None = None,
        earlier: int = 0,
        force: bool = False,
    ) -> tuple[bool, float] | None:
        """Send one email if the policy has it on; return (customer acts, link live until) or None.

        R3/R10b decide the link, R11 its lifetime, R12 delivery; the customer acts with the scenario's
        chance for that type, reduced by fatigue for each earlier email of the same episode.
        """
        if not (force or self.sends[email_type]):
            return None
        now = self.env.now
        send_invoice = bool(self.cl.send_invoice[s.j])
        link, management = self._links[email_type, send_invoice]
        live_until = math.inf
        if link:
            live_until = rules.link_live_until(
                email_type, now, period_end, trial_end=trial_end, had_payment_method_at_trial_end=s.has_method
            )
            link = rules.link_is_live(
                live_until, now, s.status, s.status_since
            )  # R11: never send a dead link
        delivered = self._delivered[email_type, self.cl.recipient[s.j]]
        acts = False
        # One acts on an email one received; a link-type email whose link was dead has nothing to follow.
        if delivered and act_index is not None and (link or not self._links[email_type, send_invoice][0]):
            chance = formulas.act_chance(self.act_chance[email_type], self.fatigue, earlier)
            acts = self._u(Purpose.ACT, s, act_index) < chance
        self.rec.email(
            now,
            s.id,
            invoice.id if invoice else NO_INVOICE,
            EMAIL[email_type],
            link,
            management,
            live_until if link else math.inf,
            delivered,
            acts,
        )
        return acts, (live_until if link else -math.inf)

    def _at(self, when: float, callback, s: Subscription, *args) -> None:
        """Run `callback(s, *args)` at simulation time `when` (a scheduled customer action)."""
        if when >= self.horizon:
            return
        s.pending += 1

        def fire(_event) -> None:
            s.pending -= 1
            callback(s, *args)

        self.env.timeout_at(when).callbacks.append(fire)

    # ---------------------------------------------------------------------------- money movements

    def _new_invoice(self, s: Subscription, period: int) -> Invoice:
        amount = self.tables.plan_price[self.cl.plan[s.j]]
        invoice = Invoice(
            id=formulas.invoice_id(s.id, period),
            customer=s.id,
            period=period,
            created_at=self.env.now,
            amount=amount,
        )
        self.invoices.append(invoice)
        s.open_invoices.append(invoice)
        self._event(s, EventKind.INVOICE_CREATED, invoice.id, amount)
        return invoice

    def _pay(
        self, s: Subscription, invoice: Invoice, actor: Actor, attempt: int, kind=EventKind.PAYMENT_SUCCEEDED
    ):
        invoice.status = PAID
        invoice.paid_at = self.env.now
        invoice.paid_by = ACTOR[actor]
        invoice.attempts = max(invoice.attempts, attempt)
        s.open_invoices.remove(invoice)
        self._event(s, kind, invoice.id, invoice.amount, actor=actor, attempt=attempt)
        if s.status is SubscriptionStatus.PAST_DUE and not s.open_invoices:
            self._set_status(s, SubscriptionStatus.ACTIVE, actor)
        self._send(s, EmailType.INVOICE_PAID, invoice, s.period_end)

    def _close_invoice(self, s: Subscription, invoice: Invoice, status: InvoiceStatus) -> None:
        invoice.status = STATUS[status]
        s.open_invoices.remove(invoice)
        kind = EventKind.INVOICE_VOIDED if status is InvoiceStatus.VOID else EventKind.INVOICE_UNCOLLECTIBLE
        self._event(s, kind, invoice.id, invoice.amount)

    def _cancel(self, s: Subscription, actor: Actor) -> None:
        """Cancel, write off what is still open (R5 reminders then stop), and say so once."""
        for invoice in list(s.open_invoices):
            self._close_invoice(s, invoice, InvoiceStatus.UNCOLLECTIBLE)
        self._set_status(s, SubscriptionStatus.CANCELED, actor)
        self._send(s, EmailType.SUBSCRIPTION_CANCELED, None, s.period_end)

    def _new_method(self, s: Subscription, actor: Actor) -> None:
        """The customer (or the card network) puts a working payment method on file."""
        now = self.env.now
        s.method_updated_at = now
        s.has_method = True
        if self.cl.method[s.j] == CARD:
            s.card_version += 1
            month, year = new_card_expiry(self.streams, s.id, s.card_version, now, self.start)
            s.card_expires_at = rules.card_expires_at(month, year, self.start)
            s.card_email_at = formulas.card_expiring_email_day(year, month, self.start_day)
            self._event(s, EventKind.CARD_UPDATED, actor=actor)
            if s.card_email_at < self.horizon:
                self.env.process(self._card(s, s.card_version))
        else:
            self._event(s, EventKind.PAYMENT_METHOD_UPDATED, actor=actor)

    # ------------------------------------------------------------------------- customer actions

    def _follow_link(self, s: Subscription, live_until: float, period: int) -> None:
        """R10c through a live link (R11): new method, then pay what is outstanding; R6b activation."""
        now = self.env.now
        if not rules.link_is_live(live_until, now, s.status, s.status_since):
            self._event(s, EventKind.LINK_DEAD, actor=Actor.CUSTOMER_LINK)
            return
        self._event(s, EventKind.LINK_FOLLOWED, actor=Actor.CUSTOMER_LINK)
        self._new_method(s, Actor.CUSTOMER_LINK)
        for invoice in list(s.open_invoices):
            index = draw_index(invoice.period, self.slots.link_payment, self.slots.per_period)
            if self._u(Purpose.NEW_METHOD, s, index) < (self.behaviour.new_method_success):
                invoice.attempts += 1
                self._pay(s, invoice, Actor.CUSTOMER_LINK, invoice.attempts)
        if s.activation is not None and not s.activation.triggered:
            s.activation.succeed()

    def _self_update(self, s: Subscription) -> None:
        """The customer fixes the method unprompted; it is used at the next scheduled attempt (R10c)."""
        if not s.ended:
            self._new_method(s, Actor.CUSTOMER_SELF)

    # ---------------------------------------------------------------------------------- processes

    def _lifecycle(self, s: Subscription, period: int):
        if self.cl.trial_days[s.j] > 0 and period == 0:
            period = yield from self._trial(s)
            if period < 0:
                return
        while True:
            outcome = yield from self._period(s, period)
            if not outcome:
                return
            period += 1

    def _boundary(self, s: Subscription, k: int) -> float:
        step = self.tables.plan_step[self.cl.plan[s.j]]
        return whole_days(self.start, s.anchor_day, k * step) + s.anchor_frac

    def _period(self, s: Subscription, k: int):
        """One billing period ending in renewal k. Returns False once the subscription stops billing."""
        b_ = self.behaviour
        env = self.env
        renew_at = self._boundary(s, k)
        period_start = self._boundary(s, k - 1) if k > 0 else float(self.cl.signup_at[s.j])
        s.period_end = renew_at
        new_signup = k == 0 and self.cl.signup_at[s.j] >= 0 and self.cl.trial_days[s.j] == 0
        reminder = math.nan
        if k > 0 and self.tables.plan_reminder[self.cl.plan[s.j]]:  # rules.renewal_reminder_at (R7a)
            reminder = formulas.renewal_reminder_at(period_start, renew_at, self.tables.renewal_days)
        if 0.0 <= reminder < self.horizon:
            yield env.timeout_at(reminder)
            if s.ended:
                return False
            index = draw_index(k, self.slots.renewal_reminder, self.slots.per_period)
            sent = self._send(s, EmailType.UPCOMING_RENEWAL, None, renew_at, act_index=index)
            if sent is not None:  # R7: the reminder can prompt a cancellation or a card update
                acts, live_until = sent
                if self._u(Purpose.REMINDER_CANCEL, s, k) < b_.reminder_cancel_propensity:
                    s.cancel_at_period_end = True
                if acts and s.card_expires_at <= renew_at:
                    self._at(
                        env.now + self._delay(Purpose.ACT_DELAY, s, index, b_.act_delay_days),
                        self._follow_link,
                        s,
                        live_until,
                        k,
                    )
        if renew_at >= self.horizon:
            return False
        yield env.timeout_at(renew_at)
        if s.ended:
            return False
        if s.cancel_at_period_end:
            self._cancel(s, Actor.CUSTOMER)
            return False
        if k > 0 and self._u(Purpose.CHURN, s, k) < self.tables.plan_churn[self.cl.plan[s.j]]:
            self._cancel(s, Actor.CUSTOMER)
            return False
        if new_signup:
            self._event(s, EventKind.SUBSCRIPTION_CREATED)
        s.period_end = self._boundary(s, k + 1)  # the invoice opens the next period; R11d links end with it
        invoice = self._new_invoice(s, k)
        if self.cl.send_invoice[s.j]:
            invoice.due_at = env.now + self.tables.cohort_due[self.cl.cohort[s.j]]
            env.process(self._send_invoice(s, invoice))
            return True
        self._send(s, EmailType.INVOICE_FINALIZED, invoice, renew_at)
        if new_signup:  # paid on-session at checkout
            invoice.attempts = 1
            self._pay(s, invoice, Actor.SYSTEM, 1)
            return True
        yield from self._collect(s, invoice)
        return s.status is not SubscriptionStatus.CANCELED and s.status is not SubscriptionStatus.UNPAID

    def _first_attempt(self, s: Subscription, invoice: Invoice) -> tuple[str, int]:
        """('paid' | 'failed' | 'confirm', decline id) for the renewal's first automatic attempt."""
        k, now = invoice.period, self.env.now
        if self.cl.method[s.j] == BOLETO:
            return "confirm", 0
        if self.cl.method[s.j] == CARD and s.card_expires_at <= now:
            return "failed", DECLINE[EXPIRED_CARD]
        t = self.tables
        if self._u(Purpose.FIRST_ATTEMPT, s, k) < t.cohort_rate[self.cl.cohort[s.j]]:
            pick = int(np.searchsorted(self.decline_edges, self._u(Purpose.DECLINE_CODE, s, k), side="right"))
            return "failed", t.decline_ids[min(pick, len(t.decline_ids) - 1)]
        if (
            self.cl.method[s.j] == CARD
            and self._u(Purpose.NEEDS_CONFIRMATION, s, k) < t.cohort_3ds[self.cl.cohort[s.j]]
        ):
            return "confirm", 0
        return "paid", 0

    def _collect(self, s: Subscription, invoice: Invoice):
        outcome, decline = self._first_attempt(s, invoice)
        invoice.attempts = 1
        if outcome == "paid":
            self._pay(s, invoice, Actor.SYSTEM, 1)
            return
        invoice.at_risk = True
        if outcome == "confirm":
            yield from self._confirmation(s, invoice)
        else:
            invoice.first_decline = decline
            yield from self._dunning(s, invoice, decline)

    def _failed_attempt(
        self, s: Subscription, invoice: Invoice, decline: int, attempt: int, t0: float, last: bool = False
    ) -> None:
        """Record a failed attempt; R4 email after each one; schedule the customer's reaction.

        After the `last` retry, dunning ends at this instant; when that cancels the subscription or
        marks it unpaid, the email's link would be dead on arrival (R11b), so it goes without one.
        """
        self._event(
            s,
            EventKind.PAYMENT_FAILED,
            invoice.id,
            invoice.amount,
            decline,
            Actor.RETRY if attempt > 1 else Actor.SYSTEM,
            attempt,
        )
        if not rules.payment_failed_email_due(
            self.policy, self._collection(s), METHOD_KINDS[self.cl.method[s.j]]
        ):
            return
        index = draw_index(invoice.period, self.slots.attempt + attempt, self.slots.per_period)
        link_dies = last and self.policy.end_action is not DunningAction.LEAVE_PAST_DUE
        period_end = self.env.now if link_dies else s.period_end
        sent = self._send(
            s, EmailType.PAYMENT_FAILED, invoice, period_end, act_index=index, earlier=attempt - 1
        )
        if sent and sent[0]:
            when = self.env.now + self._delay(Purpose.ACT_DELAY, s, index, self.behaviour.act_delay_days)
            self._at(when, self._follow_link, s, sent[1], invoice.period)

    def _dunning(self, s: Subscription, invoice: Invoice, decline: int):
        """Retries per the policy's schedule, emails per R4, and the end-of-dunning action."""
        env, b_ = self.env, self.behaviour
        t0 = env.now
        k = invoice.period
        self._set_status(s, SubscriptionStatus.PAST_DUE)
        self._failed_attempt(s, invoice, decline, 1, t0)
        if self._u(Purpose.SPONTANEOUS_FIX, s, k) < b_.spontaneous_fix_rate:
            self._at(
                t0 + self._delay(Purpose.SPONTANEOUS_DELAY, s, k, b_.spontaneous_fix_delay_days),
                self._self_update,
                s,
            )
        hard = self.tables.decline_hard[decline] and not self.tables.retry_hard
        offsets = self.retry_offsets
        for attempt, offset in enumerate(offsets, start=2):
            yield env.timeout_at(t0 + offset)
            if invoice.status != OPEN or s.ended:
                return
            if hard and s.method_updated_at <= t0:
                continue  # no retry on a hard decline until the customer gives a new method
            invoice.attempts = attempt
            if s.method_updated_at > t0:
                index = draw_index(k, self.slots.attempt + attempt, self.slots.per_period)
                success = self._u(Purpose.NEW_METHOD, s, index) < b_.new_method_success
                decline = DECLINE["generic_decline"] if not success else 0
            elif self.cl.method[s.j] == CARD and s.card_expires_at <= env.now:
                success, decline = False, DECLINE[EXPIRED_CARD]
            else:
                index = draw_index(k, self.slots.attempt + attempt, self.slots.per_period)
                success = self._u(Purpose.RETRY, s, index) < self.tables.retry_success[decline]
            if success:
                self._pay(s, invoice, Actor.RETRY, attempt)
                return
            self._failed_attempt(s, invoice, decline, attempt, t0, last=attempt == len(offsets) + 1)
        if invoice.status != OPEN or s.ended:
            return
        self._end_of_dunning(s, invoice)

    def _end_of_dunning(self, s: Subscription, invoice: Invoice) -> None:
        action = self.policy.end_action
        if action is DunningAction.CANCEL:
            self._cancel(s, Actor.SYSTEM)
        elif action is DunningAction.MARK_UNPAID:
            self._set_status(s, SubscriptionStatus.UNPAID)  # R11b: its links die now
        # LEAVE_PAST_DUE: the invoice stays open and the subscription keeps billing.

    def _confirmation(self, s: Subscription, invoice: Invoice):
        """R8: a payment waiting for 3-D Secure or Boleto; confirmed, or expired into end of dunning."""
        env, b_ = self.env, self.behaviour
        t0 = env.now
        k = invoice.period
        boleto = self.cl.method[s.j] == BOLETO
        expires = t0 + (b_.boleto_expiry_days if boleto else b_.three_ds_expiry_days)
        self._event(s, EventKind.PAYMENT_ACTION_REQUIRED, invoice.id, invoice.amount)
        confirm_at = math.inf
        if self._u(Purpose.CONFIRM_UNPROMPTED, s, k) < b_.confirm_unprompted:
            confirm_at = t0 + self._delay(Purpose.CONFIRM_DELAY, s, k, (expires - t0) / 2)
        actor = Actor.CUSTOMER_SELF
        emails = [(t0, EmailType.PAYMENT_ACTION_REQUIRED)]
        emails += [
            (t, EmailType.PAYMENT_ACTION_REMINDER)
            for t in rules.confirmation_reminder_times(self.policy, t0, expires)
        ]
        for n, (when, email_type) in enumerate(emails):
            if when >= confirm_at or when >= self.horizon:
                break
            yield env.timeout_at(when)
            if invoice.status != OPEN:
                return  # paid meanwhile through another live link (R10c)
            index = draw_index(k, self.slots.confirmation + n, self.slots.per_period)
            sent = self._send(s, email_type, invoice, min(expires, s.period_end), act_index=index, earlier=n)
            if sent and sent[0]:
                at = when + self._delay(Purpose.ACT_DELAY, s, index, b_.act_delay_days)
                if at < confirm_at and rules.link_is_live(sent[1], at, s.status, s.status_since):
                    confirm_at, actor = at, Actor.CUSTOMER_LINK
        if confirm_at < expires and confirm_at < self.horizon:
            yield env.timeout_at(confirm_at)
            if invoice.status == OPEN:
                self._pay(s, invoice, actor, 1)
            return
        if expires >= self.horizon:
            yield env.timeout_at(self.horizon)
            return
        yield env.timeout_at(expires)
        if invoice.status != OPEN:
            return
        invoice.first_decline = DECLINE["authentication_expired"]
        self._event(
            s, EventKind.PAYMENT_EXPIRED, invoice.id, invoice.amount, DECLINE["authentication_expired"]
        )
        self._set_status(s, SubscriptionStatus.PAST_DUE)
        self._end_of_dunning(s, invoice)

    def _send_invoice(self, s: Subscription, invoice: Invoice):
        """R5: an invoice the customer pays by hand; reminders at the policy's offsets until settled."""
        env, b_ = self.env, self.behaviour
        k = invoice.period
        self._send(s, EmailType.INVOICE_FINALIZED, invoice, invoice.due_at, force=True)  # the invoice itself
        pay_at = math.inf
        if self._u(Purpose.INVOICE_PAY, s, k) < b_.send_invoice_pay_share:
            pay_at = env.now + self._delay(Purpose.INVOICE_PAY_DELAY, s, k, b_.send_invoice_pay_delay_days)
        write_off = invoice.due_at + b_.send_invoice_write_off_days
        reminders = rules.invoice_reminder_times(self.policy, CollectionMethod.SEND_INVOICE, invoice.due_at)
        for n, when in enumerate(reminders):
            if when >= pay_at or when >= write_off or when >= self.horizon:
                break
            yield env.timeout_at(when)
            if invoice.status != OPEN or s.status is SubscriptionStatus.CANCELED:
                return
            index = draw_index(k, self.slots.invoice_reminder + n, self.slots.per_period)
            sent = self._send(
                s, EmailType.INVOICE_REMINDER, invoice, invoice.due_at, act_index=index, earlier=n
            )
            if sent and sent[0]:
                pay_at = min(pay_at, when + self._delay(Purpose.ACT_DELAY, s, index, b_.act_delay_days))
        settle = min(pay_at, write_off)
        if settle >= self.horizon:
            return
        yield env.timeout_at(settle)
        if invoice.status != OPEN:
            return
        if pay_at <= write_off and s.status is not SubscriptionStatus.CANCELED:
            self._pay(s, invoice, Actor.CUSTOMER, 1, EventKind.INVOICE_PAID)
            return
        self._close_invoice(s, invoice, InvoiceStatus.UNCOLLECTIBLE)
        if not s.ended:
            self._end_of_dunning(s, invoice)

    def _trial(self, s: Subscription):
        """R6: reminder 7 days before the end; without a method the subscription pauses (R6b).

        Returns the next period to bill, or -1 when the subscription stops here.
        """
        env, b_ = self.env, self.behaviour
        start = float(self.cl.signup_at[s.j])
        end = start + int(self.cl.trial_days[s.j])
        yield env.timeout_at(start)
        s.status, s.status_since = SubscriptionStatus.TRIALING, start
        s.period_end = end  # R11d: during the trial, the current period is the trial itself
        self._event(s, EventKind.SUBSCRIPTION_CREATED)
        links: list[float] = []
        reminder = rules.trial_reminder_at(self.policy, start, end)
        if reminder is not None and reminder < self.horizon:
            yield env.timeout_at(reminder)
            sent = self._send(
                s,
                EmailType.TRIAL_WILL_END,
                None,
                end,
                trial_end=end,
                act_index=self.slots.trial_reminder,
                earlier=0,
            )
            if sent and sent[0] and not s.has_method:
                links.append(sent[1])
                self._at(
                    env.now + self._delay(Purpose.ACT_DELAY, s, self.slots.trial_reminder, b_.act_delay_days),
                    self._follow_link,
                    s,
                    sent[1],
                    0,
                )
        if end >= self.horizon:
            return -1
        yield env.timeout_at(end)
        self._event(s, EventKind.TRIAL_ENDED)
        if s.has_method:
            if self._u(Purpose.TRIAL_CANCEL, s, 0) < b_.trial_cancel_share:
                self._cancel(s, Actor.CUSTOMER)
                return -1
            s.status = SubscriptionStatus.ACTIVE
            return 0
        # R6b: paused; the first invoice waits for a method added on the hosted page.
        invoice = self._new_invoice(s, 0)
        invoice.at_risk = True
        self._set_status(s, rules.status_at_trial_end(False))
        s.activation = env.event()
        sent = self._send(
            s,
            EmailType.TRIAL_ENDED_PAUSED,
            invoice,
            math.inf,
            trial_end=end,
            act_index=self.slots.trial_paused,
            earlier=1,
        )
        if sent and sent[0]:
            links.append(sent[1])
            self._at(
                env.now + self._delay(Purpose.ACT_DELAY, s, self.slots.trial_paused, b_.act_delay_days),
                self._follow_link,
                s,
                sent[1],
                0,
            )
        deadline = min(max(links, default=env.now), self.horizon)
        if deadline > env.now:
            yield s.activation | env.timeout_at(deadline)
        if not s.activation.triggered or invoice.status != PAID:
            if invoice.status == OPEN:
                self._close_invoice(s, invoice, InvoiceStatus.VOID)
            return -1
        # Activation re-anchors billing at the moment the customer paid.
        self._set_status(s, SubscriptionStatus.ACTIVE, Actor.CUSTOMER_LINK)
        self._event(s, EventKind.SUBSCRIPTION_ACTIVATED, actor=Actor.CUSTOMER_LINK)
        s.anchor_day = int(math.floor(env.now))
        s.anchor_frac = env.now - s.anchor_day
        return 1

    def _card(self, s: Subscription, version: int):
        """R9: a month before the card expires, an email; then the updater, or an expired card."""
        env, b_ = self.env, self.behaviour
        email_at, expires = s.card_email_at, s.card_expires_at
        yield env.timeout_at(email_at)
        if s.card_version != version or s.ended or not s.has_method:
            return  # R9 is about a saved card: a trial without a payment method has none
        index = self.slots.card + version
        sent = self._send(s, EmailType.CARD_EXPIRING, None, s.period_end, act_index=index)
        if sent and sent[0]:
            self._at(
                env.now + self._delay(Purpose.ACT_DELAY, s, index, b_.act_delay_days),
                self._follow_link,
                s,
                sent[1],
                -1,
            )
        if self._u(Purpose.CARD_SELF_UPDATE, s, index) < b_.card_self_update_before_expiry:
            when = email_at + self._u(Purpose.SPONTANEOUS_DELAY, s, index) * (expires - email_at)
            self._at(when, self._card_self_update, s, version)
        if expires >= self.horizon:
            return
        yield env.timeout_at(expires)
        if s.card_version != version or s.ended:
            return
        if self._u(Purpose.CARD_UPDATER, s, index) < self.scenario.card_updater_rate:
            self._new_method(s, Actor.CARD_UPDATER)
        else:
            self._event(s, EventKind.CARD_EXPIRED)

    def _card_self_update(self, s: Subscription, version: int) -> None:
        if s.card_version == version and not s.ended:
            self._new_method(s, Actor.CUSTOMER_SELF)

    def _flush_invoices(self) -> None:
        row = self.rec.invoice_row
        for inv in self.invoices:
            row(
                inv.id,
                inv.customer,
                inv.period,
                inv.created_at,
                inv.amount,
                inv.status,
                inv.paid_at,
                inv.attempts,
                inv.first_decline,
                inv.at_risk,
                inv.paid_by,
                inv.due_at,
            )
        self.invoices = []
