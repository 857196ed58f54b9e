"""Every fact about each email type, in one table that the rules, the analysis and the emails read.

Adding a notification type means adding its `EmailType` member and one row here (docs/email-types.md
walks through the rest: templates, catalogs, goldens). The per-purpose sets elsewhere
(`rules.UPDATE_LINK_TYPES`, `breakdowns.RECOVERY_EMAIL_TYPES`, …) are views of this table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass

from recovery_sim.domain.enums import EmailType


@dataclass(frozen=True, slots=True)
class EmailTypeFacts:
    """One email type's row: which rules define it and how every part of the toolkit treats it."""

    email_type: EmailType
    _: KW_ONLY
    rules: tuple[str, ...]
    """SPEC rule ids that define the type or say how it is treated."""
    switch: str | None
    """The `Policy` field path that turns it on (R1), e.g. `emails.payment_failed`; None: never sent."""
    update_link: bool
    """R3: carries the update-payment-method link (R10b still removes it for send_invoice)."""
    management_link: bool
    """R3b: shows the subscription-management link when the policy configures one."""
    logged: bool
    """R13: appears in the customer's email log."""
    test_mode: bool
    """R12: one of the four types a test account still delivers (to its own addresses)."""
    trial: bool
    """About a trial (R6): its link lives per R11a/R11c instead of dying with the period (R11d)."""
    asks_to_act: bool
    """Asks the customer to act (R4-R9), so analysis counts it in the recovery-efficiency ratio."""
    invoice_link: bool
    """Links the invoice's own hosted page on send_invoice subscriptions, where the customer reads and
    pays it (R5). R10b forbids only the update-payment page there, so this link stays."""
    required_facts: tuple[str, ...]
    """`EmailContext` fields without which the email cannot say what it is about."""
    gallery_note: str
    """The rules the gallery shows beside each preview."""

    @property
    def html_template(self) -> str:
        return f"{self.email_type.value}.html.j2"

    @property
    def text_template(self) -> str:
        """Also holds the `subject` and `preheader` blocks."""
        return f"{self.email_type.value}.txt.j2"


TABLE: tuple[EmailTypeFacts, ...] = (
    EmailTypeFacts(
        EmailType.PAYMENT_FAILED,
        rules=("R4",),
        switch="emails.payment_failed",
        update_link=True,
        management_link=True,
        logged=True,
        test_mode=True,
        trial=False,
        asks_to_act=True,
        invoice_link=False,
        required_facts=(),
        gallery_note="R4 · update link (R3)",
    ),
    EmailTypeFacts(
        EmailType.PAYMENT_ACTION_REQUIRED,
        rules=("R8(1)",),
        switch="emails.payment_action_required",
        update_link=True,
        management_link=False,
        logged=True,
        test_mode=False,
        trial=False,
        asks_to_act=True,
        invoice_link=False,
        required_facts=(),
        gallery_note="R8(1) · hosted confirmation link (R3)",
    ),
    EmailTypeFacts(
        EmailType.PAYMENT_ACTION_REMINDER,
        rules=("R8(2)",),
        switch="emails.payment_action_reminders",
        update_link=True,  # R8(2): "each reminder carries a link like the original"
        management_link=False,
        logged=False,
        test_mode=False,
        trial=False,
        asks_to_act=True,
        invoice_link=False,
        required_facts=(),
        gallery_note="R8(2) · same link as the original (R3)",
    ),
    EmailTypeFacts(
        EmailType.INVOICE_REMINDER,
        rules=("R5",),
        switch="emails.invoice_reminders",
        update_link=False,
        management_link=True,
        logged=False,
        test_mode=False,
        trial=False,
        asks_to_act=True,
        invoice_link=True,
        required_facts=("invoice_number",),
        gallery_note="R5 · no update link on send_invoice (R10b) · the invoice's own page",
    ),
    EmailTypeFacts(
        EmailType.TRIAL_WILL_END,
        rules=("R6a",),
        switch="emails.trial_will_end",
        update_link=True,
        management_link=True,
        logged=True,
        test_mode=True,
        trial=True,
        asks_to_act=True,
        invoice_link=False,
        required_facts=("trial_end",),
        gallery_note="R6a · link dies per R11a/R11c",
    ),
    EmailTypeFacts(
        EmailType.TRIAL_ENDED_PAUSED,
        rules=("R6b",),
        switch="emails.trial_will_end",  # the same setting as the reminder: both tell of the trial's end
        update_link=True,  # R6b: activation happens on the hosted page
        management_link=False,
        logged=False,
        test_mode=False,
        trial=True,
        asks_to_act=True,
        invoice_link=False,
        required_facts=(),
        gallery_note="R6b · activation on the hosted page",
    ),
    EmailTypeFacts(
        EmailType.UPCOMING_RENEWAL,
        rules=("R7a", "R7b"),
        switch="emails.upcoming_renewal",
        update_link=True,
        management_link=True,
        logged=False,
        test_mode=True,
        trial=False,
        asks_to_act=True,
        invoice_link=False,
        required_facts=("period_end",),  # R7b: the renewal date is the point of the email
        gallery_note="R7 · date in the customer's time zone (R7b)",
    ),
    EmailTypeFacts(
        EmailType.CARD_EXPIRING,
        rules=("R9",),
        switch="emails.card_expiring",
        update_link=True,
        management_link=True,
        logged=True,
        test_mode=True,
        trial=False,
        asks_to_act=True,
        invoice_link=False,
        required_facts=("card_exp_month", "card_exp_year"),
        gallery_note="R9 · update link (R3)",
    ),
    EmailTypeFacts(
        EmailType.INVOICE_FINALIZED,
        rules=("R13",),
        switch="emails.invoice_finalized",
        update_link=False,
        management_link=False,
        logged=True,
        test_mode=False,
        trial=False,
        asks_to_act=False,
        invoice_link=True,
        required_facts=("invoice_number",),
        gallery_note="logged (R13)",
    ),
    EmailTypeFacts(
        EmailType.INVOICE_PAID,
        rules=("R13",),
        switch="emails.receipts",
        update_link=False,
        management_link=True,
        logged=True,
        test_mode=False,
        trial=False,
        asks_to_act=False,
        invoice_link=False,
        required_facts=("invoice_number",),
        gallery_note="receipt, logged (R13)",
    ),
    EmailTypeFacts(
        EmailType.ONE_OFF_INVOICE_UNPAID,
        rules=("R13",),
        switch=None,
        update_link=False,
        management_link=False,
        logged=True,
        test_mode=False,
        trial=False,
        asks_to_act=False,
        invoice_link=True,
        required_facts=("invoice_number",),
        gallery_note="logged (R13)",
    ),
    EmailTypeFacts(
        EmailType.CREDIT_NOTE_CREATED,
        rules=("R13",),
        switch=None,
        update_link=False,
        management_link=False,
        logged=True,
        test_mode=False,
        trial=False,
        asks_to_act=False,
        invoice_link=False,
        required_facts=("invoice_number",),
        gallery_note="logged (R13)",
    ),
    EmailTypeFacts(
        EmailType.REFUND_ISSUED,
        rules=("R13",),
        switch=None,
        update_link=False,
        management_link=False,
        logged=True,
        test_mode=False,
        trial=False,
        asks_to_act=False,
        invoice_link=False,
        required_facts=(),
        gallery_note="logged (R13)",
    ),
    EmailTypeFacts(
        EmailType.SUBSCRIPTION_CANCELED,
        rules=("R13", "R11b"),
        switch="emails.subscription_canceled",
        update_link=False,
        management_link=False,
        logged=True,
        test_mode=False,
        trial=False,
        asks_to_act=False,
        invoice_link=False,
        required_facts=(),
        gallery_note="logged (R13) · links die (R11b)",
    ),
    EmailTypeFacts(
        EmailType.FINAL_NOTICE,
        rules=("R4", "R11b"),
        switch="emails.final_notice",
        update_link=True,  # R3: a payment-failure notification, the last one before the end action
        management_link=False,
        logged=False,  # not one of R13's logged types
        test_mode=False,  # not one of R12's four
        trial=False,
        asks_to_act=True,
        invoice_link=False,
        required_facts=("invoice_number", "dunning_ends_at", "end_action"),
        gallery_note="R4 · final notice before the end-of-dunning action · its link dies then (R11b)",
    ),
)
"""One row per `EmailType`, in the enum's order."""

BY_TYPE: Mapping[EmailType, EmailTypeFacts] = {row.email_type: row for row in TABLE}


def about(email_type: EmailType | str) -> EmailTypeFacts:
    """The row of `email_type` (its plain string value works too)."""
    return BY_TYPE[EmailType(email_type)]


def types_where(test: Callable[[EmailTypeFacts], bool]) -> frozenset[EmailType]:
    """The types whose row passes `test`: how the per-purpose sets are derived from the table."""
    return frozenset(row.email_type for row in TABLE if test(row))
