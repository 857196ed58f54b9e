"""The model's SimPy processes: a customer's lifecycle with its trial, periods, first attempt,
confirmation and dunning; a card process per card; a process per send_invoice invoice.

`Processes` is the half of `engine.Engine` that SPEC's timeline lives in; the other half (engine.py)
holds the run's set-up, the state changes and the customer actions these processes call. Each process
has a compiled twin of the same name (compiled/processes.py, listed in `layout.SIMPY_PROCESSES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
from recovery_sim.simulation.customers import BOLETO, CARD, METHOD_KINDS
from recovery_sim.simulation.events import DECLINE, STATUS
from recovery_sim.simulation.rng import Purpose
from recovery_sim.simulation.slots import draw_index

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


class Processes:
    """The generator methods SimPy runs as processes (and the decisions only they make)."""

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
        method = METHOD_KINDS[self.cl.method[s.j]]
        notice_at = rules.final_notice_at(self.policy, self._collection(s), method, t0)
        if notice_at is not None:
            self._at(notice_at, self._final_notice, s, invoice, rules.dunning_ends_at(self.policy, t0))
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

    def _final_notice(self, s: Subscription, invoice: Invoice, dunning_ends: float) -> None:
        """R4 escalation: the last notice before the end-of-dunning action, while the invoice is open and
        the subscription runs. Its link dies when dunning ends (R11b), the deadline the email states;
        fatigue counts the R4 emails of the episode before it."""
        if invoice.status != OPEN or s.ended:
            return
        index = draw_index(invoice.period, self.slots.final_notice, self.slots.per_period)
        period_end = rules.foreseen_link_deadline(
            s.period_end, dunning_ends_at=dunning_ends, end_action=self.policy.end_action
        )
        r4_emails = rules.payment_failed_email_due(
            self.policy, self._collection(s), METHOD_KINDS[self.cl.method[s.j]]
        )
        earlier = invoice.attempts if r4_emails else 0
        sent = self._send(s, EmailType.FINAL_NOTICE, invoice, period_end, act_index=index, earlier=earlier)
        if sent and sent[0]:
            when = self.env.now + self._delay(Purpose.ACT_DELAY, s, index, self.behaviour.act_delay_days)
            self._at(when, self._follow_link, s, sent[1], invoice.period)

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
