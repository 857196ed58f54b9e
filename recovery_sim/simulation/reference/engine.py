"""The SimPy model: a run's set-up, the state changes and the customers' actions.

One process per subscription walks its billing periods; a card process wakes a month before its card
expires; customers' reactions to emails are scheduled callbacks that act on the state at their time.
The processes are in processes.py, the SimPy adapter in environment.py. Every decision that SPEC names
goes through `rules` and `formulas`; every setting comes from `tables.RunTables`; every random draw is
keyed (`rng.Streams`, at indices from `slots.SlotLayout`).

This is the model of record, and the reference path (`simulate(..., fast=False)`). The fast path,
`driver.CompiledEngine`, runs the same model compiled (compiled/); tests/simulation/test_fast_path.py proves
the frames identical. Customers never interact, so SimPy runs them `Engine.batch` at a time.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from recovery_sim.domain import formulas, rules
from recovery_sim.domain.enums import (
    Actor,
    CollectionMethod,
    EmailType,
    EventKind,
    InvoiceStatus,
    SubscriptionStatus,
)
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.simulation.customers import (
    CARD,
    RECIPIENT_KINDS,
    Customers,
    card_emails_at,
    first_periods,
    has_card_process,
    new_card_expiry,
)
from recovery_sim.simulation.events import ACTOR, EMAIL, KIND, NO_INVOICE, STATUS, Recorder
from recovery_sim.simulation.reference.environment import Environment
from recovery_sim.simulation.reference.processes import PAID, Invoice, Processes, Subscription
from recovery_sim.simulation.rng import Purpose, Streams
from recovery_sim.simulation.slots import draw_index
from recovery_sim.simulation.tables import RunTables

_STATUS_EVENT = {
    SubscriptionStatus.CANCELED: EventKind.SUBSCRIPTION_CANCELED,
    SubscriptionStatus.UNPAID: EventKind.SUBSCRIPTION_UNPAID,
    SubscriptionStatus.PAST_DUE: EventKind.SUBSCRIPTION_PAST_DUE,
    SubscriptionStatus.PAUSED: EventKind.SUBSCRIPTION_PAUSED,
}


@dataclass(frozen=True, slots=True)
class _Final:
    """A subscription's state after the run, as far as anyone reads it."""

    status: SubscriptionStatus


class Engine(Processes):
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
