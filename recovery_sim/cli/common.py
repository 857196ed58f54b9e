"""What every `recovery-sim` command shares: settings by name or path, and a clean exit on bad input."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recovery_sim.settings.config import Policy, Scenario

err = Console(stderr=True)


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
