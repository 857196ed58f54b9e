"""What every `recovery-sim` command shares: settings by name or path, and a clean exit on bad input."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from .config import Policy, Scenario

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
