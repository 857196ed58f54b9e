"""`recovery-sim run`: simulate one policy, print its summary, optionally write the frames."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console

from recovery_sim.analysis.metrics import summary
from recovery_sim.api import simulate_in_shards
from recovery_sim.atomic import parquet, write_all
from recovery_sim.cli.common import (
    CustomersOption,
    MonthsOption,
    PolicyOption,
    ScenarioOption,
    SeedOption,
    ThreadsOption,
    fail,
    headline_table,
    load_policy,
    load_scenario,
    progress_bar,
    summary_table,
)
from recovery_sim.settings.config import ConfigError

app = typer.Typer()


def register(parent: typer.Typer) -> None:
    """Mount `run` on the main app."""
    parent.add_typer(app)


@app.command()
def run(
    scenario: ScenarioOption = None,
    policy: PolicyOption = "all-on",
    customers: CustomersOption = None,
    months: MonthsOption = None,
    seed: SeedOption = 7,
    out: Annotated[Path | None, typer.Option(help="Folder for events/emails/invoices parquet files")] = None,
    threads: ThreadsOption = 1,
) -> None:
    """Simulate one policy and print its revenue summary and the emails it sends."""
    try:
        chosen_scenario = load_scenario(scenario, customers, months)
        chosen_policy = load_policy(policy)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    with progress_bar() as bar:
        task = bar.add_task(f"simulating {chosen_policy.name}", total=chosen_scenario.customers)
        result = simulate_in_shards(
            chosen_scenario,
            chosen_policy,
            seed=seed,
            shard_size=max(5_000, -(-chosen_scenario.customers // 20)),  # about 20 steps of the bar
            on_shard=lambda n: bar.advance(task, n),
            threads=threads,
        )
    headline = summary(result)
    out_console = Console()
    title = f"{chosen_scenario.name} × {chosen_policy.name} (seed {seed}; money in minor units)"
    out_console.print(headline_table(headline, title))
    by_type = (
        result.emails.filter(pl.col("delivered"))
        .group_by(pl.col("email_type").cast(pl.String))
        .agg(pl.len().alias("sent"))
        .sort("sent", descending=True)
    )
    out_console.print(summary_table(by_type, "emails sent by type"))
    if out is not None:
        frames = {name: getattr(result, name) for name in ("events", "emails", "invoices", "customers")}
        writes = {out / f"{name}.parquet": parquet(frame) for name, frame in frames.items()}
        summary_csv = headline.write_csv()
        writes[out / "summary.csv"] = lambda tmp: tmp.write_text(summary_csv, encoding="utf-8")
        try:
            write_all(writes)  # all five files or none of them
        except OSError as exc:
            where = exc.filename or out
            raise fail(f"{where}: cannot write ({exc.strerror or exc}); nothing was written") from None
        out_console.print(f"wrote {out}/{{events,emails,invoices,customers}}.parquet and summary.csv")
