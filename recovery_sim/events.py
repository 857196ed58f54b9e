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
        n = max(np.size(values) for values in columns.values())
        self.chunks.append(
            {
                name: np.broadcast_to(np.asarray(columns[name], dtype=code), n)
                for name, code in self.spec.items()
            }
        )

    def _flush(self) -> None:
        if any(len(buffer) for buffer in self.buffers.values()):
            self.chunks.append(
                {n: np.frombuffer(self.buffers[n], dtype=c).copy() for n, c in self.spec.items()}
            )
            for buffer in self.buffers.values():
                del buffer[:]

    def arrays(self) -> dict[str, np.ndarray]:
        """All rows in recording order, one array per column (kept as the only chunk: no second copy)."""
        self._flush()
        if len(self.chunks) != 1:
            out = {}
            for name, code in self.spec.items():
                parts = [chunk[name].astype(code, copy=False) for chunk in self.chunks]
                out[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=code)
                for chunk in self.chunks:  # free each column's parts as soon as it is joined
                    chunk[name] = None
            self.chunks = [out]
        return {name: np.asarray(values, dtype=self.spec[name]) for name, values in self.chunks[0].items()}


class Recorder:
    """Where the engine writes events, emails and invoices."""

    EVENT_COLUMNS = {
        "time": "d",
        "customer_id": "i",  # int32 while recording (ids < 2**31); Int64 in the frames
        "invoice_id": "q",
        "kind": "b",
        "amount": "q",
        "decline": "b",
        "actor": "b",
        "attempt": "b",
    }
    EMAIL_COLUMNS = {
        "time": "d",
        "customer_id": "i",  # int32 while recording (ids < 2**31); Int64 in the frames
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
        "customer_id": "i",
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
        self._inv = tuple(self.invoices.buffers[name].append for name in self.INVOICE_COLUMNS)
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

    def invoice_row(
        self,
        invoice: int,
        customer: int,
        period: int,
        created_at: float,
        amount: int,
        status: int,
        paid_at: float,
        attempts: int,
        first_decline: int,
        at_risk: bool,
        paid_by: int,
        due_at: float,
    ) -> None:
        """One invoice row (the columns of `INVOICE_COLUMNS`, in order)."""
        i, c, p, cr, a, st, pa, at, fd, ar, pb, du = self._inv
        i(invoice), c(customer), p(period), cr(created_at), a(amount), st(status), pa(paid_at)
        at(attempts), fd(first_decline), ar(at_risk), pb(paid_by), du(due_at)


def _decode(codes: np.ndarray, names: list[str], dtype: pl.DataType) -> pl.Series:
    """Integer codes → labels, vectorised (much faster than indexing a numpy string array)."""
    return pl.Series(codes).replace_strict(list(range(len(names))), names, return_dtype=dtype)


def _at(time: pl.Expr, start: dt.date) -> pl.Expr:
    """Simulation days → UTC datetimes (microsecond precision)."""
    origin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    return (
        pl.lit(origin) + pl.duration(microseconds=(time * 86_400_000_000).round(0).cast(pl.Int64))
    ).dt.cast_time_unit("us")


def _build(columns: dict[str, np.ndarray], order: np.ndarray, outputs: list) -> pl.DataFrame:
    """The frame's columns, each made from the recorded columns it needs, gathered in `order`.

    One output column at a time: the peak is the recorded columns, the frame built so far and one
    column in the making (not a sorted copy of everything plus the frame).
    """
    built = {}
    for name, inputs, make in outputs:
        part = pl.DataFrame({source: columns[source][order] for source in inputs})
        built[name] = make(part).alias(name)
        del part
    return pl.DataFrame(built)


def _expr(expr: pl.Expr):
    return lambda part: part.select(expr).to_series()


def _codes(column: str, labels: list[str], dtype: pl.DataType):
    return _expr(pl.col(column).replace_strict(list(range(len(labels))), labels, return_dtype=dtype))


def _time_order(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Sorted by time, then customer; ties keep recording order (a stable sort)."""
    return np.lexsort((columns["customer_id"], columns["time"]))


def frames(
    recorder: Recorder, start: dt.date, customer_ids: np.ndarray, currencies: np.ndarray
) -> dict[str, pl.DataFrame]:
    """The three frames of a run, sorted by time and customer (ties keep each customer's recording order)."""
    names, per_customer = np.unique(np.asarray(currencies, dtype=str), return_inverse=True)

    def currency(part: pl.DataFrame) -> pl.Series:
        ids = part["customer_id"].to_numpy()
        codes = per_customer[np.searchsorted(customer_ids, ids)] if len(ids) else np.zeros(0, np.int64)
        return pl.Series(list(names), dtype=pl.Categorical).gather(codes)  # no string per row

    def nullable(name: str) -> pl.Expr:
        return pl.when(pl.col(name) >= 0).then(pl.col(name)).cast(pl.Int64)

    def instant(name: str) -> pl.Expr:
        return pl.when(pl.col(name).is_finite()).then(pl.col(name))

    kinds, actors = [k.value for k in EVENT_KINDS], [a.value for a in ACTORS]
    ev = recorder.events.arrays()
    events = _build(
        ev,
        _time_order(ev),
        [
            ("time", ["time"], _expr(pl.col("time"))),
            ("at", ["time"], _expr(_at(pl.col("time"), start))),
            ("customer_id", ["customer_id"], _expr(pl.col("customer_id").cast(pl.Int64))),
            ("invoice_id", ["invoice_id"], _expr(nullable("invoice_id"))),
            ("kind", ["kind"], _codes("kind", kinds, EventKindEnum)),
            ("amount", ["amount"], _expr(pl.col("amount").cast(pl.Int64))),
            ("currency", ["customer_id"], currency),
            ("decline_code", ["decline"], _codes("decline", DECLINES, DeclineEnum)),
            ("actor", ["actor"], _codes("actor", actors, ActorEnum)),
            ("attempt", ["attempt"], _expr(pl.col("attempt").cast(pl.Int8))),
        ],
    )
    del ev

    em = recorder.emails.arrays()
    live = pl.col("link_live_until")
    emails = _build(
        em,
        _time_order(em),
        [
            ("time", ["time"], _expr(pl.col("time"))),
            ("sent_at", ["time"], _expr(_at(pl.col("time"), start))),
            ("customer_id", ["customer_id"], _expr(pl.col("customer_id").cast(pl.Int64))),
            ("invoice_id", ["invoice_id"], _expr(nullable("invoice_id"))),
            (
                "email_type",
                ["email_type"],
                _codes("email_type", [t.value for t in EMAIL_TYPES], EmailTypeEnum),
            ),
            ("link_included", ["link_included"], _expr(pl.col("link_included").cast(pl.Boolean))),
            (
                "link_live_until",
                ["link_included", "link_live_until"],
                _expr(
                    pl.when(pl.col("link_included").cast(pl.Boolean) & live.is_finite()).then(
                        _at(live, start)
                    )
                ),
            ),
            ("management_link", ["management_link"], _expr(pl.col("management_link").cast(pl.Boolean))),
            ("delivered", ["delivered"], _expr(pl.col("delivered").cast(pl.Boolean))),
            ("acted", ["acted"], _expr(pl.col("acted").cast(pl.Boolean))),
        ],
    )
    del em

    inv = recorder.invoices.arrays()
    invoices = _build(
        inv,
        np.argsort(inv["invoice_id"], kind="stable"),
        [
            ("invoice_id", ["invoice_id"], _expr(pl.col("invoice_id").cast(pl.Int64))),
            ("customer_id", ["customer_id"], _expr(pl.col("customer_id").cast(pl.Int64))),
            ("period", ["period"], _expr(pl.col("period").cast(pl.Int16))),
            ("created_at", ["created_at"], _expr(pl.col("created_at"))),
            ("amount", ["amount"], _expr(pl.col("amount").cast(pl.Int64))),
            ("status", ["status"], _codes("status", [s.value for s in INVOICE_STATUSES], InvoiceStatusEnum)),
            ("paid_at", ["paid_at"], _expr(instant("paid_at"))),
            ("attempts", ["attempts"], _expr(pl.col("attempts").cast(pl.Int8))),
            ("first_decline", ["first_decline"], _codes("first_decline", DECLINES, DeclineEnum)),
            ("at_risk", ["at_risk"], _expr(pl.col("at_risk").cast(pl.Boolean))),
            ("paid_by", ["paid_by"], _codes("paid_by", actors, ActorEnum)),
            ("due_at", ["due_at"], _expr(instant("due_at"))),
            ("currency", ["customer_id"], currency),
        ],
    )
    return {"events": events, "emails": emails, "invoices": invoices}
