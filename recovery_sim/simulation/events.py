"""Columnar recording of what happens, and the EventLog schema (docs/events.md).

The engine appends plain ints and floats to per-column buffers (no object per event); vectorised paths
append whole numpy chunks. `frames()` takes the recorded rows, column by column, into three polars
frames with typed enums (the recorder is left empty, so a run never holds its rows twice).
"""

from __future__ import annotations

import datetime as dt
from array import array

import numpy as np
import polars as pl

from recovery_sim.domain.declines import decline_code_names
from recovery_sim.domain.enums import Actor, EmailType, EventKind, InvoiceStatus

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

    def take(self, name: str) -> np.ndarray:
        """One column, all rows in recording order, handed over: the buffers let go of it (frees memory)."""
        self._flush()
        parts = [chunk.pop(name) for chunk in self.chunks]
        self.chunks = [chunk for chunk in self.chunks if chunk]
        if len(parts) == 1:
            return np.ascontiguousarray(parts[0], dtype=self.spec[name])
        return np.concatenate(parts, dtype=self.spec[name]) if parts else np.zeros(0, dtype=self.spec[name])


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


_INF_BITS = np.float64(np.inf).view(np.int64)


def _stable_order(key: np.ndarray) -> pl.Series | None:
    """Row positions in stable ascending order of `key`, or None when the rows are already in order."""
    if (key[1:] >= key[:-1]).all():
        return None
    return pl.DataFrame({"key": key}).select(pl.arg_sort_by("key", maintain_order=True)).to_series()


def _time_order(time: np.ndarray, customer: np.ndarray) -> pl.Series | None:
    """Sorted by time, then customer; ties keep recording order (a stable sort), None if already sorted.

    Two stable passes, customer then time (the second alone when the rows come in customer order, as
    the compiled engine writes them). A non-negative float's bits sort like the float, and polars sorts
    int64 faster; other times (negative, -0.0, NaN) take numpy's lexsort.
    """
    key = time.view(np.int64)
    if len(key) and not (key.min() >= 0 and key.max() <= _INF_BITS):
        return pl.Series(np.lexsort((customer, time)), dtype=pl.get_index_type())
    by_customer = _stable_order(customer)
    if by_customer is None:
        return _stable_order(key)
    by_time = _stable_order(key[by_customer.to_numpy()])
    return by_customer if by_time is None else by_customer.gather(by_time)


def _build(take, order: pl.Series | None, outputs: dict[str, pl.Expr], batch: int = 4) -> pl.DataFrame:
    """The frame's columns, each an expression of the recorded columns it names, rows in `order`.

    `take(name)` hands over a recorded column (the recorder lets go of it). A few output columns at a
    time (polars works on them in parallel): their recorded columns are put in order once and dropped
    after their last use, so the peak is the frame so far plus a few columns, not a sorted copy of the
    recording next to the frame.
    """
    sources = {name: list(dict.fromkeys(expr.meta.root_names())) for name, expr in outputs.items()}
    last_use = {source: name for name, names in sources.items() for source in names}
    names = list(outputs)
    ready: dict[str, pl.Series] = {}
    built: list[pl.Series] = []
    for first in range(0, len(names), batch):
        group = names[first : first + batch]
        needed = list(dict.fromkeys(source for name in group for source in sources[name]))
        fresh = pl.DataFrame([pl.Series(s, take(s)) for s in needed if s not in ready])
        ready.update((fresh if order is None or not fresh.width else fresh[order]).to_dict())
        del fresh
        frame = pl.DataFrame([ready[s] for s in needed])
        built += frame.select(outputs[n].alias(n) for n in group).get_columns()
        for source in needed:
            if last_use[source] in group:
                del ready[source]
    return pl.DataFrame(built)


def _codes(column: str, dtype: pl.Enum) -> pl.Expr:
    """Integer codes → labels, read as the enum's physical codes (strict: an unknown code raises)."""
    physical = pl.Series(dtype=dtype).to_physical().dtype
    return pl.col(column).cast(physical).cat.to(dtype)


def _at(time: pl.Expr, start: dt.date) -> pl.Expr:
    """Simulation days → UTC datetimes (microsecond precision)."""
    origin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    return (
        pl.lit(origin) + pl.duration(microseconds=(time * 86_400_000_000).round(0).cast(pl.Int64))
    ).dt.cast_time_unit("us")


def _nullable(name: str) -> pl.Expr:
    """Ids recorded as -1 for none → null."""
    return pl.when(pl.col(name) >= 0).then(pl.col(name)).cast(pl.Int64)


def _instant(name: str) -> pl.Expr:
    """Times recorded as inf for never → null."""
    return pl.when(pl.col(name).is_finite()).then(pl.col(name))


def _flag(name: str) -> pl.Expr:
    """Flags recorded as 0/1 int8 → booleans."""
    return pl.col(name).cast(pl.Boolean)


def _currency(customer_ids: np.ndarray, currencies: np.ndarray) -> pl.Expr:
    """Each row's customer currency, looked up by customer id in a categorical (no string per row)."""
    position = np.zeros(customer_ids.max() + 1 if len(customer_ids) else 0, dtype=np.uint32)
    position[customer_ids] = np.arange(len(customer_ids))
    by_id = pl.Series(currencies, dtype=pl.Categorical).gather(position)
    return pl.lit(by_id).gather(pl.col("customer_id"))


def _table(columns: _Columns, keys: tuple[str, ...], order_of, outputs: dict[str, pl.Expr]) -> pl.DataFrame:
    """One recorded table as a frame: its key columns are taken first, to find the row order."""
    taken = {name: columns.take(name) for name in keys}
    order = order_of(*taken.values())
    return _build(lambda name: taken.pop(name) if name in taken else columns.take(name), order, outputs)


def frames(
    recorder: Recorder, start: dt.date, customer_ids: np.ndarray, currencies: np.ndarray
) -> dict[str, pl.DataFrame]:
    """The three frames of a run, sorted by time and customer (ties keep each customer's recording order).

    The recorder's rows are taken out column by column as the frames fill up (it is left empty).
    """
    currency = _currency(np.asarray(customer_ids), currencies)
    customer = pl.col("customer_id").cast(pl.Int64)
    events = _table(
        recorder.events,
        ("time", "customer_id"),
        _time_order,
        {
            "time": pl.col("time"),
            "at": _at(pl.col("time"), start),
            "customer_id": customer,
            "invoice_id": _nullable("invoice_id"),
            "kind": _codes("kind", EventKindEnum),
            "amount": pl.col("amount").cast(pl.Int64),
            "currency": currency,
            "decline_code": _codes("decline", DeclineEnum),
            "actor": _codes("actor", ActorEnum),
            "attempt": pl.col("attempt").cast(pl.Int8),
        },
    )
    live = pl.col("link_live_until")
    emails = _table(
        recorder.emails,
        ("time", "customer_id"),
        _time_order,
        {
            "time": pl.col("time"),
            "sent_at": _at(pl.col("time"), start),
            "customer_id": customer,
            "invoice_id": _nullable("invoice_id"),
            "email_type": _codes("email_type", EmailTypeEnum),
            "link_included": _flag("link_included"),
            "link_live_until": pl.when(_flag("link_included") & live.is_finite()).then(_at(live, start)),
            "management_link": _flag("management_link"),
            "delivered": _flag("delivered"),
            "acted": _flag("acted"),
        },
    )
    invoices = _table(
        recorder.invoices,
        ("invoice_id",),
        _stable_order,
        {
            "invoice_id": pl.col("invoice_id").cast(pl.Int64),
            "customer_id": customer,
            "period": pl.col("period").cast(pl.Int16),
            "created_at": pl.col("created_at"),
            "amount": pl.col("amount").cast(pl.Int64),
            "status": _codes("status", InvoiceStatusEnum),
            "paid_at": _instant("paid_at"),
            "attempts": pl.col("attempts").cast(pl.Int8),
            "first_decline": _codes("first_decline", DeclineEnum),
            "at_risk": _flag("at_risk"),
            "paid_by": _codes("paid_by", ActorEnum),
            "due_at": _instant("due_at"),
            "currency": currency,
        },
    )
    return {"events": events, "emails": emails, "invoices": invoices}
