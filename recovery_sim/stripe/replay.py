"""Replay a real (imported) history under a chosen policy: which emails would have gone out, when, with
which link and until when the link works.

Why: before switching a notification on, a business wants to see what it would have sent to its own
customers. Every decision comes from `rules` (R3-R13), applied to the facts Stripe recorded: failed
charges, trials, renewals, cards, send_invoice due dates, subscription statuses (R11b). The history is
fixed, so a replay says what would have been sent, not how customers would have reacted; for that,
calibrate a scenario (`calibrate.fit`) and simulate.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import polars as pl

from recovery_sim.analysis.metrics import summary
from recovery_sim.domain import rules
from recovery_sim.domain.enums import (
    CollectionMethod,
    EmailType,
    PaymentMethodKind,
    PlanInterval,
    RecipientKind,
    SubscriptionStatus,
)
from recovery_sim.settings.config import Behaviour, Policy
from recovery_sim.simulation.events import EmailTypeEnum
from recovery_sim.stripe.history import ImportedHistory

_CANDIDATE = {
    "time": pl.Float64,
    "customer_id": pl.Int64,
    "invoice_id": pl.Int64,
    "email_type": pl.String,
    "collection_method": pl.String,
    "period_end": pl.Float64,
    "trial_end": pl.Float64,
    "had_method": pl.Boolean,
}


@dataclass
class Replay:
    """A replay's emails, their counts by type, and the history's observed headline metrics."""

    policy: Policy
    emails: pl.DataFrame
    counts: pl.DataFrame
    observed: pl.DataFrame


def replay(
    history: ImportedHistory,
    policy: Policy,
    *,
    behaviour: Behaviour | None = None,
    invoice_documents: bool = False,
) -> pl.DataFrame:
    """The emails `policy` would have sent over the history, in the simulator's emails columns.

    `behaviour` supplies how long a 3-D Secure / Boleto confirmation stays open (R8(2) reminders stop at
    expiry); `invoice_documents` adds the invoice email Stripe sends for every send_invoice invoice
    whatever the settings (the simulator counts it too), which is off by default so that the `none`
    policy sends nothing.
    """
    behaviour = behaviour or Behaviour()
    parts = [
        _payment_failed(history, policy),
        _final_notices(history, policy),
        _confirmations(history, policy, behaviour),
        _invoice_reminders(history, policy),
        _trials(history, policy),
        _renewals(history, policy),
        _cards(history, policy),
        _informational(history, policy, invoice_documents),
    ]
    candidates = (
        pl.concat([p.cast(_CANDIDATE) for p in parts if p.height], how="vertical")
        if any(p.height for p in parts)
        else pl.DataFrame(schema=_CANDIDATE)
    )
    candidates = candidates.filter((pl.col("time") >= 0) & (pl.col("time") < history.horizon_days))
    return _decide_links(history, policy, candidates)


def replay_report(history: ImportedHistory, policy: Policy, **options) -> Replay:
    """`replay` plus counts per email type and `metrics.summary` of what actually happened."""
    emails = replay(history, policy, **options)
    counts = (
        emails.group_by(pl.col("email_type").cast(pl.String))
        .agg(
            pl.len().alias("emails"),
            pl.col("delivered").sum().alias("delivered"),
            pl.col("link_included").sum().alias("with_live_link"),
        )
        .sort("emails", descending=True)
    )
    return Replay(policy, emails, counts, summary(history))


# ------------------------------------------------------------------------------------- candidates


def _invoices(history: ImportedHistory) -> pl.DataFrame:
    return history.invoice_details


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=_CANDIDATE)


def _rows(
    frame: pl.DataFrame,
    email_type: EmailType,
    time: str = "time",
    period_end: str | pl.Expr = "period_end",
    trial_end: str | None = None,
    had_method: str | None = None,
) -> pl.DataFrame:
    return frame.select(
        pl.col(time).alias("time"),
        pl.col("customer_id"),
        (pl.col("invoice_id") if "invoice_id" in frame.columns else pl.lit(None)).alias("invoice_id"),
        pl.lit(email_type.value).alias("email_type"),
        pl.col("collection_method"),
        (pl.col(period_end) if isinstance(period_end, str) else period_end).alias("period_end"),
        (pl.col(trial_end) if trial_end else pl.lit(None)).alias("trial_end"),
        (pl.col(had_method) if had_method else pl.lit(False)).alias("had_method"),
    )


def _method(value: str | None) -> PaymentMethodKind | None:
    try:
        return PaymentMethodKind(value) if value else None
    except ValueError:  # a Stripe type the toolkit does not model (e.g. us_bank_account): not a card
        return None


def _payment_failed(history: ImportedHistory, policy: Policy) -> pl.DataFrame:
    """R4: after each failed charge (first attempt and retries) of a card-paid subscription invoice."""
    failed = history.charges.filter((pl.col("status") == "failed") & ~pl.col("needs_action"))
    failed = failed.join(
        _invoices(history).select("invoice_id", "collection_method", "period_end"), on="invoice_id"
    )
    combos = failed.select("collection_method", "method_type").unique()
    due = [
        rules.payment_failed_email_due(policy, CollectionMethod(c), m)
        if (m := _method(t)) is not None
        else False
        for c, t in combos.iter_rows()
    ]
    combos = combos.with_columns(pl.Series("due", due, dtype=pl.Boolean))
    failed = failed.join(combos, on=["collection_method", "method_type"], how="left", nulls_equal=True)
    return _rows(failed.filter(pl.col("due")), EmailType.PAYMENT_FAILED)


def _final_notices(history: ImportedHistory, policy: Policy) -> pl.DataFrame:
    """R4 escalation: `rules.final_notice_at` after each invoice's first failed charge, while the history
    shows the invoice still unpaid and open and the subscription still running at that instant. Its
    link dies when the end-of-dunning action would end the subscription (R11b) or with the period."""
    failed = history.charges.filter((pl.col("status") == "failed") & ~pl.col("needs_action"))
    if not failed.height or not policy.emails.final_notice:
        return _empty()
    first = failed.group_by("invoice_id").agg(
        pl.col("time").min().alias("first_failure"), pl.col("method_type").first()
    )
    inv = _invoices(history).select(
        "invoice_id", "customer_id", "collection_method", "period_end", "paid_at", "closed_at"
    )
    subs = history.subscriptions.select("customer_id", "status", "status_since")
    rows = []
    for r in first.join(inv, on="invoice_id").join(subs, on="customer_id", how="left").iter_rows(named=True):
        method = _method(r["method_type"])
        at = (
            None
            if method is None
            else rules.final_notice_at(
                policy, CollectionMethod(r["collection_method"]), method, r["first_failure"]
            )
        )
        settled = min(x for x in (r["paid_at"], r["closed_at"], math.inf) if x is not None)
        ended = r["status_since"] if rules.status_kills_link(_status(r["status"])) else None
        if at is None or at >= settled or (ended is not None and at >= ended):
            continue
        ends = rules.dunning_ends_at(policy, r["first_failure"])
        rows.append(
            {
                "time": at,
                "customer_id": r["customer_id"],
                "invoice_id": r["invoice_id"],
                "email_type": EmailType.FINAL_NOTICE.value,
                "collection_method": r["collection_method"],
                "period_end": rules.foreseen_link_deadline(
                    r["period_end"] if r["period_end"] is not None else math.inf,
                    dunning_ends_at=ends,
                    end_action=policy.end_action,
                ),
                "trial_end": None,
                "had_method": False,
            }
        )
    return pl.DataFrame(rows, schema=_CANDIDATE)


def _confirmations(history: ImportedHistory, policy: Policy, behaviour: Behaviour) -> pl.DataFrame:
    """R8(1) at the request; R8(2) reminders until the payment is confirmed (paid) or expires."""
    if not rules.confirmation_email_due(policy):
        return _empty()
    inv = _invoices(history)
    auth = (
        history.charges.filter(pl.col("needs_action"))
        .join(inv.select("invoice_id", "collection_method", "period_end", "paid_at"), on="invoice_id")
        .select(
            "invoice_id",
            "customer_id",
            "time",
            "collection_method",
            "period_end",
            "paid_at",
            pl.lit(behaviour.three_ds_expiry_days).alias("expiry"),
        )
    )
    boleto = inv.filter(  # Boleto waits for the customer on every renewal (the importer's `needs_action`)
        (pl.col("collection_method") == CollectionMethod.CHARGE_AUTOMATICALLY.value)
        & (pl.col("method_type") == PaymentMethodKind.BOLETO.value)
        & pl.col("needs_action")
    ).select(
        "invoice_id",
        "customer_id",
        pl.col("created_at").alias("time"),
        "collection_method",
        "period_end",
        "paid_at",
        pl.lit(behaviour.boleto_expiry_days).alias("expiry"),
    )
    rows = []
    for r in pl.concat([auth, boleto]).iter_rows(named=True):
        t0, expires = r["time"], r["time"] + r["expiry"]
        confirmed = r["paid_at"] if r["paid_at"] is not None else math.inf
        times = [(t0, EmailType.PAYMENT_ACTION_REQUIRED)]
        times += [
            (t, EmailType.PAYMENT_ACTION_REMINDER)
            for t in rules.confirmation_reminder_times(policy, t0, expires)
        ]
        for when, email_type in times:
            if when >= confirmed and when > t0:
                break
            rows.append(
                {
                    "time": when,
                    "customer_id": r["customer_id"],
                    "invoice_id": r["invoice_id"],
                    "email_type": email_type.value,
                    "collection_method": r["collection_method"],
                    "period_end": min(expires, r["period_end"]),
                    "trial_end": None,
                    "had_method": False,
                }
            )
    return pl.DataFrame(rows, schema=_CANDIDATE)


def _invoice_reminders(history: ImportedHistory, policy: Policy) -> pl.DataFrame:
    """R5: send_invoice invoices, at the configured offsets, until paid, voided or written off."""
    inv = _invoices(history).filter(pl.col("due_at").is_not_null())
    subs = history.subscriptions.select("customer_id", "status", "status_since")
    rows = []
    for r in inv.join(subs, on="customer_id", how="left").iter_rows(named=True):
        times = rules.invoice_reminder_times(policy, CollectionMethod(r["collection_method"]), r["due_at"])
        settled = min(x for x in (r["paid_at"], r["closed_at"], math.inf) if x is not None)
        ended = r["status_since"] if r["status"] == SubscriptionStatus.CANCELED.value else None
        for when in times:
            if when >= settled or (ended is not None and when >= ended):
                break
            rows.append(
                {
                    "time": when,
                    "customer_id": r["customer_id"],
                    "invoice_id": r["invoice_id"],
                    "email_type": EmailType.INVOICE_REMINDER.value,
                    "collection_method": r["collection_method"],
                    "period_end": r["due_at"],
                    "trial_end": None,
                    "had_method": False,
                }
            )
    return pl.DataFrame(rows, schema=_CANDIDATE)


def _trials(history: ImportedHistory, policy: Policy) -> pl.DataFrame:
    """R6a: 7 days before the trial ends; R6b: the activation prompt when it ends without a method."""
    subs = history.subscriptions.filter(
        pl.col("trial_end").is_not_null() & pl.col("trial_start").is_not_null()
    )
    rows = []
    for r in subs.iter_rows(named=True):
        at = rules.trial_reminder_at(policy, r["trial_start"], r["trial_end"])
        if at is not None:
            rows.append(
                {
                    "time": at,
                    "customer_id": r["customer_id"],
                    "invoice_id": None,
                    "email_type": EmailType.TRIAL_WILL_END.value,
                    "collection_method": r["collection_method"],
                    "period_end": r["trial_end"],
                    "trial_end": r["trial_end"],
                    "had_method": r["method_at_trial_end"],
                }
            )
    reminders = pl.DataFrame(rows, schema=_CANDIDATE)
    if not rules.policy_sends(policy, EmailType.TRIAL_ENDED_PAUSED):
        return reminders
    paused = (
        _invoices(history)
        .filter(pl.col("paused_trial"))
        .join(subs.select("customer_id", "trial_end"), on="customer_id")
        .with_columns(pl.lit(False).alias("had_method"))
    )
    prompts = _rows(
        paused,
        EmailType.TRIAL_ENDED_PAUSED,
        time="trial_end",
        period_end=pl.lit(math.inf),
        trial_end="trial_end",
        had_method="had_method",
    )
    return pl.concat([reminders, prompts.cast(_CANDIDATE)])


def _renewals(history: ImportedHistory, policy: Policy) -> pl.DataFrame:
    """R7: before each renewal inside the history, and before the renewal pending at its end."""
    if not policy.emails.upcoming_renewal:
        return _empty()
    inv = _invoices(history).sort("customer_id", "created_at")
    subs = history.subscriptions
    renewals = (
        inv.with_columns(pl.col("period_start").shift(1).over("customer_id").alias("previous_start"))
        .filter((pl.col("billing_reason") == "subscription_cycle") & ~pl.col("paused_trial"))
        .join(
            subs.select("customer_id", "trial_end", "interval", "step_months"), on="customer_id", how="left"
        )
        .filter(pl.col("trial_end").is_null() | ((pl.col("created_at") - pl.col("trial_end")).abs() > 1 / 24))
    )
    start_of = pl.coalesce(
        "previous_start",
        _months_before(pl.col("created_at"), pl.col("step_months"), history.start_date),
    )
    renewals = renewals.select(
        "customer_id",
        "invoice_id",
        pl.col("created_at").alias("renew_at"),
        start_of.alias("period_start"),
        "interval",
        "collection_method",
    )
    pending = subs.filter(
        pl.col("current_period_end").is_not_null()
        & (pl.col("current_period_end") >= history.horizon_days)
        & ~pl.col("status").is_in(["canceled", "unpaid", "paused", "incomplete_expired"])
    ).select(
        "customer_id",
        pl.lit(None, dtype=pl.Int64).alias("invoice_id"),
        pl.col("current_period_end").alias("renew_at"),
        pl.col("current_period_start").alias("period_start"),
        "interval",
        "collection_method",
    )
    canceled_at_renewal = subs.filter(
        pl.col("canceled_at").is_not_null()
        & ((pl.col("canceled_at") - pl.col("current_period_end")).abs() < 1 / 24)
        & (pl.col("trial_end").is_null() | ((pl.col("canceled_at") - pl.col("trial_end")).abs() > 1 / 24))
    ).select(
        "customer_id",
        pl.lit(None, dtype=pl.Int64).alias("invoice_id"),
        pl.col("canceled_at").alias("renew_at"),
        pl.col("current_period_start").alias("period_start"),
        "interval",
        "collection_method",
    )
    rows = []
    for r in pl.concat([renewals, pending, canceled_at_renewal]).iter_rows(named=True):
        try:
            interval = PlanInterval(r["interval"])
        except ValueError:
            continue
        at = rules.renewal_reminder_at(policy, interval, r["period_start"], r["renew_at"])
        if at is not None:
            rows.append(
                {
                    "time": at,
                    "customer_id": r["customer_id"],
                    "invoice_id": None,
                    "email_type": EmailType.UPCOMING_RENEWAL.value,
                    "collection_method": r["collection_method"],
                    "period_end": r["renew_at"],
                    "trial_end": None,
                    "had_method": False,
                }
            )
    return _while_subscribed(history, pl.DataFrame(rows, schema=_CANDIDATE))


def _months_before(days: pl.Expr, months: pl.Expr, start: dt.date) -> pl.Expr:
    origin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    at = pl.lit(origin) + pl.duration(seconds=(days * 86_400).round(0).cast(pl.Int64))
    back = at.dt.offset_by(pl.format("-{}mo", months))
    return (back - pl.lit(origin)).dt.total_seconds() / 86_400.0


def _cards(history: ImportedHistory, policy: Policy) -> pl.DataFrame:
    """R9: a month before the card on file expires, for card-paid subscriptions still running."""
    if not policy.emails.card_expiring:
        return _empty()
    pms = history.payment_methods.with_columns(
        pl.col("created").shift(-1).over("customer_id").alias("replaced_at")
    ).filter((pl.col("type") == PaymentMethodKind.CARD.value) & (pl.col("exp_month") > 0))
    subs = history.subscriptions.select(
        "customer_id", "collection_method", "current_period_end", "trial_end", "signup_at"
    )
    pms = pms.join(subs, on="customer_id").filter(
        pl.col("collection_method") == CollectionMethod.CHARGE_AUTOMATICALLY.value
    )
    rows = []
    for r in pms.iter_rows(named=True):
        at = rules.card_expiring_email_at(policy, r["exp_month"], r["exp_year"], history.start_date)
        if at is None or at < r["created"] or at < r["signup_at"]:
            continue
        if r["replaced_at"] is not None and r["replaced_at"] <= at:
            continue  # that card was no longer on file
        rows.append(
            {
                "time": at,
                "customer_id": r["customer_id"],
                "invoice_id": None,
                "email_type": EmailType.CARD_EXPIRING.value,
                "collection_method": r["collection_method"],
                "period_end": None,
                "trial_end": r["trial_end"],
                "had_method": True,
            }
        )
    emails = pl.DataFrame(rows, schema=_CANDIDATE)
    return _while_subscribed(history, _period_end_at(history, emails))


def _period_end_at(history: ImportedHistory, emails: pl.DataFrame) -> pl.DataFrame:
    """R11d for emails not about an invoice: the end of the billing period running when it is sent."""
    periods = (
        _invoices(history)
        .select(
            "customer_id", pl.col("period_start").alias("time"), pl.col("period_end").alias("running_end")
        )
        .sort("time")
    )
    emails = emails.sort("customer_id", "time").join_asof(
        periods.sort("customer_id", "time"),
        on="time",
        by="customer_id",
        strategy="backward",
        check_sortedness=False,
    )
    subs = history.subscriptions.select("customer_id", "current_period_end")
    running = pl.when(pl.col("running_end") > pl.col("time")).then("running_end")
    trial = pl.when(pl.col("trial_end") > pl.col("time")).then("trial_end")
    return (
        emails.join(subs, on="customer_id", how="left")
        .with_columns(pl.coalesce(running, trial, "current_period_end").alias("period_end"))
        .select(list(_CANDIDATE))
    )


def _while_subscribed(history: ImportedHistory, emails: pl.DataFrame) -> pl.DataFrame:
    """Subscription emails stop once the subscription has ended (canceled, unpaid or a paused trial)."""
    subs = history.subscriptions.select(
        "customer_id",
        "signup_at",
        pl.when(pl.col("status").is_in(["canceled", "unpaid", "incomplete_expired"]))
        .then("status_since")
        .when(pl.col("paused_at_trial_end") & (pl.col("status") == "paused"))
        .then("trial_end")
        .alias("ended_at"),
    )
    return (
        emails.join(subs, on="customer_id", how="left")
        .filter(
            (pl.col("time") >= pl.col("signup_at"))
            & (pl.col("ended_at").is_null() | (pl.col("time") < pl.col("ended_at")))
        )
        .select(list(_CANDIDATE))
    )


def _informational(history: ImportedHistory, policy: Policy, invoice_documents: bool) -> pl.DataFrame:
    """Finalized invoices, receipts and cancellations, when the policy has them on."""
    inv = _invoices(history)
    charge_auto = pl.col("collection_method") == CollectionMethod.CHARGE_AUTOMATICALLY.value
    parts = []
    on = rules.policy_sends(policy, EmailType.INVOICE_FINALIZED)
    finalized = (
        inv.filter(charge_auto & ~pl.col("paused_trial")) if on else inv[:0]
    )  # R6b: nothing to pay yet
    if invoice_documents:
        finalized = pl.concat([finalized, inv.filter(~charge_auto & ~pl.col("paused_trial"))])
    parts.append(_rows(finalized, EmailType.INVOICE_FINALIZED, time="created_at"))
    if rules.policy_sends(policy, EmailType.INVOICE_PAID):
        parts.append(
            _rows(inv.filter(pl.col("paid_at").is_not_null()), EmailType.INVOICE_PAID, time="paid_at")
        )
    if rules.policy_sends(policy, EmailType.SUBSCRIPTION_CANCELED):
        canceled = history.subscriptions.filter(pl.col("canceled_at").is_not_null())
        parts.append(
            _rows(
                canceled, EmailType.SUBSCRIPTION_CANCELED, time="canceled_at", period_end="current_period_end"
            )
        )
    return pl.concat([p.cast(_CANDIDATE) for p in parts])


# ------------------------------------------------------------------------------------------ links


def _decide_links(history: ImportedHistory, policy: Policy, candidates: pl.DataFrame) -> pl.DataFrame:
    """R3/R10b (link or not), R11 (until when, and whether already dead), R3b, R12 for each email."""
    people = history.customers.select("customer_id", "recipient").join(
        history.subscriptions.select("customer_id", "status", "status_since"), on="customer_id", how="left"
    )
    rows = candidates.join(people, on="customer_id", how="left").sort("time", "customer_id")
    link, live, management, delivered = [], [], [], []
    for r in rows.iter_rows(named=True):
        email_type = EmailType(r["email_type"])
        collection = CollectionMethod(r["collection_method"] or CollectionMethod.CHARGE_AUTOMATICALLY.value)
        until = None
        carries = rules.carries_update_link(email_type, collection)
        if carries:
            period_end = r["period_end"] if r["period_end"] is not None else math.inf
            until = rules.link_live_until(
                email_type,
                r["time"],
                period_end,
                trial_end=r["trial_end"],
                had_payment_method_at_trial_end=bool(r["had_method"]),
            )
            status = _status(r["status"])
            since = r["status_since"] if r["status_since"] is not None else -rules.NEVER
            carries = rules.link_is_live(until, r["time"], status, since)  # R11: a dead link is not sent
        link.append(carries)
        live.append(until if carries and until is not None and math.isfinite(until) else None)
        management.append(rules.carries_management_link(policy, email_type, collection))
        recipient = RecipientKind(r["recipient"]) if r["recipient"] else RecipientKind.EXTERNAL
        delivered.append(rules.delivered_in_test_mode(email_type, recipient, history.test_mode))
    origin = dt.datetime.combine(history.start_date, dt.time(), tzinfo=dt.UTC)

    def at(days: pl.Expr) -> pl.Expr:
        micros = (days * 86_400_000_000).round(0).cast(pl.Int64)
        return (pl.lit(origin) + pl.duration(microseconds=micros)).dt.cast_time_unit("us")

    return rows.with_columns(
        pl.Series("link_included", link, dtype=pl.Boolean),
        pl.Series("_live", live, dtype=pl.Float64),
        pl.Series("management_link", management, dtype=pl.Boolean),
        pl.Series("delivered", delivered, dtype=pl.Boolean),
    ).select(
        "time",
        at(pl.col("time")).alias("sent_at"),
        "customer_id",
        "invoice_id",
        pl.col("email_type").cast(EmailTypeEnum),
        "link_included",
        at(pl.col("_live")).alias("link_live_until"),
        "management_link",
        "delivered",
        pl.lit(False).alias("acted"),
    )


def _status(value: str | None) -> SubscriptionStatus:
    try:
        return SubscriptionStatus(value)
    except ValueError:
        return SubscriptionStatus.ACTIVE
