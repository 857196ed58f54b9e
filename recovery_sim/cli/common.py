"""What every `recovery-sim` command shares: its options, settings by name or path, progress bars, rich
tables, and a clean exit on bad input.

An option that means the same thing in several commands is declared here once, so its flag, bounds and
help read the same wherever it appears.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from recovery_sim.settings.config import ConfigError, Policy, Scenario

err = Console(stderr=True)

# --------------------------------------------------------------------------------------------- options

ScenarioOption = Annotated[
    Path | None, typer.Option("--scenario", help="Scenario TOML (default: the shipped one)")
]
PolicyOption = Annotated[
    str, typer.Option("--policy", "-p", help="Shipped policy name or a policy TOML path")
]
PoliciesOption = Annotated[
    list[str] | None,
    typer.Option("--policy", "-p", help="Policy name or TOML; repeat; first is the baseline"),
]
CustomersOption = Annotated[
    int | None, typer.Option("--customers", min=1, help="Resize the scenario to N customers")
]
MonthsOption = Annotated[int | None, typer.Option("--months", min=1, max=60, help="Horizon in months")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (every arm of a comparison shares it)")]
ThreadsOption = Annotated[int, typer.Option("--threads", min=1, max=64, help="Cores for the compiled engine")]
ReplicationsOption = Annotated[int, typer.Option("--replications", "-r", min=1, help="Replications per arm")]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", "-w", min=1, help="Worker processes (default: CPUs)")
]
DaskOption = Annotated[
    str | None, typer.Option("--dask", help="'local' for a Dask LocalCluster, or a scheduler tcp://host:port")
]
ShardSizeOption = Annotated[int, typer.Option("--shard-size", min=1, help="Customers per work unit")]


# -------------------------------------------------------------------------------------- settings, exit


def fail(message: str) -> typer.Exit:
    """Print one clear paragraph and return the exit to raise (code 2: bad input, no traceback)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def load_scenario(path: Path | None, customers: int | None = None, months: int | None = None) -> Scenario:
    """The scenario file (default: the embedded one), optionally resized."""
    scenario = Scenario.default() if path is None else Scenario.load(path)
    if customers is not None or months is not None:
        scenario = scenario.scaled(customers=customers, months=months)
    return scenario


def load_policy(name_or_path: str) -> Policy:
    """A shipped policy by name (`all-on`) or a TOML file by path."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return Policy.load(name_or_path)
    return Policy.named(name_or_path)


def load_policies(names: list[str], default: list[str]) -> dict[str, Policy]:
    """The arms of a comparison by name (or TOML path), in the order given; the first is the control."""
    chosen = {}
    for item in names or default:
        policy = load_policy(item)
        name = policy.name if (item.endswith(".toml") or "/" in item) else item
        if name in chosen:
            raise ConfigError(f"policy {name!r} given twice")
        chosen[name] = policy
    return chosen


# --------------------------------------------------------------------------------- progress and tables


def progress_bar() -> Progress:
    """A bar on stderr that disappears when done, so stdout holds only the results."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@contextmanager
def progress_callback(label: str) -> Iterator[Callable[[int, int], None]]:
    """A bar driven by `progress(done, total)` calls, the form the experiment functions report in."""
    with progress_bar() as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def headline_table(frame: pl.DataFrame, title: str) -> Table:
    """The summary with one column per currency: money stays in minor units, never mixed."""
    table = Table(title=title)
    table.add_column("metric")
    for currency in frame["currency"]:
        table.add_column(currency, justify="right")
    for column in frame.columns:
        if column in ("policy", "currency"):
            continue
        values = frame[column].to_list()
        cells = ("-" if v is None else f"{v:.1%}" if column.endswith("rate") else f"{v:,}" for v in values)
        table.add_row(column, *cells)  # None: a metric with nothing to measure (e.g. no at-risk invoice)
    return table


def summary_table(frame: pl.DataFrame, title: str) -> Table:
    """A frame as a rich table, row for row."""
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(column, justify="right" if frame[column].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    return table
