"""`simulate`: one scenario under one policy, for one seed and replication, as polars frames."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from recovery_sim.domain import rules
from recovery_sim.domain.enums import SubscriptionStatus
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.simulation.customers import generate
from recovery_sim.simulation.events import frames
from recovery_sim.simulation.memory import return_freed_memory
from recovery_sim.simulation.reference.engine import Engine
from recovery_sim.simulation.rng import Streams


@dataclass
class Run:
    """The outcome of one simulation: what happened (events), what was sent (emails), what was billed."""

    scenario: Scenario
    policy: Policy
    seed: int
    replication: int
    events: pl.DataFrame
    emails: pl.DataFrame
    invoices: pl.DataFrame
    customers: pl.DataFrame


def simulate(
    scenario: Scenario,
    policy: Policy,
    seed: int = 0,
    replication: int = 0,
    customer_ids: np.ndarray | None = None,
    fast: bool = True,
    threads: int = 1,
) -> Run:
    """Simulate the scenario's customers (or the subset `customer_ids`, a shard) under `policy`.

    Customers never interact, and every draw is keyed by customer, so a shard's rows equal the whole
    run's rows for those customers, and two policies with the same seed see the same world.
    The default runs the model compiled (kernel.py); `fast=False` runs it in SimPy (engine.py), the
    reference path. Both give identical frames. `threads` runs the compiled path on that many cores
    (disjoint customer ranges; the frames are the same).
    """
    return_freed_memory()
    streams = Streams(seed, replication)
    customers = generate(scenario, streams, None if customer_ids is None else np.sort(customer_ids))
    if fast:
        # numba loads on the first simulation, not with the CLI
        from recovery_sim.simulation.compiled import driver

        engine = driver.CompiledEngine(scenario, policy, customers, streams, threads)
    else:
        engine = Engine(scenario, policy, customers, streams)
    recorder = engine.run()
    table = customers.frame()
    currencies = table["currency"].to_numpy()
    out = frames(recorder, scenario.start_date, customers.ids, currencies)
    cohort_names = pl.Series([c.name for c in scenario.cohorts], dtype=pl.String)
    statuses = pl.Series([s.value for s in SubscriptionStatus], dtype=pl.String)
    table = table.with_columns(
        cohort_names.gather(table["cohort_index"].cast(pl.UInt32)).alias("cohort"),
        statuses.gather(engine.statuses()).alias("final_status"),
    )
    return Run(scenario, policy, seed, replication, out["events"], out["emails"], out["invoices"], table)


def simulate_in_shards(
    scenario: Scenario,
    policy: Policy,
    seed: int = 0,
    replication: int = 0,
    shard_size: int = 5_000,
    on_shard=None,
    threads: int = 1,
) -> Run:
    """`simulate` shard by shard (same result as one call), reporting progress after each shard."""
    total = scenario.customers
    parts = []
    for first in range(0, total, shard_size):
        ids = np.arange(first, min(first + shard_size, total), dtype=np.int64)
        parts.append(simulate(scenario, policy, seed, replication, customer_ids=ids, threads=threads))
        if on_shard is not None:
            on_shard(len(ids))

    def stack(name: str, *sort: str) -> pl.DataFrame:
        frame = pl.concat([getattr(p, name) for p in parts], how="vertical_relaxed")
        return frame.sort(list(sort), maintain_order=True) if sort else frame

    return Run(
        scenario,
        policy,
        seed,
        replication,
        events=stack("events", "time", "customer_id"),
        emails=stack("emails", "time", "customer_id"),
        invoices=stack("invoices", "invoice_id"),
        customers=stack("customers"),
    )


def email_log(run: Run, customer_id: int, as_of: dt.date) -> pl.DataFrame:
    """SPEC R13: the customer's email log as it reads on `as_of` (see `rules.email_log`)."""
    return rules.email_log(run.emails, customer_id, as_of)
