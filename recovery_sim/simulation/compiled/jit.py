"""The domain's plain formulas, compiled: the kernel runs the very functions the SimPy model calls.

`calendar` and `formulas` stay plain Python (no numba import for the SimPy path, the rules or the
previews). Each is compiled here with the functions it calls bound to their compiled twins, and
inlined into the kernel like its own small helpers (a call per event would cost more than its body).
"""

from __future__ import annotations

import types

from numba import njit

from recovery_sim.domain import calendar, formulas
from recovery_sim.simulation import slots


def _compiled(function, **compiled_callees):
    """`function` compiled, its calls to `compiled_callees` going to those compiled functions."""
    if compiled_callees:
        scope = {**function.__globals__, **compiled_callees}
        function = types.FunctionType(
            function.__code__, scope, function.__name__, function.__defaults__, function.__closure__
        )
    return njit(inline="always")(function)


days_from_civil = _compiled(calendar.days_from_civil)
civil_from_days = _compiled(calendar.civil_from_days)
add_civil_months = _compiled(calendar.add_civil_months, days_from_civil=days_from_civil)

_calendar = {"days_from_civil": days_from_civil, "add_civil_months": add_civil_months}
payment_failed_email_due = _compiled(formulas.payment_failed_email_due)
dunning_ends_at = _compiled(formulas.dunning_ends_at)
final_notice_due = _compiled(formulas.final_notice_due)
final_notice_at = _compiled(formulas.final_notice_at)
invoice_reminder_at = _compiled(formulas.invoice_reminder_at)
trial_reminder_at = _compiled(formulas.trial_reminder_at)
renewal_reminder_at = _compiled(formulas.renewal_reminder_at)
next_confirmation_reminder = _compiled(formulas.next_confirmation_reminder)
before_expiry = _compiled(formulas.before_expiry)
card_expires_day = _compiled(formulas.card_expires_day, **_calendar)
card_expiring_email_day = _compiled(formulas.card_expiring_email_day, **_calendar)
link_live_until = _compiled(formulas.link_live_until)
status_kills_link = _compiled(formulas.status_kills_link)
link_is_live = _compiled(formulas.link_is_live, status_kills_link=status_kills_link)
act_chance = _compiled(formulas.act_chance)
period_churn_chance = _compiled(formulas.period_churn_chance)
invoice_id = _compiled(formulas.invoice_id)
draw_index = _compiled(slots.draw_index)
