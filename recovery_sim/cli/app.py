"""`recovery-sim`: the command line, mirroring the Python API.

Every command validates its input first; a bad file or argument prints one paragraph naming the file
and field and exits with code 2, without a traceback and without touching output files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from recovery_sim.analysis.metrics import summary
from recovery_sim.api import simulate_in_shards
from recovery_sim.atomic import parquet, write_all
from recovery_sim.cli.common import err, fail, headline_table, load_policy, load_scenario, summary_table
from recovery_sim.cli.emails import app as emails_app
from recovery_sim.cli.experiments import register as register_experiment_commands
from recovery_sim.cli.stripe import register as register_stripe_commands
from recovery_sim.settings.config import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@app.callback()
def _group() -> None:
    """Simulate, compare and preview customer-email policies for subscription revenue recovery."""


ScenarioOpt = Annotated[Path | None, typer.Option("--scenario", help="Scenario TOML (default: embedded)")]
PolicyOpt = Annotated[str, typer.Option("--policy", help="Shipped policy name or a policy TOML path")]


@app.command()
def run(
    scenario: ScenarioOpt = None,
    policy: PolicyOpt = "all-on",
    customers: Annotated[int | None, typer.Option(min=1, help="Resize the scenario to N customers")] = None,
    months: Annotated[int | None, typer.Option(min=1, max=60, help="Horizon in months")] = None,
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
    out: Annotated[Path | None, typer.Option(help="Folder for events/emails/invoices parquet files")] = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Cores for the compiled engine")] = 1,
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


app.add_typer(emails_app, name="emails")
register_experiment_commands(app)
register_stripe_commands(app)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except ConfigError as exc:  # anything that escaped a command's own checks
        fail(str(exc))
        sys.exit(2)
