"""`frames()` from a `Recorder`: chunks recorded with `extend()` give the frames of the same rows recorded
one by one, rows sort by time, customer and recording order whatever order they arrive in, and the
recorder hands its rows over to the frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from recovery_sim.settings.config import Policy
from recovery_sim.simulation.compiled.driver import CompiledEngine
from recovery_sim.simulation.customers import generate
from recovery_sim.simulation.events import (
    ACTORS,
    DECLINES,
    EMAIL_TYPES,
    EVENT_KINDS,
    INVOICE_STATUSES,
    Recorder,
    frames,
)
from recovery_sim.simulation.reference.engine import Engine
from recovery_sim.simulation.rng import Streams

START = dt.date(2026, 1, 1)
CUSTOMERS = np.arange(0, 60, 3)  # a shard's ids: not 0..n-1
CURRENCIES = np.array(["EUR", "BRL", "USD"] * 7)[: len(CUSTOMERS)]
FRAMES = ("events", "emails", "invoices")


def random_rows(seed: int, n: int, time: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Columns of n events, emails and invoices; times on a coarse grid so that many rows tie."""
    rng = np.random.default_rng(seed)
    time = rng.integers(0, 40, n) / 4.0 if time is None else time
    customer = rng.choice(CUSTOMERS, n).astype(np.int32)
    invoice = rng.integers(-1, 5 * n, n)
    flag = lambda: rng.integers(0, 2, n).astype(np.int8)  # noqa: E731
    code = lambda labels: rng.integers(0, len(labels), n).astype(np.int8)  # noqa: E731
    events = {
        "time": time, "customer_id": customer, "invoice_id": invoice, "kind": code(EVENT_KINDS),
        "amount": np.arange(n, dtype=np.int64),  # the recording order, to see how ties were broken
        "decline": code(DECLINES), "actor": code(ACTORS), "attempt": rng.integers(0, 5, n).astype(np.int8),
    }  # fmt: skip
    live = np.where(rng.random(n) < 0.3, np.inf, time + 14.0)
    emails = {
        "time": time, "customer_id": customer, "invoice_id": invoice, "email_type": code(EMAIL_TYPES),
        "link_included": flag(), "management_link": flag(), "link_live_until": live, "delivered": flag(),
        "acted": flag(),
    }  # fmt: skip
    paid_at = np.where(rng.random(n) < 0.5, np.inf, time + 1.0)
    invoices = {
        "invoice_id": rng.permutation(n).astype(np.int64), "customer_id": customer,
        "period": rng.integers(0, 12, n).astype(np.int16), "created_at": time,
        "amount": rng.integers(100, 10_000, n), "status": code(INVOICE_STATUSES), "paid_at": paid_at,
        "attempts": rng.integers(0, 5, n).astype(np.int8), "first_decline": code(DECLINES),
        "at_risk": flag(), "paid_by": code(ACTORS), "due_at": time + 30.0,
    }  # fmt: skip
    return {"events": events, "emails": emails, "invoices": invoices}


def one_by_one(rows: dict[str, dict[str, np.ndarray]]) -> Recorder:
    recorder = Recorder()
    e = rows["events"]
    for i in range(len(e["time"])):
        recorder.event(
            e["time"][i], e["customer_id"][i], e["kind"][i], e["invoice_id"][i], e["amount"][i],
            e["decline"][i], e["actor"][i], e["attempt"][i],
        )  # fmt: skip
    m = rows["emails"]
    for i in range(len(m["time"])):
        recorder.email(*(m[name][i] for name in Recorder.EMAIL_COLUMNS))
    v = rows["invoices"]
    for i in range(len(v["invoice_id"])):
        recorder.invoice_row(*(v[name][i] for name in Recorder.INVOICE_COLUMNS))
    return recorder


def in_chunks(rows: dict[str, dict[str, np.ndarray]], cuts: list[int]) -> Recorder:
    """The rows as `extend()` chunks (the engine's way), with a few rows recorded one by one between."""
    recorder = Recorder()
    for table, spec in (("events", Recorder.EVENT_COLUMNS), ("emails", Recorder.EMAIL_COLUMNS),
                        ("invoices", Recorder.INVOICE_COLUMNS)):  # fmt: skip
        columns, target = rows[table], getattr(recorder, table)
        edges = [0, *cuts, len(columns["time" if "time" in columns else "invoice_id"])]
        for k, (first, last) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            if k % 2:  # every other part row by row, into the append buffers
                for i in range(first, last):
                    for name in spec:
                        target.buffers[name].append(columns[name][i])
            else:
                target.extend(**{name: v[first:last].astype(spec[name]) for name, v in columns.items()})
    return recorder


def assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    for name in FRAMES:
        assert a[name].schema == b[name].schema, name
        assert a[name].equals(b[name]), name


@pytest.mark.parametrize("seed", [1, 2])
def test_chunks_give_the_frames_of_rows_recorded_one_by_one(seed: int) -> None:
    rows = random_rows(seed, 3_000)
    expected = frames(one_by_one(rows), START, CUSTOMERS, CURRENCIES)
    assert_same(frames(in_chunks(rows, [700, 1_100, 2_500]), START, CUSTOMERS, CURRENCIES), expected)
    assert_same(frames(in_chunks(rows, []), START, CUSTOMERS, CURRENCIES), expected)


def test_extend_broadcasts_scalars() -> None:
    recorder = Recorder()
    recorder.events.extend(
        time=np.array([2.0, 1.0]), customer_id=np.int32(3), invoice_id=-1, kind=0, amount=5, decline=0,
        actor=0, attempt=0,
    )  # fmt: skip
    events = frames(recorder, START, CUSTOMERS, CURRENCIES)["events"]
    assert events["time"].to_list() == [1.0, 2.0]
    assert events["customer_id"].to_list() == [3, 3]
    assert events["invoice_id"].null_count() == 2


@pytest.mark.parametrize("customer_order", [False, True], ids=["as-recorded", "customer-ordered"])
@pytest.mark.parametrize("times", ["grid", "signed"])
def test_rows_sort_by_time_customer_then_recording_order(customer_order: bool, times: str) -> None:
    """The order of np.lexsort((customer, time)): stable, whether or not rows come in customer order,
    and for negative times and -0.0 (equal to 0.0) too."""
    n = 4_000
    rng = np.random.default_rng(7)
    time = None if times == "grid" else rng.choice([-1.5, -0.0, 0.0, 0.25, 3.0], n)
    rows = random_rows(3, n, time)
    if customer_order:
        by_customer = np.argsort(rows["events"]["customer_id"], kind="stable")
        rows = {table: {k: v[by_customer] for k, v in cols.items()} for table, cols in rows.items()}
    e = rows["events"]
    expected = e["amount"][np.lexsort((e["customer_id"], e["time"]))]
    out = frames(in_chunks(rows, [1_000]), START, CUSTOMERS, CURRENCIES)
    assert np.array_equal(out["events"]["amount"].to_numpy(), expected)
    assert np.array_equal(out["emails"]["time"].to_numpy(), np.sort(rows["emails"]["time"]))
    assert out["invoices"]["invoice_id"].is_sorted()


def test_values_decode_as_recorded() -> None:
    rows = random_rows(4, 500)
    events = frames(in_chunks(rows, [200]), START, CUSTOMERS, CURRENCIES)["events"]
    e = rows["events"]
    by_row = events.sort("amount")  # amount is the recording order
    assert by_row["kind"].cast(pl.String).to_list() == [EVENT_KINDS[k].value for k in e["kind"]]
    assert by_row["decline_code"].cast(pl.String).to_list() == [DECLINES[k] for k in e["decline"]]
    currency = dict(zip(CUSTOMERS.tolist(), CURRENCIES.tolist(), strict=True))
    assert by_row["currency"].cast(pl.String).to_list() == [currency[c] for c in e["customer_id"].tolist()]
    invoice = by_row["invoice_id"].to_numpy()
    assert np.array_equal(np.isnan(invoice), e["invoice_id"] < 0)


def test_an_unknown_code_raises() -> None:
    rows = random_rows(5, 100)
    rows["events"]["kind"][10] = len(EVENT_KINDS)
    with pytest.raises(pl.exceptions.PolarsError):
        frames(in_chunks(rows, []), START, CUSTOMERS, CURRENCIES)


def test_frames_take_the_rows_out_of_the_recorder() -> None:
    recorder = in_chunks(random_rows(6, 1_000), [300])
    frames(recorder, START, CUSTOMERS, CURRENCIES)
    for table in FRAMES:
        assert all(len(values) == 0 for values in getattr(recorder, table).arrays().values())


def test_empty_recorder_gives_empty_frames() -> None:
    empty = frames(Recorder(), START, CUSTOMERS, CURRENCIES)
    some = frames(in_chunks(random_rows(8, 50), []), START, CUSTOMERS, CURRENCIES)
    for table in FRAMES:
        assert empty[table].height == 0
        assert empty[table].schema == some[table].schema


@pytest.mark.parametrize("engine", [CompiledEngine, Engine], ids=["fast", "reference"])
def test_each_customer_is_recorded_in_time_order(small_default, engine: type) -> None:
    """Per customer, events and emails are recorded in non-decreasing time (before frames sort them)."""
    streams = Streams(3, 0)
    customers = generate(small_default, streams)
    recorder = engine(small_default, Policy.named("all-on"), customers, streams).run()
    for columns in (recorder.events.arrays(), recorder.emails.arrays()):
        customer, time = columns["customer_id"], columns["time"]
        order = np.argsort(customer, kind="stable")  # by customer, then recording order
        same = customer[order][1:] == customer[order][:-1]
        assert len(customer) and (np.diff(time[order])[same] >= 0).all()
