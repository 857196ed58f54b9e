"""The per-run tables both engines read: every setting and per-run decision, built once.

A run's scenario, policy and decline table decide a lot before the first event: which emails are on
(R1, R4-R9), which carry links (R3, R3b, R10b), what test mode delivers (R12), each plan's churn
chance, each cohort's failure rates, the decline codes' shares and retry chances, the draw-slot
layout. `RunTables.build` decides all of it in one place; the SimPy engine reads the fields, and the
compiled driver copies them into the kernel's arrays by field name (`compiled/layout.py`).
Tables are tuples indexed by the recorder's codes (`events.EMAIL`, `events.DECLINE`), plan and cohort.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from recovery_sim.domain import formulas, rules
from recovery_sim.domain.declines import EXPIRED_CARD, decline_codes
from recovery_sim.domain.enums import CollectionMethod, DunningAction, EmailType
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.simulation.customers import BOLETO, CARD, RECIPIENT_KINDS, PlanRow
from recovery_sim.simulation.events import DECLINE, DECLINES
from recovery_sim.simulation.slots import SlotLayout

END_ACTIONS = (DunningAction.CANCEL, DunningAction.MARK_UNPAID, DunningAction.LEAVE_PAST_DUE)
"""`end_action` codes: the index here."""
COLLECTIONS = (CollectionMethod.CHARGE_AUTOMATICALLY, CollectionMethod.SEND_INVOICE)
"""Link tables' second index: 0 charge_automatically, 1 send_invoice."""


def decline_edges(scenario: Scenario) -> np.ndarray:
    """Cumulative shares of the decline codes (file order) that a failed first attempt draws from."""
    mix = scenario.decline_mix
    shares = [mix.get(d.code, 0.0) if mix else d.share for d in decline_codes()]
    return np.cumsum(shares) / sum(shares)


@dataclass(frozen=True, slots=True)
class RunTables:
    """One run's settings and decisions; field names are the kernel layout's names."""

    # behaviour and scenario scalars (days, chances)
    horizon: float
    fatigue: float
    new_method_success: float
    reminder_cancel: float
    act_delay: float
    spontaneous_fix: float
    spontaneous_delay: float
    boleto_expiry: float
    three_ds_expiry: float
    confirm_unprompted: float
    pay_share: float
    pay_delay: float
    write_off: float
    trial_cancel: float
    card_self_update: float
    card_updater: float
    renewal_days: float
    confirm_step: float
    final_notice_days: float
    # policy switches and codes
    end_action: int
    retry_hard: bool
    trial_reminders: bool
    confirm_reminders: bool
    invoice_reminders: bool
    payment_failed: bool
    final_notice: bool
    start_day: int
    card: int
    boleto: int
    expired_card: int
    generic_decline: int
    authentication_expired: int
    slots: SlotLayout
    # per email type (events.EMAIL code)
    sends: tuple[bool, ...]
    act_chance: tuple[float, ...]
    links: tuple[tuple[bool, bool], ...]  # R3, R10b: [type][collection]
    management: tuple[tuple[bool, bool], ...]  # R3b: [type][collection]
    delivered: tuple[tuple[bool, ...], ...]  # R12: [type][recipient kind]
    # per plan, per cohort
    plan_step: tuple[int, ...]
    plan_price: tuple[int, ...]
    plan_churn: tuple[float, ...]
    plan_reminder: tuple[bool, ...]  # R7a: the plan's interval gets renewal reminders
    cohort_rate: tuple[float, ...]
    cohort_3ds: tuple[float, ...]
    cohort_due: tuple[float, ...]
    # decline codes: edges and ids in file order; hard and retry success by decline code
    decline_edges: tuple[float, ...]
    decline_ids: tuple[int, ...]
    decline_hard: tuple[bool, ...]
    retry_success: tuple[float, ...]
    retry_offsets: tuple[float, ...]
    invoice_reminder_offsets: tuple[float, ...]

    @classmethod
    def build(cls, scenario: Scenario, policy: Policy, plans: list[PlanRow]) -> RunTables:
        b, e = scenario.behaviour, policy.emails
        types, codes = list(EmailType), decline_codes()
        hard, success = [False] * len(DECLINES), [0.0] * len(DECLINES)
        for d in codes:
            hard[DECLINE[d.code]], success[DECLINE[d.code]] = d.hard, d.retry_success
        test_mode = scenario.test_mode.enabled
        return cls(
            horizon=scenario.horizon_days,
            fatigue=b.fatigue,
            new_method_success=b.new_method_success,
            reminder_cancel=b.reminder_cancel_propensity,
            act_delay=b.act_delay_days,
            spontaneous_fix=b.spontaneous_fix_rate,
            spontaneous_delay=b.spontaneous_fix_delay_days,
            boleto_expiry=b.boleto_expiry_days,
            three_ds_expiry=b.three_ds_expiry_days,
            confirm_unprompted=b.confirm_unprompted,
            pay_share=b.send_invoice_pay_share,
            pay_delay=b.send_invoice_pay_delay_days,
            write_off=float(b.send_invoice_write_off_days),
            trial_cancel=b.trial_cancel_share,
            card_self_update=b.card_self_update_before_expiry,
            card_updater=scenario.card_updater_rate,
            renewal_days=float(e.upcoming_renewal_days),
            confirm_step=e.payment_action_reminder_days,
            final_notice_days=e.final_notice_days,
            end_action=END_ACTIONS.index(policy.end_action),
            retry_hard=policy.retries.retry_hard_declines,
            trial_reminders=e.trial_will_end,
            confirm_reminders=e.payment_action_reminders,
            invoice_reminders=e.invoice_reminders,
            payment_failed=e.payment_failed,
            final_notice=e.final_notice,
            start_day=(scenario.start_date - dt.date(1970, 1, 1)).days,
            card=CARD,
            boleto=BOLETO,
            expired_card=DECLINE[EXPIRED_CARD],
            generic_decline=DECLINE["generic_decline"],
            authentication_expired=DECLINE["authentication_expired"],
            slots=SlotLayout.for_run(policy, b),
            sends=tuple(rules.policy_sends(policy, t) for t in types),
            act_chance=tuple(b.act_on_email.get(t, 0.0) for t in types),
            links=tuple(tuple(rules.carries_update_link(t, m) for m in COLLECTIONS) for t in types),
            management=tuple(
                tuple(rules.carries_management_link(policy, t, m) for m in COLLECTIONS) for t in types
            ),
            delivered=tuple(
                tuple(rules.delivered_in_test_mode(t, r, test_mode) for r in RECIPIENT_KINDS) for t in types
            ),
            plan_step=tuple(p.step_months for p in plans),
            plan_price=tuple(p.price for p in plans),
            plan_churn=tuple(
                formulas.period_churn_chance(b.voluntary_churn_monthly, p.step_months) for p in plans
            ),
            plan_reminder=tuple(
                e.upcoming_renewal and p.interval in e.upcoming_renewal_intervals for p in plans
            ),
            cohort_rate=tuple(c.first_attempt_failure_rate for c in scenario.cohorts),
            cohort_3ds=tuple(c.three_ds_share for c in scenario.cohorts),
            cohort_due=tuple(float(c.days_until_due) for c in scenario.cohorts),
            decline_edges=tuple(decline_edges(scenario).tolist()),
            decline_ids=tuple(DECLINE[d.code] for d in codes),
            decline_hard=tuple(hard),
            retry_success=tuple(success),
            retry_offsets=tuple(policy.retries.offsets()),
            invoice_reminder_offsets=tuple(float(x) for x in e.invoice_reminder_offsets),
        )
