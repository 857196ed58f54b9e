"""Cross-checks over the typed rows before anything is mapped: required fields, unique ids, ISO 4217
currencies, one currency per customer (errors, raised at once), and values outside Stripe's documented
enums (warnings, each saying what is done with them)."""

from __future__ import annotations

import polars as pl
from babel.numbers import get_currency_name

from recovery_sim.domain.enums import CollectionMethod, InvoiceStatus, SubscriptionStatus
from recovery_sim.stripe.dashboard_csv import CSV_COLUMNS, column_for
from recovery_sim.stripe.errors import Source, fail
from recovery_sim.stripe.fields import FIELDS

ENUMS = {
    ("subscriptions", "status"): [s.value for s in SubscriptionStatus],
    ("subscriptions", "collection_method"): [c.value for c in CollectionMethod],
    ("subscriptions", "interval"): ["month", "year", "week", "day"],
    ("subscriptions", "cancel_reason"): ["cancellation_requested", "payment_disputed", "payment_failed"],
    ("invoices", "status"): [s.value for s in InvoiceStatus],
    ("invoices", "collection_method"): [c.value for c in CollectionMethod],
    ("invoices", "billing_reason"): [
        "automatic_pending_invoice_item_invoice",
        "manual",
        "quote_accept",
        "subscription",
        "subscription_create",
        "subscription_cycle",
        "subscription_threshold",
        "subscription_update",
        "upcoming",
    ],
    ("charges", "status"): ["succeeded", "pending", "failed"],
    ("charges", "outcome_type"): ["authorized", "manual_review", "issuer_declined", "blocked", "invalid"],
    ("payment_methods", "type"): ["card", "sepa_debit", "boleto"],
}
"""Known values; anything else is reported in the warnings and handled as the docs say."""


CONSEQUENCES = {
    ("subscriptions", "status"): "kept as the customer's final status, ignored by churn metrics",
    ("subscriptions", "collection_method"): "treated as charge_automatically",
    ("subscriptions", "interval"): "kept; calibration skips plans that are not monthly or yearly",
    ("subscriptions", "cancel_reason"): "cancellation counted as voluntary",
    ("invoices", "status"): "those invoices are left out",
    ("invoices", "collection_method"): "treated as charge_automatically",
    ("invoices", "billing_reason"): "treated as a renewal (subscription_cycle)",
    ("charges", "status"): "those charges are left out",
    ("charges", "outcome_type"): "ignored (status decides)",
    (
        "payment_methods",
        "type",
    ): "kept; such customers get no card emails and are left out of the payment mix",
}
"""What the mapping does with an unknown value, said in its warning."""


def _known_currency(code: str) -> bool:
    upper = code.upper()
    if len(upper) != 3:
        return False
    try:
        return get_currency_name(upper, locale="en") != upper
    except Exception:  # babel raises for malformed codes
        return False


class Checker:
    """Validation over the flat frames: errors raise at once, unknown values collect as warnings."""

    def __init__(self, tables: dict[str, pl.DataFrame], sources: dict[str, list[Source]]) -> None:
        self.tables = tables
        self.sources = sources
        self.warnings: list[str] = []

    def fail_row(self, kind: str, row: dict, field_name: str | None, problem: str) -> None:
        fail(self.sources[kind][row["_src"]], row["_row"], row.get("id"), field_name, problem)

    def label(self, kind: str, row: dict) -> str:
        source = self.sources[kind][row["_src"]]
        return f"{source.path.name} {source.where(row['_row'])} (id {row.get('id')})"

    def run(self) -> list[str]:
        """Every check in order; the warnings collected."""
        self.required()
        self.unique_ids()
        self.currencies()
        self.one_currency_per_customer()
        self.enums()
        return self.warnings

    def required(self) -> None:
        for kind, frame in self.tables.items():
            csv = bool(self.sources[kind]) and self.sources[kind][0].fmt == "csv"
            for flat, paths, _, required in FIELDS[kind]:
                if not required or (csv and flat not in CSV_COLUMNS.values()):
                    continue
                missing = frame.filter(pl.col(flat).is_null())
                if missing.height:
                    more = f" ({missing.height - 1} more objects lack it too)" if missing.height > 1 else ""
                    name = column_for(flat) if csv else " or ".join(paths)
                    self.fail_row(kind, missing.row(0, named=True), name, f"required field is missing{more}")

    def unique_ids(self) -> None:
        for kind, frame in self.tables.items():
            dup = frame.filter(pl.col("id").is_duplicated()).sort("id", "_src", "_row")
            if dup.height:
                first, second = dup.row(0, named=True), dup.row(1, named=True)
                self.fail_row(
                    kind,
                    second,
                    "id",
                    f"duplicate id {second['id']!r}, already at {self.label(kind, first)}; "
                    f"export each object once",
                )

    def currencies(self) -> None:
        for kind, column in (
            ("customers", "currency"),
            ("subscriptions", "price_currency"),
            ("invoices", "currency"),
            ("charges", "currency"),
        ):
            frame = self.tables[kind]
            for code in frame[column].drop_nulls().unique().to_list():
                if not _known_currency(code):
                    row = frame.filter(pl.col(column) == code).row(0, named=True)
                    path = next(p for f, p, _, _ in FIELDS[kind] if f == column)[0]
                    self.fail_row(kind, row, path, f"unknown ISO 4217 currency {code!r}")

    def one_currency_per_customer(self) -> None:
        """Stripe bills a customer in one currency; a mix means ids from two accounts or a broken export."""
        sources = (
            ("customers", "id", "currency"),
            ("subscriptions", "customer", "price_currency"),
            ("invoices", "customer", "currency"),
            ("charges", "customer", "currency"),
        )
        pairs = pl.concat(
            [
                self.tables[kind]
                .select(pl.col(who).alias("who"), pl.col(column).str.to_uppercase().alias("cur"))
                .drop_nulls()
                .unique()
                for kind, who, column in sources
            ]
        )
        mixed = pairs.group_by("who").agg(pl.col("cur").n_unique().alias("n")).filter(pl.col("n") > 1)
        if not mixed.height:
            return
        who = sorted(mixed["who"].to_list())[0]
        long = pl.concat(
            [
                self.tables[kind]
                .filter(pl.col(who_col) == who)
                .select(
                    pl.col(who_col).alias("who"),
                    pl.col(column).str.to_uppercase().alias("cur"),
                    "id",
                    "_src",
                    "_row",
                    pl.lit(kind).alias("kind"),
                    pl.lit(column).alias("column"),
                )
                .drop_nulls("cur")
                for kind, who_col, column in sources
            ]
        )
        rows = long.filter(pl.col("who") == who).unique("cur", keep="first", maintain_order=True)
        a, b = rows.row(0, named=True), rows.row(1, named=True)
        path_b = next(p for f, p, _, _ in FIELDS[b["kind"]] if f == b["column"])[0]
        self.fail_row(
            b["kind"],
            b,
            path_b,
            f"{b['cur'].lower()!r} but {self.label(a['kind'], a)} bills customer {who} in "
            f"{a['cur'].lower()!r}: inconsistent currencies for one customer "
            f"({mixed.height} customer(s) affected)",
        )

    def enums(self) -> None:
        for (kind, column), allowed in ENUMS.items():
            frame = self.tables[kind]
            odd = frame.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(allowed))
            if odd.height:
                values = sorted(odd[column].unique().to_list())[:5]
                self.warnings.append(
                    f"{kind}.{column}: {odd.height} object(s) with unknown value(s) {values} "
                    f"(first: {self.label(kind, odd.row(0, named=True))}); {CONSEQUENCES[(kind, column)]}"
                )
