"""The keyed-draw index layout: which index each use of a draw purpose takes, declared once.

A draw is keyed by (purpose, customer, index), so two uses of one purpose that land on the same index
share one random number, and then they are not independent. Indices are laid out per billing period:
`period_key * per_period + slot`, where each use owns a named range of slots (retry attempts,
confirmation emails, invoice reminders, ...), and card-lifecycle draws take `card + card version`,
above every period block.

Ranges are sized from the run's settings, never smaller than the default sizes: a run whose counts fit
those (every shipped policy) keeps the default layout, so its draws stay put; one with more
confirmation emails or invoice reminders than fit gets wider ranges instead of overlapping ones.
Validation bounds every count (config.py), so the layout is finite for any valid run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from recovery_sim.settings.config import Behaviour, Policy

PERIOD_KEYS = 1024
"""Period blocks repeat every 1024 periods: one customer's run spans at most 62 periods (60 months)."""
CARD_BASE_MIN = 100_000
"""The lowest first card index (where the default layout puts it)."""

DEFAULT_SIZES = (
    ("attempt", 16),  # payment attempts 1..12 of one invoice (first attempt and retries)
    ("confirmation", 16),  # R8: the confirmation request, then its reminders
    ("invoice_reminder", 16),  # R5
    ("renewal_reminder", 1),  # R7
    ("trial_reminder", 1),  # R6a
    ("trial_paused", 1),  # R6b
    ("final_notice", 1),  # R4 escalation: the reaction to the final notice
    ("unused", 8),  # keeps the link payment at slot 60, so default draws stay where they always were
    ("link_payment", 1),  # R10c: paying an open invoice through a link
)
DEFAULT_PER_PERIOD = 64


def draw_index(period: int, slot: int, per_period: int) -> int:
    """The draw index of one slot of one billing period (numba-safe: the kernel compiles it)."""
    return (period % PERIOD_KEYS) * per_period + slot


def confirmation_emails_max(policy: Policy, behaviour: Behaviour) -> int:
    """At most how many R8 emails one confirmation sends: the request plus its reminders."""
    if not policy.emails.payment_action_reminders:
        return 1
    longest = max(behaviour.three_ds_expiry_days, behaviour.boleto_expiry_days)
    return 2 + math.ceil(longest / policy.emails.payment_action_reminder_days)


def counts(policy: Policy, behaviour: Behaviour) -> dict[str, int]:
    """Slots each range must hold in this run."""
    return {
        "attempt": 2 + len(policy.retries.offsets()),  # attempt numbers run from 1
        "confirmation": confirmation_emails_max(policy, behaviour),
        "invoice_reminder": len(policy.emails.invoice_reminder_offsets),
    }


@dataclass(frozen=True, slots=True)
class SlotLayout:
    """First slot of each range, the period block's size and the first card index."""

    attempt: int
    confirmation: int
    invoice_reminder: int
    renewal_reminder: int
    trial_reminder: int
    trial_paused: int
    final_notice: int
    link_payment: int
    per_period: int
    card: int
    sizes: tuple[tuple[str, int], ...]

    @classmethod
    def for_run(cls, policy: Policy, behaviour: Behaviour) -> SlotLayout:
        need = counts(policy, behaviour)
        sizes = tuple((name, max(size, need.get(name, 0))) for name, size in DEFAULT_SIZES)
        first, at = {}, 0
        for name, size in sizes:
            first[name] = at
            at += size
        per_period = max(DEFAULT_PER_PERIOD, at)
        del first["unused"]
        return cls(
            **first, per_period=per_period, card=max(CARD_BASE_MIN, PERIOD_KEYS * per_period), sizes=sizes
        )

    def ranges(self) -> dict[str, range]:
        """Every named range of a period block (for checks: they never overlap)."""
        out, at = {}, 0
        for name, size in self.sizes:
            out[name] = range(at, at + size)
            at += size
        return out
