"""Columnar recording of what happens, and the EventLog schema (docs/events.md).

The engine appends plain ints and floats to per-column buffers (no object per event); vectorised paths
append whole numpy chunks. `frames()` turns the buffers into three polars frames with typed enums.
"""

from __future__ import annotations

import datetime as dt
from array import array

import numpy as np
import polars as pl

from .model import Actor, EmailType, EventKind, InvoiceStatus, decline_code_names

EVENT_KINDS = list(EventKind)
EMAIL_TYPES = list(EmailType)
ACTORS = list(Actor)
INVOICE_STATUSES = list(InvoiceStatus)
KIND = {k: i for i, k in enumerate(EVENT_KINDS)}
EMAIL = {t: i for i, t in enumerate(EMAIL_TYPES)}
ACTOR = {a: i for i, a in enumerate(ACTORS)}
STATUS = {s: i for i, s in enumerate(INVOICE_STATUSES)}
DECLINES = [""] + decline_code_names() + ["authentication_expired"]
DECLINE = {code: i for i, code in enumerate(DECLINES)}
NO_INVOICE = -1

EventKindEnum = pl.Enum([k.value for k in EVENT_KINDS])
EmailTypeEnum = pl.Enum([t.value for t in EMAIL_TYPES])
ActorEnum = pl.Enum([a.value for a in ACTORS])
InvoiceStatusEnum = pl.Enum([s.value for s in INVOICE_STATUSES])
DeclineEnum = pl.Enum(DECLINES)


class _Columns:
    """Typed append buffers plus numpy chunks, concatenated once at the end."""

    def __init__(self, spec: dict[str, str]) -> None:
        self.spec = spec
        self.buffers = {name: array(code) for name, code in spec.items()}
        self.chunks: list[dict[str, np.ndarray]] = []

    def extend(self, **columns: np.ndarray) -> None:
        self._flush()  # keep recording order: rows appended one by one before this chunk come first
        self.chunks.append({name: np.asarray(columns[name]) for name in self.spec})

    def _flush(self) -> None:
        if any(len(buffer) for buffer in self.buffers.values()):
            self.chunks.append(
                {n: np.frombuffer(self.buffers[n], dtype=c).copy() for n, c in self.spec.items()}
            )
            for buffer in self.buffers.values():
                del buffer[:]

    def arrays(self) -> dict[str, np.ndarray]:
        self._flush()
        out = {}
        for name, code in self.spec.items():
            parts = [chunk[name].astype(code, copy=False) for chunk in self.chunks]
            out[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=code)
        return out


class Recorder:
    """Where the engine writes events, emails and invoices."""

    EVENT_COLUMNS = {
        "time": "d",
        "customer_id": "q",
        "invoice_id": "q",
        "kind": "b",
        "amount": "q",
        "decline": "b",
        "actor": "b",
        "attempt": "b",
    }
    EMAIL_COLUMNS = {
        "time": "d",
        "customer_id": "q",
        "invoice_id": "q",
        "email_type": "b",
        "link_included": "b",
        "management_link": "b",
        "link_live_until": "d",
        "delivered": "b",
        "acted": "b",
    }
    INVOICE_COLUMNS = {
        "invoice_id": "q",
        "customer_id": "q",
        "period": "h",
        "created_at": "d",
        "amount": "q",
        "status": "b",
        "paid_at": "d",
        "attempts": "b",
        "first_decline": "b",
        "at_risk": "b",
        "paid_by": "b",
        "due_at": "d",
    }

    def __init__(self) -> None:
        self.events = _Columns(self.EVENT_COLUMNS)
        self.emails = _Columns(self.EMAIL_COLUMNS)
        self.invoices = _Columns(self.INVOICE_COLUMNS)
        e = self.events.buffers
        self._ev = (
            e["time"].append,
            e["customer_id"].append,
            e["invoice_id"].append,
            e["kind"].append,
            e["amount"].append,
            e["decline"].append,
            e["actor"].append,
            e["attempt"].append,
        )
        m = self.emails.buffers
        self._em = (
            m["time"].append,
            m["customer_id"].append,
            m["invoice_id"].append,
            m["email_type"].append,
            m["link_included"].append,
            m["management_link"].append,
            m["link_live_until"].append,
            m["delivered"].append,
            m["acted"].append,
        )

    def event(
        self,
        time: float,
        customer: int,
        kind: int,
        invoice: int = NO_INVOICE,
        amount: int = 0,
        decline: int = 0,
        actor: int = 0,
        attempt: int = 0,
    ) -> None:
        t, c, i, k, a, d, ac, at = self._ev
        t(time), c(customer), i(invoice), k(kind), a(amount), d(decline), ac(actor), at(attempt)

    def email(
        self,
        time: float,
        customer: int,
        invoice: int,
        email_type: int,
        link: bool,
        management: bool,
        live_until: float,
        delivered: bool,
        acted: bool,
    ) -> None:
        t, c, i, e, lk, m, lu, d, a = self._em
        t(time), c(customer), i(invoice), e(email_type), lk(link), m(management), lu(live_until)
        d(delivered), a(acted)

    def invoice(self, row: dict) -> None:
        b = self.invoices.buffers
        for name in self.INVOICE_COLUMNS:
            b[name].append(row[name])


def _decode(codes: np.ndarray, names: list[str], dtype: pl.DataType) -> pl.Series:
    """Integer codes → labels, vectorised (much faster than indexing a numpy string array)."""
    return pl.Series(codes).replace_strict(list(range(len(names))), names, return_dtype=dtype)


def _at(time: pl.Expr, start: dt.date) -> pl.Expr:
    """Simulation days → UTC datetimes (microsecond precision)."""
    origin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    return (
        pl.lit(origin) + pl.duration(microseconds=(time * 86_400_000_000).round(0).cast(pl.Int64))
    ).dt.cast_time_unit("us")


def frames(
    recorder: Recorder, start: dt.date, customer_ids: np.ndarray, currencies: np.ndarray
) -> dict[str, pl.DataFrame]:
    """The three frames of a run, sorted by time and customer (ties keep each customer's recording order)."""
    names, per_customer = np.unique(np.asarray(currencies, dtype=str), return_inverse=True)

    def currency_of(ids: np.ndarray) -> pl.Series:
        codes = per_customer[np.searchsorted(customer_ids, ids)] if len(ids) else np.zeros(0, np.int64)
        return _decode(codes, list(names), pl.String).cast(pl.Categorical)

    ev = recorder.events.arrays()
    events = (
        pl.DataFrame(ev)
        .with_columns(
            _decode(ev["kind"], [k.value for k in EVENT_KINDS], EventKindEnum).alias("kind"),
            _decode(ev["actor"], [a.value for a in ACTORS], ActorEnum).alias("actor"),
            _decode(ev["decline"], DECLINES, DeclineEnum).alias("decline_code"),
            currency_of(ev["customer_id"]).alias("currency"),
            pl.when(pl.col("invoice_id") >= 0).then(pl.col("invoice_id")).alias("invoice_id"),
        )
        .drop("decline")
    )
    events = events.with_row_index("seq").sort(["time", "customer_id", "seq"]).drop("seq")
    events = events.with_columns(_at(pl.col("time"), start).alias("at")).select(
        "time",
        "at",
        "customer_id",
        "invoice_id",
        "kind",
        "amount",
        "currency",
        "decline_code",
        "actor",
        "attempt",
    )

    em = recorder.emails.arrays()
    emails = pl.DataFrame(em).with_columns(
        _decode(em["email_type"], [t.value for t in EMAIL_TYPES], EmailTypeEnum).alias("email_type"),
        pl.col("link_included").cast(pl.Boolean),
        pl.col("management_link").cast(pl.Boolean),
        pl.col("delivered").cast(pl.Boolean),
        pl.col("acted").cast(pl.Boolean),
        pl.when(pl.col("invoice_id") >= 0).then(pl.col("invoice_id")).alias("invoice_id"),
    )
    emails = emails.with_row_index("seq").sort(["time", "customer_id", "seq"]).drop("seq")
    live = pl.col("link_live_until")
    emails = emails.with_columns(
        _at(pl.col("time"), start).alias("sent_at"),
        pl.when(pl.col("link_included") & live.is_finite()).then(_at(live, start)).alias("link_live_until"),
    ).select(
        "time",
        "sent_at",
        "customer_id",
        "invoice_id",
        "email_type",
        "link_included",
        "link_live_until",
        "management_link",
        "delivered",
        "acted",
    )

    inv = recorder.invoices.arrays()
    invoices = (
        pl.DataFrame(inv)
        .with_columns(
            _decode(inv["status"], [s.value for s in INVOICE_STATUSES], InvoiceStatusEnum).alias("status"),
            _decode(inv["first_decline"], DECLINES, DeclineEnum).alias("first_decline"),
            _decode(inv["paid_by"], [a.value for a in ACTORS], ActorEnum).alias("paid_by"),
            currency_of(inv["customer_id"]).alias("currency"),
            pl.col("at_risk").cast(pl.Boolean),
            pl.when(pl.col("paid_at").is_finite()).then(pl.col("paid_at")).alias("paid_at"),
            pl.when(pl.col("due_at").is_finite()).then(pl.col("due_at")).alias("due_at"),
        )
        .sort("invoice_id")
    )
    return {"events": events, "emails": emails, "invoices": invoices}
