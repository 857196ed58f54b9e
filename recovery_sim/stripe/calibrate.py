"""Fit a Scenario from an imported Stripe history, and write it as TOML with its evidence.

Why: the default scenario's figures are assumptions. A business's own history says how often first
attempts fail, which decline codes it sees, what retries recover, when cards expire, which plans and
currencies it sells, how trials and send_invoice customers behave. Each fitted value is written with a
comment saying from how many observations it came, so a reader can tell a solid rate from a guess.
Segments (one scenario cohort each) are currency × existing-before-the-history / signed-up-during-it.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recovery_sim.atomic import write_text
from recovery_sim.domain import rules
from recovery_sim.domain.calendar import add_months
from recovery_sim.domain.declines import decline_code_names
from recovery_sim.domain.enums import CollectionMethod, PaymentMethodKind
from recovery_sim.settings.config import Scenario
from recovery_sim.stripe.errors import StripeImportError
from recovery_sim.stripe.history import ImportedHistory


@dataclass
class Fit:
    """One fitted value and the evidence behind it."""

    value: Any
    note: str


@dataclass
class Calibration:
    """The fitted scenario, its TOML with one comment per value, and the retry tables (not settings)."""

    scenario: Scenario
    toml: str
    cohorts: list[dict[str, Fit]]
    top: dict[str, Fit]
    decline_mix: dict[str, Fit]
    behaviour: dict[str, Fit]
    retry_by_code: pl.DataFrame
    retry_by_attempt: pl.DataFrame
    warnings: list[str] = field(default_factory=list)

    def write(self, path: str | Path) -> Path:
        """Write the scenario TOML atomically (complete under its final name, or not at all)."""
        return write_text(self.toml, path)


# -------------------------------------------------------------------------------------- first attempts


def first_attempts(history: ImportedHistory) -> pl.DataFrame:
    """Renewal first attempts the simulator draws from `first_attempt_failure_rate`: automatic card or
    SEPA charges of renewals (not checkout, not a paused trial's activation), on a card not yet expired
    (an expired card declines whatever the rate: R9 is about exactly that)."""
    inv = history.invoice_details.filter(
        (pl.col("collection_method") == CollectionMethod.CHARGE_AUTOMATICALLY.value)
        & (pl.col("billing_reason") == "subscription_cycle")
        & ~pl.col("paused_trial")
        & pl.col("method_type").is_in([PaymentMethodKind.CARD.value, PaymentMethodKind.SEPA_DEBIT.value])
    ).select("invoice_id", "created_at")
    first = history.charges.filter(pl.col("rank") == 1).join(inv, on="invoice_id")
    first = first.filter((pl.col("time") - pl.col("created_at")) <= 1.0)
    first = _with_expiry(history, first)
    cohort = history.customers.select("customer_id", "cohort")
    return (
        first.filter(~pl.col("card_expired"))
        .join(cohort, on="customer_id")
        .with_columns(((pl.col("status") == "failed") & ~pl.col("needs_action")).alias("failed"))
    )


def _with_expiry(history: ImportedHistory, charges: pl.DataFrame) -> pl.DataFrame:
    """Whether the card charged had expired (rules.card_expires_at: valid through its expiry month)."""
    cards = history.payment_methods.filter(pl.col("exp_month") > 0).select(
        pl.col("id").alias("payment_method"), "exp_month", "exp_year"
    )
    pairs = cards.select("exp_month", "exp_year").unique()
    ends = [rules.card_expires_at(m, y, history.start_date) for m, y in pairs.iter_rows()]
    pairs = pairs.with_columns(pl.Series("expires_at", ends, dtype=pl.Float64))
    return (
        charges.join(cards, on="payment_method", how="left")
        .join(pairs, on=["exp_month", "exp_year"], how="left")
        .with_columns((pl.col("expires_at") <= pl.col("time")).fill_null(False).alias("card_expired"))
    )


def retries(history: ImportedHistory) -> pl.DataFrame:
    """Automatic retries on the card that first failed, still valid, after a decline (not 3-D Secure).

    A retry paid with a new payment method measures the customer, not the retry, so it is left out.
    """
    ch = history.charges
    firsts = ch.filter(
        (pl.col("rank") == 1) & (pl.col("status") == "failed") & ~pl.col("needs_action")
    ).select(
        "invoice_id",
        pl.col("decline_code").alias("first_decline"),
        pl.col("payment_method").alias("first_pm"),
    )
    auto = history.invoice_details.filter(
        pl.col("collection_method") == CollectionMethod.CHARGE_AUTOMATICALLY.value
    ).select("invoice_id")
    later = ch.filter(pl.col("rank") > 1).join(firsts, on="invoice_id").join(auto, on="invoice_id")
    later = later.filter(pl.col("payment_method") == pl.col("first_pm"))
    return _with_expiry(history, later).filter(~pl.col("card_expired"))


# ------------------------------------------------------------------------------------------ helpers


def _share(k: int, n: int) -> float:
    return round(k / n, 6) if n else 0.0


def _normalise(shares: dict[Any, float]) -> dict[Any, float]:
    """Round to 6 decimals and put the rounding residue on the largest share, so they add up to 1."""
    total = sum(shares.values())
    out = {k: round(v / total, 6) for k, v in shares.items()}
    largest = max(out, key=out.get)
    out[largest] = round(out[largest] + 1.0 - sum(out.values()), 6)
    return out


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _date(history: ImportedHistory, days: float) -> dt.date:
    return history.start_date + dt.timedelta(days=math.floor(days))


# ------------------------------------------------------------------------------------------ segments


def _segment(
    history: ImportedHistory, name: str, cust: pl.DataFrame, warnings: list[str]
) -> dict[str, Fit] | None:
    n = cust.height
    start = history.start_date
    existing = name.startswith("existing")
    fits: dict[str, Fit] = {"name": Fit(name, ""), "customers": Fit(n, "customers in the export")}
    signups = [_date(history, d) for d in (cust["signup_at"].min(), cust["signup_at"].max())]
    first_month = dt.date(signups[0].year, signups[0].month, 1)
    if existing:
        spread = max(1, _month_index(start) - _month_index(first_month))
        spread_note = f"signups from {first_month:%Y-%m} up to the history's start"
    else:
        spread = _month_index(signups[1]) - _month_index(first_month) + 1
        spread_note = f"signups from {first_month:%Y-%m} to {signups[1]:%Y-%m}"
    horizon_end = add_months(start, history.horizon_months)
    spread = max(1, min(spread, 120, _month_index(horizon_end) - _month_index(first_month)))
    fits["signup_month"] = Fit(f"{first_month:%Y-%m}", f"earliest signup among {n} customers")
    fits["signup_spread_months"] = Fit(spread, spread_note)

    plans = (
        cust.filter(pl.col("interval").is_in(["month", "year"]) & pl.col("price").is_not_null())
        .group_by("plan", "interval", "price", "currency")
        .len()
        .sort("len", descending=True)
    )
    skipped = n - int(plans["len"].sum() or 0)
    if skipped:
        warnings.append(
            f"{name}: {skipped} customer(s) on plans that are not monthly or yearly left out of the plan mix"
        )
    if plans.height == 0:
        warnings.append(f"{name}: no monthly or yearly plan; segment left out of the scenario")
        return None
    counted = int(plans["len"].sum())
    shares = _normalise({i: c for i, c in enumerate(plans["len"].to_list())})
    fits["plans"] = Fit(
        [
            {
                "name": p or f"plan {i + 1}",
                "interval": iv,
                "price": int(pr),
                "currency": cur,
                "share": shares[i],
            }
            for i, (p, iv, pr, cur, _) in enumerate(plans.iter_rows())
        ],
        [f"{c} of {counted} customers" for c in plans["len"].to_list()],
    )
    fits["countries"] = _countries(cust)
    fits["payment_mix"] = _payment_mix(cust)
    _trials(history, cust, existing, fits)
    _collection(history, cust, fits)
    _failures(history, name, fits)
    _card_expiry(history, cust, fits)
    return fits


def _countries(cust: pl.DataFrame) -> Fit:
    rows = (
        cust.with_columns(pl.col("country").fill_null("ZZ").str.to_uppercase())
        .group_by("country")
        .agg(
            pl.len().alias("n"),
            pl.col("timezone").drop_nulls().mode().first().alias("timezone"),
            pl.col("locale").drop_nulls().mode().first().alias("locale"),
        )
        .sort("n", descending=True)
    )
    shares = _normalise({c: n for c, n in zip(rows["country"], rows["n"], strict=True)})
    items = [
        {"code": c, "share": shares[c], "timezone": tz, "locale": loc or "en"}
        for c, _, tz, loc in rows.iter_rows()
    ]
    return Fit(
        items,
        [
            f"{n} of {cust.height} customers" + ("" if tz else "; no time zone on record")
            for _, n, tz, _ in rows.iter_rows()
        ],
    )


def _payment_mix(cust: pl.DataFrame) -> Fit:
    kinds = [k.value for k in PaymentMethodKind]
    counts = cust.filter(pl.col("payment_method").is_in(kinds)).group_by("payment_method").len()
    found = dict(zip(counts["payment_method"], counts["len"], strict=True))
    total = sum(found.values())
    if not total:
        return Fit({"card": 1.0, "sepa_debit": 0.0, "boleto": 0.0}, "default: no payment method on record")
    mix = _normalise({k: found.get(k, 0) for k in ("card", "sepa_debit", "boleto")})
    return Fit(mix, f"from {total} customers' payment methods")


def _trials(history: ImportedHistory, cust: pl.DataFrame, existing: bool, fits: dict[str, Fit]) -> None:
    if existing:
        fits["trial_share"] = Fit(0.0, "trials before the history are not simulated")
        return
    n = cust.height
    trials = cust.filter(pl.col("trial_days") > 0)
    fits["trial_share"] = Fit(
        _share(trials.height, n), f"{trials.height} of {n} signups started with a trial"
    )
    if trials.height == 0:
        return
    days = int(min(730, max(1, round(float(trials["trial_days"].median())))))
    fits["trial_days"] = Fit(days, f"median of {trials.height} trials")
    first_pm = history.payment_methods.group_by("customer_id").agg(pl.col("created").min().alias("first_pm"))
    subs = history.subscriptions.select("customer_id", "trial_start")
    t = trials.select("customer_id").join(subs, on="customer_id").join(first_pm, on="customer_id", how="left")
    without = t.filter(
        pl.col("first_pm").is_null() | (pl.col("first_pm") > pl.col("trial_start") + 1 / 1440)
    ).height
    fits["trial_without_payment_method_share"] = Fit(
        _share(without, t.height), f"{without} of {t.height} trials started without a payment method"
    )


def _collection(history: ImportedHistory, cust: pl.DataFrame, fits: dict[str, Fit]) -> None:
    n = cust.height
    manual = cust.filter(pl.col("collection_method") == CollectionMethod.SEND_INVOICE.value)
    fits["send_invoice_share"] = Fit(
        _share(manual.height, n), f"{manual.height} of {n} customers pay by invoice"
    )
    due = (
        history.invoice_details.join(manual.select("customer_id"), on="customer_id")
        .filter(pl.col("due_at").is_not_null())
        .select((pl.col("due_at") - pl.col("created_at")).alias("d"))
    )
    if due.height:
        days = int(min(90, max(1, round(float(due["d"].median())))))
        fits["days_until_due"] = Fit(days, f"median of {due.height} send_invoice invoices")


def _failures(history: ImportedHistory, name: str, fits: dict[str, Fit]) -> None:
    attempts = first_attempts(history).filter(pl.col("cohort") == name)
    n = attempts.height
    if not n:
        fits["first_attempt_failure_rate"] = Fit(0.0, "no renewal first attempts observed")
        return
    failed = int(attempts["failed"].sum())
    fits["first_attempt_failure_rate"] = Fit(
        _share(failed, n), f"{failed} of {n} renewal first attempts declined (expired cards excluded)"
    )
    cards = attempts.filter((pl.col("method_type") == PaymentMethodKind.CARD.value) & ~pl.col("failed"))
    action = int(cards["needs_action"].sum())
    fits["three_ds_share"] = Fit(
        _share(action, cards.height),
        f"{action} of {cards.height} undeclined card first attempts needed 3-D Secure",
    )


def _card_expiry(history: ImportedHistory, cust: pl.DataFrame, fits: dict[str, Fit]) -> None:
    """Months from signup (or the history's start) to the expiry of the card given at signup."""
    pms = history.payment_methods.filter(
        (pl.col("rank") == 0) & (pl.col("type") == "card") & (pl.col("exp_month") > 0)
    )
    cards = pms.join(cust.select("customer_id", "signup_at"), on="customer_id").filter(
        pl.col("created") <= pl.col("signup_at") + 1.0
    )
    if not cards.height:
        return
    start = _month_index(history.start_date)
    ahead = []
    for signup, month, year in cards.select("signup_at", "exp_month", "exp_year").iter_rows():
        base = start if signup < 0 else _month_index(_date(history, signup))
        ahead.append(year * 12 + month - 1 - base)
    fits["card_expiry_months_max"] = Fit(
        int(min(120, max(1, max(ahead)))), f"latest of {len(ahead)} signup cards' months to expiry"
    )


# ----------------------------------------------------------------------------------- scenario-level


def _decline_mix(history: ImportedHistory) -> tuple[dict[str, Fit], int]:
    failed = first_attempts(history).filter(pl.col("failed"))
    counts = dict(failed.group_by("decline_code").len().iter_rows())
    n = sum(counts.values())
    if not n:
        return {}, 0
    names = decline_code_names()
    shares = _normalise({c: counts.get(c, 0) for c in names})
    return {c: Fit(shares[c], f"{counts.get(c, 0)} of {n} first-attempt declines") for c in names}, n


def _retry_tables(history: ImportedHistory) -> tuple[pl.DataFrame, pl.DataFrame]:
    r = retries(history).with_columns((pl.col("status") == "succeeded").alias("ok"))
    by_code = (
        r.group_by(pl.col("first_decline").alias("decline_code"))
        .agg(pl.len().alias("retries"), pl.col("ok").sum().alias("succeeded"))
        .with_columns((pl.col("succeeded") / pl.col("retries")).alias("success_rate"))
        .sort("retries", descending=True)
    )
    by_attempt = (
        r.group_by(pl.col("rank").alias("attempt"))
        .agg(pl.len().alias("retries"), pl.col("ok").sum().alias("succeeded"))
        .with_columns((pl.col("succeeded") / pl.col("retries")).alias("success_rate"))
        .sort("attempt")
    )
    return by_code, by_attempt


def _behaviour(history: ImportedHistory) -> dict[str, Fit]:
    out: dict[str, Fit] = {}
    subs = history.subscriptions
    end = history.horizon_days
    ended = subs.filter(
        pl.col("trial_end").is_not_null() & (pl.col("trial_end") < end) & pl.col("method_at_trial_end")
    )
    if ended.height:
        canceled = ended.filter(
            pl.col("canceled_at").is_not_null()
            & ((pl.col("canceled_at") - pl.col("trial_end")).abs() < 1 / 24)
            & (pl.col("cancel_reason").fill_null("") != "payment_failed")
        ).height
        out["trial_cancel_share"] = Fit(
            _share(canceled, ended.height),
            f"{canceled} of {ended.height} trials with a payment method canceled at the trial's end",
        )
    out.update(_manual_payments(history))
    out.update(_churn(history))
    return out


def _manual_payments(history: ImportedHistory) -> dict[str, Fit]:
    """send_invoice customers: how late a write-off comes, how long payers take, and who pays at all.

    The simulator's `send_invoice_pay_share` means "would pay": an invoice still open, or closed early
    because the subscription ended, is censored, not a refusal; `_cure_model` fits share and delay
    together from paid delays and the time each unpaid invoice was observed.
    """
    out: dict[str, Fit] = {}
    end = history.horizon_days
    manual = history.invoice_details.filter(
        (pl.col("collection_method") == CollectionMethod.SEND_INVOICE.value)
        & ~pl.col("paused_trial")
        & pl.col("due_at").is_not_null()
    )
    quits = history.subscriptions.filter(pl.col("cancel_reason") == "cancellation_requested").select(
        "customer_id", "canceled_at"
    )
    # A customer who quit had the invoice written off by the cancellation, not by not paying; and a
    # write-off that ends a subscription closes its newer invoices at once: keep the oldest of each group.
    written_off = (
        manual.filter(pl.col("status") == "uncollectible")
        .join(quits, on="customer_id", how="left")
        .filter(
            pl.col("canceled_at").is_null() | ((pl.col("closed_at") - pl.col("canceled_at")).abs() > 1 / 1440)
        )
        .sort("created_at")
        .unique(["customer_id", (pl.col("closed_at") * 1440).round(0)], keep="first")
    )
    lag = written_off.select((pl.col("closed_at") - pl.col("due_at")).alias("d")).drop_nulls()
    if lag.height:
        write_off = int(min(180, max(1, round(float(lag["d"].median())))))
        out["send_invoice_write_off_days"] = Fit(
            write_off, f"median of {lag.height} write-offs, days after due"
        )
    paid = manual.filter(pl.col("paid_at").is_not_null())
    delays = (paid["paid_at"] - paid["created_at"]).to_numpy()
    unpaid = manual.filter(pl.col("paid_at").is_null())
    waited = (pl.coalesce("closed_at", pl.lit(end)) - pl.col("created_at")).clip(0)
    fitted = _cure_model(delays, unpaid.select(waited).to_series().to_numpy())
    if fitted is not None:
        share, mean = fitted
        n = paid.height + unpaid.height
        out["send_invoice_pay_share"] = Fit(
            share, f"{paid.height} of {n} send_invoice invoices paid; fitted with the delay below"
        )
        out["send_invoice_pay_delay_days"] = Fit(
            mean,
            f"exponential mean fitted to {paid.height} payment delays, unpaid invoices censored when closed "
            "(reminders in the history shorten it)",
        )
    return out


def _cure_model(delays: np.ndarray, waited: np.ndarray) -> tuple[float, float] | None:
    """Maximum likelihood (share, mean) for: a share of customers pays after an exponential delay, the
    rest never; an unpaid invoice says only that its payer (if any) had not paid after `waited` days."""
    if len(delays) < 2 or len(delays) + len(waited) < 10:
        return None
    ratio = (math.sqrt(5) - 1) / 2

    def golden(f, lo: float, hi: float) -> float:
        for _ in range(60):
            a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            lo, hi = (a, hi) if f(a) < f(b) else (lo, b)
        return (lo + hi) / 2

    def loglik(share: float, mean: float) -> float:
        paid = np.sum(math.log(share) - math.log(mean) - delays / mean)
        return paid + np.sum(np.log(1 - share + share * np.exp(-waited / mean)))

    def best_share(mean: float) -> float:
        return golden(lambda p: loglik(p, mean), 1e-6, 1 - 1e-9)

    mean = golden(lambda m: loglik(best_share(m), m), 0.05, 365.0)
    return round(best_share(mean), 6), round(mean, 2)


def _churn(history: ImportedHistory) -> dict[str, Fit]:
    """Monthly voluntary churn: cancellations at a renewal per renewal of monthly subscriptions."""
    subs = history.subscriptions.filter(pl.col("step_months") == 1)
    renewals = (
        history.invoice_details.join(subs.select("customer_id", "trial_end"), on="customer_id")
        .filter(
            (pl.col("billing_reason") == "subscription_cycle")
            & ~pl.col("paused_trial")
            & (pl.col("trial_end").is_null() | ((pl.col("created_at") - pl.col("trial_end")).abs() > 1 / 24))
        )
        .height
    )
    cancels = subs.filter(
        pl.col("canceled_at").is_not_null()
        & (pl.col("cancel_reason").fill_null("") == "cancellation_requested")
        & ((pl.col("canceled_at") - pl.col("current_period_end")).abs() < 1 / 24)
        & (pl.col("trial_end").is_null() | ((pl.col("canceled_at") - pl.col("trial_end")).abs() > 1 / 24))
    ).height
    if renewals + cancels == 0:
        return {}
    return {
        "voluntary_churn_monthly": Fit(
            _share(cancels, renewals + cancels),
            f"{cancels} of {renewals + cancels} monthly renewals canceled by the customer",
        )
    }


# -------------------------------------------------------------------------------------------- fit


def fit(history: ImportedHistory, name: str = "calibrated") -> Calibration:
    """Fit every scenario value the history can tell; keep the simulator's defaults for the rest."""
    warnings: list[str] = []
    cohorts = []
    for segment in sorted(history.customers["cohort"].drop_nulls().unique().to_list()):
        cust = history.customers.filter(pl.col("cohort") == segment)
        fitted = _segment(history, segment, cust, warnings)
        if fitted is not None:
            cohorts.append(fitted)
    if not cohorts:
        raise StripeImportError(
            f"{history.source}: cannot calibrate: no customer on a monthly or yearly plan"
        )
    mix, declines = _decline_mix(history)
    by_code, by_attempt = _retry_tables(history)
    end = add_months(history.start_date, history.horizon_months)
    top = {
        "name": Fit(name, ""),
        "description": Fit(f"Fitted from the Stripe export {history.source.name}", ""),
        "start_date": Fit(history.start_date.isoformat(), "the first invoice's date (UTC)"),
        "horizon_months": Fit(history.horizon_months, f"the history runs to {end.isoformat()}"),
        "account_timezone": Fit("UTC", "default: not in a Stripe export"),
        "card_updater_rate": Fit(0.35, "default: an updated card looks like a new one in an export"),
    }
    behaviour = _behaviour(history)
    toml = render_toml(top, mix, declines, cohorts, behaviour, history.test_mode, by_code, by_attempt)
    try:
        scenario = Scenario.model_validate(tomllib.loads(toml))
    except Exception as exc:  # a bug here, not bad input: say what was produced
        raise StripeImportError(
            f"{history.source}: the calibrated scenario does not validate: {exc}"
        ) from exc
    return Calibration(scenario, toml, cohorts, top, mix, behaviour, by_code, by_attempt, warnings)


# ------------------------------------------------------------------------------------------- TOML


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(round(v, 6))
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items() if x is not None) + " }"
    return str(v)


def _line(key: str, f: Fit) -> str:
    text = f"{key} = {_value(f.value)}"
    return f"{text:<44} # {f.note}" if f.note else text


def render_toml(top, mix, declines, cohorts, behaviour, test_mode, by_code, by_attempt) -> str:
    out = [
        "# Scenario fitted from a Stripe export (recovery-sim import stripe --calibrate).",
        "# Each value's comment says what it was fitted from; 'default' marks what an export cannot tell.",
        "",
    ]
    out += [_line(k, f) for k, f in top.items()]
    if mix:
        out += ["", f"[decline_mix]  # {declines} first-attempt declines"]
        out += [_line(k, f) for k, f in mix.items()]
    for fits in cohorts:
        out += ["", "[[cohorts]]"]
        for key, f in fits.items():
            if key in ("plans", "countries"):
                out.append(f"{key} = [")
                out += [
                    f"  {_value(item) + ',':<100} # {note}"
                    for item, note in zip(f.value, f.note, strict=True)
                ]
                out.append("]")
            else:
                out.append(_line(key, f))
    if behaviour:
        out += ["", "[behaviour]  # everything not listed keeps the simulator's default"]
        out += [_line(k, f) for k, f in behaviour.items()]
    if test_mode:
        out += ["", "[test_mode]", _line("enabled", Fit(True, "every object has livemode = false"))]
    out += [
        "",
        "# Retry success by the first decline code (data/decline_codes.csv holds the simulator's values):",
    ]
    out += [
        f"#   {c:<24} {r / n if n else 0:.3f}  ({r} of {n} retries on the same card)"
        for c, n, r, _ in by_code.iter_rows()
    ]
    out += ["# Retry success by attempt number:"]
    out += [
        f"#   attempt {a:<3} {r / n if n else 0:.3f}  ({r} of {n})" for a, n, r, _ in by_attempt.iter_rows()
    ]
    return "\n".join(out) + "\n"
