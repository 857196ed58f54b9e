"""Vectorised generation of the customer base: who they are, what they pay, which card they hold.

Every attribute is a keyed draw (rng.Purpose × customer id), so a customer is the same person under
every policy and in every shard. Returns plain numpy columns plus small lookup tables.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from recovery_sim.domain.calendar import add_months, boundaries
from recovery_sim.domain.enums import CollectionMethod, PaymentMethodKind, PlanInterval, RecipientKind
from recovery_sim.settings.config import Scenario, TestMode
from recovery_sim.simulation.rng import Purpose, Streams

METHOD_KINDS = list(PaymentMethodKind)
RECIPIENT_KINDS = list(RecipientKind)
CARD = METHOD_KINDS.index(PaymentMethodKind.CARD)
BOLETO = METHOD_KINDS.index(PaymentMethodKind.BOLETO)


@dataclass(frozen=True)
class PlanRow:
    cohort: int
    name: str
    interval: PlanInterval
    price: int
    currency: str

    @property
    def step_months(self) -> int:
        return 12 if self.interval is PlanInterval.YEAR else 1


@dataclass(frozen=True)
class CountryRow:
    code: str
    timezone: str | None
    locale: str


@dataclass
class Customers:
    """One row per customer (= one subscription), as numpy columns."""

    ids: np.ndarray  # int64, global customer id
    cohort: np.ndarray  # int16 index into scenario.cohorts
    plan: np.ndarray  # int32 index into plans
    country: np.ndarray  # int32 index into countries
    signup_at: np.ndarray  # float days since start (negative: existing base)
    trial_days: np.ndarray  # int32, 0 = no trial
    trial_without_method: np.ndarray  # bool
    send_invoice: np.ndarray  # bool
    method: np.ndarray  # int8 index into METHOD_KINDS
    card_exp_month: np.ndarray  # int16 (1-12); 0 for non-card
    card_exp_year: np.ndarray  # int16
    card_expires_at: np.ndarray  # float days; +inf for non-card
    recipient: np.ndarray  # int8 index into RECIPIENT_KINDS
    anchor_day: np.ndarray  # int64 whole days of the billing anchor
    anchor_frac: np.ndarray  # float fraction of a day
    plans: list[PlanRow]
    countries: list[CountryRow]

    def __len__(self) -> int:
        return len(self.ids)

    def frame(self) -> pl.DataFrame:
        """The customer table as a polars frame (for joins in metrics and previews).

        Text columns are gathered from the small plan and country tables: no Python string per row.
        """

        def text(name: str, values: list, index: np.ndarray) -> pl.Series:
            return pl.Series(name, values, pl.String).gather(index)

        plan, country = self.plan.astype(np.int64), self.country.astype(np.int64)
        plans, countries = self.plans, self.countries
        return pl.DataFrame(
            [
                pl.Series("customer_id", self.ids),
                pl.Series("cohort_index", self.cohort.astype(np.int16)),
                text("plan", [p.name for p in plans], plan),
                text("interval", [p.interval.value for p in plans], plan),
                pl.Series("price", np.array([p.price for p in plans], dtype=np.int64)[plan]),
                text("currency", [p.currency for p in plans], plan),
                text("country", [c.code for c in countries], country),
                text("timezone", [c.timezone for c in countries], country),
                text("locale", [c.locale for c in countries], country),
                pl.Series("signup_at", self.signup_at),
                pl.Series("trial_days", self.trial_days),
                text("collection_method", _COLLECTION_METHODS, self.send_invoice.astype(np.int64)),
                text("payment_method", [m.value for m in METHOD_KINDS], self.method.astype(np.int64)),
                pl.Series("card_exp_month", self.card_exp_month),
                pl.Series("card_exp_year", self.card_exp_year),
                text("recipient", [r.value for r in RECIPIENT_KINDS], self.recipient.astype(np.int64)),
            ]
        )


_COLLECTION_METHODS = [CollectionMethod.CHARGE_AUTOMATICALLY.value, CollectionMethod.SEND_INVOICE.value]


def _pick(u: np.ndarray, shares: list[float]) -> np.ndarray:
    """Index of the category whose cumulative share first exceeds u."""
    edges = np.cumsum(shares)
    edges[-1] = 1.0 + 1e-12
    return np.searchsorted(edges, u, side="right").astype(np.int32)


def generate(scenario: Scenario, streams: Streams, ids: np.ndarray | None = None) -> Customers:
    """Customers `ids` (default: all) of the scenario; any subset gives the same rows as the whole."""
    sizes = np.array([c.customers for c in scenario.cohorts], dtype=np.int64)
    if ids is None:
        ids = np.arange(sizes.sum(), dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64)
    cohort = (np.searchsorted(np.cumsum(sizes), ids, side="right")).astype(np.int16)
    start = scenario.start_date

    plans: list[PlanRow] = []
    countries: list[CountryRow] = []
    n = len(ids)
    plan = np.zeros(n, np.int32)
    country = np.zeros(n, np.int32)
    signup_at = np.zeros(n)
    trial_days = np.zeros(n, np.int32)
    trial_without_method = np.zeros(n, bool)
    send_invoice = np.zeros(n, bool)
    method = np.zeros(n, np.int8)
    exp_months_ahead = np.zeros(n, np.int64)
    for index, spec in enumerate(scenario.cohorts):
        rows = np.flatnonzero(cohort == index)
        if rows.size == 0:
            plans.extend(PlanRow(index, p.name, p.interval, p.price, p.currency) for p in spec.plans)
            countries.extend(CountryRow(c.code, c.timezone, c.locale) for c in spec.countries)
            continue
        cid = ids[rows]
        plan[rows] = len(plans) + _pick(streams.uniforms(Purpose.PLAN, cid), [p.share for p in spec.plans])
        plans.extend(PlanRow(index, p.name, p.interval, p.price, p.currency) for p in spec.plans)
        country[rows] = len(countries) + _pick(
            streams.uniforms(Purpose.COUNTRY, cid), [c.share for c in spec.countries]
        )
        countries.extend(CountryRow(c.code, c.timezone, c.locale) for c in spec.countries)
        first = float((spec.signup_date - start).days)
        last = float((add_months(spec.signup_date, spec.signup_spread_months) - start).days)
        signup_at[rows] = first + streams.uniforms(Purpose.SIGNUP, cid) * (last - first)
        in_horizon = signup_at[rows] >= 0
        has_trial = in_horizon & (streams.uniforms(Purpose.TRIAL, cid) < spec.trial_share)
        trial_days[rows] = np.where(has_trial, spec.trial_days, 0)
        trial_without_method[rows] = has_trial & (
            streams.uniforms(Purpose.TRIAL_NO_METHOD, cid) < spec.trial_without_payment_method_share
        )
        send_invoice[rows] = streams.uniforms(Purpose.COLLECTION, cid) < spec.send_invoice_share
        mix = spec.payment_mix
        method[rows] = _pick(
            streams.uniforms(Purpose.METHOD_KIND, cid),
            [getattr(mix, kind.value) for kind in METHOD_KINDS],
        )
        exp_months_ahead[rows] = 1 + np.floor(
            streams.uniforms(Purpose.CARD_EXPIRY, cid) * spec.card_expiry_months_max
        ).astype(np.int64)

    # A send_invoice customer pays each invoice by hand; keep their method for reporting only.
    is_card = method == METHOD_KINDS.index(PaymentMethodKind.CARD)
    signup_floor = np.floor(signup_at)
    exp_month, exp_year, expires_at = _first_cards(signup_floor, exp_months_ahead, is_card, start)
    return Customers(
        ids=ids,
        cohort=cohort,
        plan=plan,
        country=country,
        signup_at=signup_at,
        trial_days=trial_days,
        trial_without_method=trial_without_method,
        send_invoice=send_invoice,
        method=method,
        card_exp_month=exp_month,
        card_exp_year=exp_year,
        card_expires_at=expires_at,
        recipient=_recipients(streams, ids, scenario.test_mode),
        anchor_day=signup_floor.astype(np.int64) + trial_days,
        anchor_frac=signup_at - signup_floor,
        plans=plans,
        countries=countries,
    )


def _first_cards(
    signup_floor: np.ndarray, months_ahead: np.ndarray, is_card: np.ndarray, start: dt.date
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The card in hand now: it expires some month from the later of signup and the scenario start.

    Returns its expiry month and year (0 for other methods) and the day it expires (inf for others)."""
    start64 = np.datetime64(start, "D")
    base = np.maximum(signup_floor.astype(np.int64), 0).astype("timedelta64[D]") + start64
    month_index = base.astype("datetime64[M]").astype(np.int64) + months_ahead  # months since 1970
    year = (1970 + month_index // 12).astype(np.int16)
    month = (month_index % 12 + 1).astype(np.int16)
    first_day_after = np.array(month_index + 1, dtype="datetime64[M]").astype("datetime64[D]")
    expires = (first_day_after - start64).astype(np.int64)
    return (
        np.where(is_card, month, 0).astype(np.int16),
        np.where(is_card, year, 0).astype(np.int16),
        np.where(is_card, expires.astype(np.float64), np.inf),
    )


def _recipients(streams: Streams, ids: np.ndarray, test_mode: TestMode) -> np.ndarray:
    """SPEC R12: which customers' addresses test mode delivers to (verified domain, team member)."""
    u = streams.uniforms(Purpose.RECIPIENT, ids)
    return np.where(
        u < test_mode.verified_domain_share,
        RECIPIENT_KINDS.index(RecipientKind.VERIFIED_DOMAIN),
        np.where(
            u < test_mode.verified_domain_share + test_mode.team_member_share,
            RECIPIENT_KINDS.index(RecipientKind.TEAM_MEMBER),
            RECIPIENT_KINDS.index(RecipientKind.EXTERNAL),
        ),
    ).astype(np.int8)


def new_card_expiry(
    streams: Streams, customer: int, version: int, now: float, start: dt.date
) -> tuple[int, int]:
    """A replacement card's (exp_month, exp_year): two to five years after `now`."""
    months_ahead = 24 + int(streams.uniform(Purpose.NEW_CARD_EXPIRY, customer, version) * 36)
    today = start + dt.timedelta(days=int(now))
    target = add_months(dt.date(today.year, today.month, 1), months_ahead)
    return target.month, target.year


def card_emails_at(c: Customers, start: dt.date) -> np.ndarray:
    """R9 `formulas.card_expiring_email_day` for every customer's first card (vectorised; +inf: no card)."""
    month = (c.card_exp_year.astype(np.int64) - 1970) * 12 + c.card_exp_month.astype(np.int64) - 1
    first = month.astype("datetime64[M]").astype("datetime64[D]")
    days = (first - np.datetime64(start, "D")).astype(np.int64)
    return np.where(np.isfinite(c.card_expires_at), days.astype(np.float64), math.inf)


def has_card_process(c: Customers, card_email_at: np.ndarray, horizon: float) -> np.ndarray:
    """Customers whose first card gets an R9 process: charge_automatically cards emailed in the horizon."""
    return ~c.send_invoice & (c.method == CARD) & (card_email_at < horizon)


def first_periods(c: Customers, start: dt.date, plan_step: np.ndarray) -> np.ndarray:
    """Per customer, the first period whose renewal is at or after the start (0 for new signups)."""
    step = plan_step[c.plan]
    existing = c.signup_at < 0
    k = np.where(existing, np.maximum(np.floor(-c.signup_at / 30.44 / step).astype(np.int64) - 1, 0), 0)
    rows = np.flatnonzero(existing)  # the estimate is at most a period or two short: step those forward
    while rows.size:
        at = boundaries(start, c.anchor_day[rows], c.anchor_frac[rows], 1, k[rows] * step[rows])
        rows = rows[at < 0]
        k[rows] += 1
    return k
