"""`ImportedHistory`: a Stripe history in the simulator's frames, and the mapping of checked typed rows
into it (clock, customers, invoices and charges, events)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl

from recovery_sim.domain.calendar import add_months
from recovery_sim.settings.config import Policy
from recovery_sim.simulation.events import EmailTypeEnum
from recovery_sim.stripe import customer_frames as cf
from recovery_sim.stripe import invoice_frames as inf
from recovery_sim.stripe.clock import history_clock
from recovery_sim.stripe.event_log import event_log
from recovery_sim.stripe.fields import OBJECT_TYPES


@dataclass
class ImportedHistory:
    """A Stripe history in the simulator's frames, plus the Stripe detail the replay and calibration need.

    `events`, `invoices`, `customers` and `emails` have the simulator's columns and dtypes, so
    `metrics.summary(history)` works unchanged (`emails` is empty: Stripe exports no sent emails).
    Times are days since `start_date` 00:00 UTC, as in a simulation.
    """

    events: pl.DataFrame
    emails: pl.DataFrame
    invoices: pl.DataFrame
    customers: pl.DataFrame
    subscriptions: pl.DataFrame
    invoice_details: pl.DataFrame
    charges: pl.DataFrame
    payment_methods: pl.DataFrame
    start_date: dt.date
    horizon_months: int
    test_mode: bool
    source: Path
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    policy: Policy = field(
        default_factory=lambda: Policy(name="history", description="observed Stripe history")
    )
    seed: int | None = None
    replication: int = 0

    @property
    def horizon_days(self) -> float:
        return float((add_months(self.start_date, self.horizon_months) - self.start_date).days)

    @cached_property
    def scenario(self):
        """What is knowable as a Scenario: the calibrated one (calibrate.fit) for this history."""
        from recovery_sim.stripe.calibrate import (
            fit,  # the calibration reads ImportedHistory; import here to avoid a cycle,
        )

        return fit(self).scenario


def build_history(
    tables: dict[str, pl.DataFrame],
    path: Path,
    warnings: list[str],
    start: dt.date | None = None,
    horizon_months: int | None = None,
    recipients: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> ImportedHistory:
    """Checked typed rows → an `ImportedHistory`; `tables` is emptied of invoices and charges on the way
    (memory). `recipients` = (verified domains, team emails) as given to `import_stripe`."""
    warn = warnings.append
    clock = history_clock(tables, start, horizon_months, warn)
    livemode = pl.concat([tables[k].select("livemode") for k in OBJECT_TYPES])["livemode"].drop_nulls()
    verified = tuple(d.lower().lstrip("@") for d in recipients[0])
    team = tuple(e.lower() for e in recipients[1])
    subs = cf.latest_subscriptions(tables["subscriptions"], warn)
    customers = cf.customer_ids(tables, subs, warn)
    pms = cf.payment_methods(tables["payment_methods"], customers, clock)
    invoices = inf.invoices(tables, customers, subs, warn)
    charges = inf.charges(tables, invoices, pms, clock, warn)
    subs = cf.trial_facts(subs, customers, pms, clock)
    details, frame = inf.invoice_frames(invoices, charges, subs, customers, pms, clock, warn)
    customer_frame = cf.customer_frame(customers, subs, pms, clock, (verified, team))
    sub_frame = cf.subscription_frame(subs, charges, details, clock)
    events = event_log(frame, details, charges, sub_frame, customer_frame, pms, clock)
    test_mode = bool(livemode.len() and not livemode.any())
    if livemode.len() and livemode.any() and not livemode.all():
        warn("the export mixes live-mode and test-mode objects; treated as live mode")
    return ImportedHistory(
        events=events,
        emails=empty_emails(),
        invoices=frame,
        customers=customer_frame,
        subscriptions=sub_frame,
        invoice_details=details,
        charges=charges,
        payment_methods=pms,
        start_date=clock.start,
        horizon_months=clock.months,
        test_mode=test_mode,
        source=path,
        warnings=warnings,
    )


def empty_emails() -> pl.DataFrame:
    """The emails frame with no rows: Stripe exports do not include the emails it sent."""
    utc = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        schema={
            "time": pl.Float64,
            "sent_at": utc,
            "customer_id": pl.Int64,
            "invoice_id": pl.Int64,
            "email_type": EmailTypeEnum,
            "link_included": pl.Boolean,
            "link_live_until": utc,
            "management_link": pl.Boolean,
            "delivered": pl.Boolean,
            "acted": pl.Boolean,
        }
    )
