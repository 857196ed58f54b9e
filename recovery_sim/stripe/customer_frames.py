"""Customers, their (latest) subscription and payment methods → the simulator's customers frame, and the
per-customer subscription facts the replay (R6, R7, R11b) and the calibration read."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

import polars as pl

from recovery_sim.domain.enums import CollectionMethod, SubscriptionStatus
from recovery_sim.settings.config import SUPPORTED_LOCALES
from recovery_sim.stripe.clock import Clock


def lower(column: str) -> pl.Expr:
    return pl.col(column).str.to_lowercase()


def latest_subscriptions(table: pl.DataFrame, warn: Callable[[str], None]) -> pl.DataFrame:
    """One subscription per customer: the latest signed up (the warning says when there were several)."""
    subs = table.with_columns(
        lower("status"),
        lower("interval"),
        pl.col("price_currency").str.to_uppercase(),
        pl.coalesce("start_date", "created").alias("signup"),
    ).sort("customer", "signup", "id")
    several = subs.group_by("customer").len().filter(pl.col("len") > 1).height
    if several:
        warn(
            f"{several} customer(s) have more than one subscription; each customer is described "
            f"by the latest one (invoices of every subscription are kept)"
        )
    return subs.group_by("customer", maintain_order=True).last()


def customer_ids(
    tables: dict[str, pl.DataFrame], subs: pl.DataFrame, warn: Callable[[str], None]
) -> pl.DataFrame:
    """One row per customer with a subscription or an invoice; dense ids in signup order."""
    cust = tables["customers"].with_columns(pl.col("currency").str.to_uppercase())
    inv = tables["invoices"]
    first_invoice = inv.group_by("customer").agg(
        pl.col("created").min().alias("first_invoice"), pl.col("currency").first().str.to_uppercase()
    )
    known = pl.concat(
        [subs.select(pl.col("customer").alias("id")), inv.select(pl.col("customer").alias("id"))]
    )
    ids = known.unique()
    missing = ids.join(cust.select("id"), on="id", how="anti").height
    if missing and cust.height:
        warn(
            f"{missing} customer(s) referenced by subscriptions or invoices are not in the customers "
            f"file; their country, locale and email are unknown"
        )
    unused = cust.join(ids, on="id", how="anti").height
    if unused:
        warn(f"{unused} customer(s) without any subscription or invoice left out")
    out = (
        ids.join(cust.drop("_row", "_src"), on="id", how="left")
        .join(
            subs.select(pl.col("customer").alias("id"), "signup", pl.col("price_currency")),
            on="id",
            how="left",
        )
        .join(first_invoice.rename({"customer": "id", "currency": "inv_currency"}), on="id", how="left")
        .with_columns(
            pl.coalesce("signup", "created", "first_invoice").alias("signup"),
            pl.coalesce("currency", "price_currency", "inv_currency").alias("currency"),
        )
        .sort("signup", "id")
        .with_row_index("customer_id")
        .with_columns(pl.col("customer_id").cast(pl.Int64))
    )
    return out


def payment_methods(table: pl.DataFrame, customers: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """Each customer's payment methods in time order, `rank` 0 the first."""
    pms = table.with_columns(lower("type"))
    ids = customers.select(pl.col("id").alias("customer"), "customer_id")
    return (
        pms.join(ids, on="customer", how="inner")
        .sort("customer_id", "created", "id")
        .select(
            "customer_id",
            "id",
            "type",
            clock.days("created").alias("created"),
            pl.col("exp_month").fill_null(0).cast(pl.Int16),
            pl.col("exp_year").fill_null(0).cast(pl.Int16),
        )
        .with_columns(pl.int_range(pl.len()).over("customer_id").alias("rank"))
    )


def trial_facts(subs: pl.DataFrame, customers: pl.DataFrame, pms: pl.DataFrame, clock: Clock) -> pl.DataFrame:
    """R6b facts: whether a payment method was on file when the trial ended."""
    first_pm = pms.group_by("customer_id").agg(pl.col("created").min().alias("first_pm_at"))
    trial_end = clock.days("trial_end")
    return (
        subs.join(customers.select(pl.col("id").alias("customer"), "customer_id"), on="customer")
        .join(first_pm, on="customer_id", how="left")
        .with_columns(
            (pl.col("first_pm_at") <= trial_end + 1 / 86_400).fill_null(False).alias("method_at_trial_end"),
        )
        .with_columns(
            (
                pl.col("trial_end").is_not_null()
                & (trial_end >= 0)
                & (trial_end < clock.end)
                & ~pl.col("method_at_trial_end")
            ).alias("paused_at_trial_end"),
        )
    )


def customer_method(customers: pl.DataFrame, pms: pl.DataFrame) -> pl.DataFrame:
    """Each customer's payment method type: the first on file, else the default one's."""
    first = pms.group_by("customer_id").agg(pl.col("type").first().alias("first_type"))
    default = customers.select("customer_id", pl.col("default_pm").alias("id")).join(
        pms.select("id", pl.col("type").alias("default_type")), on="id", how="left"
    )
    return (
        customers.select("customer_id")
        .join(first, on="customer_id", how="left")
        .join(default.select("customer_id", "default_type"), on="customer_id", how="left")
        .select("customer_id", pl.coalesce("first_type", "default_type").alias("customer_method"))
    )


def customer_frame(
    customers: pl.DataFrame,
    subs: pl.DataFrame,
    pms: pl.DataFrame,
    clock: Clock,
    recipients: tuple[tuple[str, ...], tuple[str, ...]],
) -> pl.DataFrame:
    """The simulator's customers frame; `recipients` = (verified domains, team emails), lower-case (R12)."""
    first_card = (
        pms.filter(pl.col("type") == "card")
        .group_by("customer_id")
        .agg(
            pl.col("exp_month").first().alias("card_exp_month"),
            pl.col("exp_year").first().alias("card_exp_year"),
        )
    )
    method = customer_method(customers, pms)
    sub = subs.select(
        "customer_id",
        pl.coalesce("plan", "price_id").alias("plan"),
        "interval",
        pl.col("unit_amount").alias("price"),
        pl.col("trial_start"),
        pl.col("trial_end"),
        pl.col("collection_method").str.to_lowercase().alias("sub_collection"),
        pl.col("status"),
    )
    trial_days = ((pl.col("trial_end") - pl.col("trial_start")) / 86_400).round(0).fill_null(0).cast(pl.Int32)
    frame = (
        customers.join(sub, on="customer_id", how="left")
        .join(method, on="customer_id", how="left")
        .join(first_card, on="customer_id", how="left")
        .with_columns(
            clock.days("signup").alias("signup_at"),
            pl.when(pl.col("sub_collection") == CollectionMethod.SEND_INVOICE.value)
            .then(pl.lit(CollectionMethod.SEND_INVOICE.value))
            .otherwise(pl.lit(CollectionMethod.CHARGE_AUTOMATICALLY.value))
            .alias("collection_method"),
        )
    )
    frame = frame.with_columns(
        pl.when(pl.col("signup_at") < 0)
        .then(pl.lit("existing "))
        .otherwise(pl.lit("new "))
        .add(pl.col("currency"))
        .alias("cohort"),
        _locale(pl.col("locales").list.first()).alias("locale"),
        _timezone(pl.col("timezone")).alias("timezone"),
    )
    cohorts = sorted(frame["cohort"].drop_nulls().unique().to_list())
    return frame.select(
        "customer_id",
        pl.col("cohort")
        .replace_strict(cohorts, list(range(len(cohorts))), default=0)
        .cast(pl.Int16)
        .alias("cohort_index"),
        "plan",
        "interval",
        pl.col("price").cast(pl.Int64),
        "currency",
        "country",
        "timezone",
        "locale",
        "signup_at",
        trial_days.alias("trial_days"),
        "collection_method",
        pl.col("customer_method").alias("payment_method"),
        pl.col("card_exp_month").fill_null(0).cast(pl.Int16),
        pl.col("card_exp_year").fill_null(0).cast(pl.Int16),
        _recipient(*recipients).alias("recipient"),
        "cohort",
        pl.col("status").alias("final_status"),
    ).sort("customer_id")


def _recipient(verified: tuple[str, ...], team: tuple[str, ...]) -> pl.Expr:
    """Whom a test account may email (R12): a team member, an address on a verified domain, or neither."""
    email = pl.col("email").str.to_lowercase()
    domain = email.str.split("@").list.last()
    return (
        pl.when(email.is_in(list(team)))
        .then(pl.lit("team_member"))
        .when(domain.is_in(list(verified)))
        .then(pl.lit("verified_domain"))
        .otherwise(pl.lit("external"))
    )


def subscription_frame(
    subs: pl.DataFrame, charges: pl.DataFrame, details: pl.DataFrame, clock: Clock
) -> pl.DataFrame:
    """Per customer: the subscription facts the replay needs (R6, R7, R11b) and the calibration."""
    last_failure = (
        charges.filter(pl.col("status") == "failed")
        .group_by("customer_id")
        .agg(pl.col("time").max().alias("last_failure"))
    )
    last_invoice = details.group_by("customer_id").agg(pl.col("created_at").max().alias("last_invoice"))
    ended = clock.days(pl.coalesce("canceled_at", "ended_at"))
    status = pl.col("status")
    since = (
        pl.when(status == SubscriptionStatus.CANCELED.value)
        .then(ended)
        .when(status == SubscriptionStatus.UNPAID.value)
        .then(pl.coalesce("last_failure", "last_invoice"))
        .when(status == SubscriptionStatus.INCOMPLETE_EXPIRED.value)
        .then(pl.coalesce(ended, clock.days("signup") + 1))
    )
    return (
        subs.join(last_failure, on="customer_id", how="left")
        .join(last_invoice, on="customer_id", how="left")
        .select(
            "customer_id",
            pl.col("id").alias("subscription"),
            "customer",
            "status",
            since.alias("status_since"),
            clock.days("signup").alias("signup_at"),
            clock.days("trial_start").alias("trial_start"),
            clock.days("trial_end").alias("trial_end"),
            "method_at_trial_end",
            "paused_at_trial_end",
            "interval",
            (
                pl.when(pl.col("interval") == "year").then(12).otherwise(1)
                * pl.col("interval_count").fill_null(1)
            )
            .cast(pl.Int32)
            .alias("step_months"),
            pl.col("collection_method").str.to_lowercase().fill_null("charge_automatically"),
            clock.days("current_period_start").alias("current_period_start"),
            clock.days("current_period_end").alias("current_period_end"),
            clock.days(pl.coalesce("canceled_at", "ended_at")).alias("canceled_at"),
            pl.col("cancel_reason").str.to_lowercase(),
            "days_until_due",
        )
        .sort("customer_id")
    )


def _locale(first: pl.Expr) -> pl.Expr:
    """preferred_locales[0] → a supported locale: "pt-BR" → pt_BR, "fr-FR" → fr, anything else → en."""
    text = first.str.replace("-", "_")
    base = text.str.split("_").list.first().str.to_lowercase()
    exact = {loc.lower(): loc for loc in SUPPORTED_LOCALES}
    return (
        pl.when(text.str.to_lowercase().is_in(list(exact)))
        .then(text.str.to_lowercase().replace(exact))
        .when(base.is_in([loc for loc in SUPPORTED_LOCALES if "_" not in loc]))
        .then(base)
        .otherwise(pl.lit("en"))
    )


_ZONES = zoneinfo.available_timezones()


def _timezone(column: pl.Expr) -> pl.Expr:
    """metadata.timezone when it names an IANA zone; otherwise none (R7b falls back to the account's)."""
    return pl.when(column.is_in(list(_ZONES))).then(column)
