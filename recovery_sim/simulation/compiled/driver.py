"""The fast path's driver: the compiled model (`kernel.py`) over all customers, into a `Recorder`.

`engine.Engine` is the model in SimPy and the reference; `CompiledEngine` runs the same model compiled,
customer by customer, and gives the same rows in the same recorder columns
(tests/simulation/test_fast_path.py).
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.simulation.compiled import kernel, layout
from recovery_sim.simulation.customers import Customers, card_emails_at, first_periods, has_card_process
from recovery_sim.simulation.events import Recorder
from recovery_sim.simulation.reference.engine import Engine
from recovery_sim.simulation.rng import Streams
from recovery_sim.simulation.tables import RunTables

_BUFFER_ROWS = 1 << 18  # rows per recording chunk (events and emails)


def _scalars(tables: RunTables) -> dict[str, float]:
    """Every scalar setting under its layout name: the tables' own, the slot layout's, table lengths."""
    slots = tables.slots
    values = {name: getattr(tables, name) for name in layout.F_SCALARS if hasattr(tables, name)}
    values |= {name: getattr(tables, name) for name in layout.I_SCALARS if hasattr(tables, name)}
    values |= {f"slot_{name}": getattr(slots, name) for name, _size in slots.sizes if hasattr(slots, name)}
    values |= {
        "per_period": slots.per_period,
        "card_index": slots.card,
        "n_declines": len(tables.decline_ids),
        "n_retries": len(tables.retry_offsets),
        "n_invoice_reminders": len(tables.invoice_reminder_offsets),
    }
    return values


def _settings(tables: RunTables, streams: Streams) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's settings arrays, every value put under its name in `layout`."""
    f64, i64 = np.zeros(layout.F_SIZE), np.zeros(layout.I_SIZE, dtype=np.int64)
    scalars = _scalars(tables)
    for target, offsets, names in (
        (f64, layout.F_AT, layout.F_SCALARS),
        (i64, layout.I_AT, layout.I_SCALARS),
    ):
        for name in names:
            target[offsets[name]] = scalars[name]
    tables_by_name = {name: getattr(tables, name) for name in dir(tables) if not name.startswith("_")}
    tables_by_name["keys"] = streams.key_table().view(np.int64)
    delivered = np.zeros((len(tables.delivered), layout.RECIPIENTS), dtype=bool)  # a row per email type
    delivered[:, : len(tables.delivered[0])] = tables.delivered
    tables_by_name["delivered"] = delivered
    for target, offsets, sizes in ((f64, layout.F_AT, layout.F_TABLES), (i64, layout.I_AT, layout.I_TABLES)):
        for name, room in sizes:
            if name in tables_by_name:
                _put(target, offsets[name], tables_by_name[name], room, name)
    return f64, i64


def _put(target: np.ndarray, at: int, values, room: int, name: str) -> None:
    """One table into its room; a run that needs more room than the kernel has runs in SimPy."""
    values = np.asarray(values, dtype=target.dtype).ravel()
    if len(values) > room:
        raise layout.OutOfRoom(
            f"the compiled engine holds {room} entries of {name!r}, this run needs {len(values)}"
        )
    target[at : at + len(values)] = values


def _customer_columns(customers: Customers, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """The customer columns the kernel reads (`kernel.C_*` rows): integers, then floats."""
    c, start = customers, scenario.start_date
    plan_step = np.array([p.step_months for p in c.plans], dtype=np.int64)
    card_email_at = card_emails_at(c, start)
    card_process = has_card_process(c, card_email_at, scenario.horizon_days)
    ints = np.stack([c.ids, c.plan, c.cohort, c.method, c.recipient, c.send_invoice, c.trial_days,
                     c.trial_without_method, c.anchor_day, first_periods(c, start, plan_step), card_process],
                    dtype=np.int64)  # fmt: skip
    floats = np.stack([c.signup_at, c.card_expires_at, card_email_at, c.anchor_frac], dtype=np.float64)
    return ints, floats


class CompiledEngine:
    """Runs one (scenario, policy, seed, replication) over a set of customers, compiled."""

    def __init__(
        self, scenario: Scenario, policy: Policy, customers: Customers, streams: Streams, threads: int = 1
    ) -> None:
        self.scenario = scenario
        self.policy = policy
        self.c = customers
        self.streams = streams
        self.threads = max(1, threads)
        self.rec = Recorder()
        self.final_status = np.zeros(len(customers), dtype=np.int64)

    def run(self) -> Recorder:
        """The compiled run; where a customer outgrows the kernel's fixed tables, the SimPy reference.

        The kernel holds 32 pending wake-ups and 96 invoices per customer. A scenario whose customers
        need more (say, reactions delayed by months to hundreds of emails) runs in SimPy instead: the
        same model, so the same frames, only slower; a warning says so.
        """
        try:
            return self._run_compiled()
        except layout.OutOfRoom as exc:
            warnings.warn(f"{exc}: this run uses the SimPy engine (same results, slower)", stacklevel=2)
            reference = Engine(self.scenario, self.policy, self.c, self.streams)
            self.rec = reference.run()
            self.final_status = reference.statuses()
            return self.rec

    def _run_compiled(self) -> Recorder:
        """Every customer through the kernel; with threads, contiguous customer ranges side by side.

        Customers never interact, and the frames order rows by time, customer and each customer's own
        recording order, so neither the ranges nor the order of the chunks changes the frames.
        """
        cust_i, cust_f = _customer_columns(self.c, self.scenario)
        tables = RunTables.build(self.scenario, self.policy, self.c.plans)
        settings = _settings(tables, self.streams)
        edges = np.linspace(0, len(self.c), self.threads + 1).astype(np.int64).tolist()
        ranges = list(zip(edges[:-1], edges[1:], strict=True))
        if self.threads == 1:
            parts = [self._run_range(settings, cust_i, cust_f, *ranges[0])]
        else:
            with ThreadPoolExecutor(self.threads) as pool:
                parts = list(pool.map(lambda r: self._run_range(settings, cust_i, cust_f, *r), ranges))
        for chunks in parts:
            for events, emails, invoices in chunks:
                self.rec.events.extend(**events)
                self.rec.emails.extend(**emails)
                self.rec.invoices.extend(**invoices)
        return self.rec

    def _run_range(
        self, settings: tuple, cust_i: np.ndarray, cust_f: np.ndarray, first: int, last: int
    ) -> list:
        """Customers first..last-1, as recorder chunks (events, emails, invoices)."""
        f64, i64 = (array.copy() for array in settings)  # the customer state lives in them
        room = 128 * layout.MAX_INVOICES  # more rows than one customer can write
        chunks = []
        # Reused chunk after chunk: fresh pages for every chunk cost more than the kernel itself.
        rows_f = np.empty((6, _BUFFER_ROWS))
        rows_i = np.empty((23, _BUFFER_ROWS), dtype=np.int64)
        while first < last:
            i64[layout.S_EVENTS : layout.S_INVOICE_ROWS + 1] = 0
            first = kernel.run_customers(
                f64, i64, rows_f, rows_i, cust_i, cust_f, first, last, self.final_status, room
            )
            counts = i64[layout.S_EVENTS : layout.S_INVOICE_ROWS + 1].tolist()
            chunks.append(
                tuple(
                    _typed(spec, rows, rows_f, rows_i, n)
                    for spec, rows, n in zip(
                        (Recorder.EVENT_COLUMNS, Recorder.EMAIL_COLUMNS, Recorder.INVOICE_COLUMNS),
                        (layout.EVENT_ROWS, layout.EMAIL_ROWS, layout.INVOICE_ROWS),
                        counts,
                        strict=True,
                    )
                )
            )
        return chunks

    def statuses(self) -> np.ndarray:
        """Each customer's subscription status at the end of the run (index into SubscriptionStatus)."""
        return self.final_status


def _typed(spec: dict[str, str], rows: tuple, rows_f: np.ndarray, rows_i: np.ndarray, n: int) -> dict:
    """The first n kernel rows of one table, as recorder columns in their types."""
    return {
        name: (rows_f if is_float else rows_i)[row, :n].astype(spec[name])
        for name, (is_float, row) in zip(spec, rows, strict=True)
    }


def warm_up() -> None:
    """Compile the kernel into numba's on-disk cache (a first compile takes about a minute)."""
    from recovery_sim.api import simulate  # the driver is imported by api, not the other way round

    scenario = Scenario.default().scaled(customers=60, months=2)
    simulate(scenario, Policy.named("all-on"), seed=0)
