"""`recovery-sim import stripe …` and `recovery-sim export stripe …`: the Stripe round trip, from a shell.

Mounted with `register(app)`, like every command group. Every input is read and checked, and every
output computed, before anything is written; a bad file prints one paragraph naming the file, the line
or object id and the field, and exits with code 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from recovery_sim.atomic import parquet, write_all
from recovery_sim.cli.common import (
    CustomersOption,
    MonthsOption,
    PolicyOption,
    ScenarioOption,
    SeedOption,
    err,
    fail,
    headline_table,
    load_policy,
    load_scenario,
    summary_table,
)
from recovery_sim.settings.config import ConfigError

import_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Import data from other systems.")
export_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Export simulated runs.")


def register(parent: typer.Typer) -> None:
    """Mount `import` and `export` on the main app."""
    parent.add_typer(import_app, name="import")
    parent.add_typer(export_app, name="export")


@import_app.command("stripe")
def import_stripe_command(
    path: Annotated[
        Path, typer.Argument(help="Export folder (or one file): *.jsonl, list-page *.json, invoices.csv")
    ],
    policy: Annotated[
        str, typer.Option(help="Replay under this policy (name or TOML path)")
    ] = "recommended-minimum",
    calibrate: Annotated[Path | None, typer.Option(help="Write a fitted scenario TOML here")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the history and replay as parquet")] = None,
    start: Annotated[
        str | None, typer.Option(help="History start YYYY-MM-DD (default: first invoice)")
    ] = None,
    verified_domain: Annotated[list[str] | None, typer.Option(help="R12: a verified email domain")] = None,
) -> None:
    """Import a Stripe export: observed recovery, the emails a policy would have sent, a fitted scenario."""
    from recovery_sim.stripe.calibrate import fit
    from recovery_sim.stripe.importer import import_stripe
    from recovery_sim.stripe.replay import replay_report

    try:
        chosen = load_policy(policy)
        first = dt.date.fromisoformat(start) if start else None
        history = import_stripe(path, start=first, verified_domains=tuple(verified_domain or ()))
        report = replay_report(history, chosen)
        calibration = fit(history) if calibrate is not None else None
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # --start
        raise fail(f"--start: {exc}") from None
    for warning in history.warnings + (calibration.warnings if calibration else []):
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    console = Console()
    span = f"{history.start_date} + {history.horizon_months} months"
    observed = report.observed.drop("emails_sent")  # a Stripe export does not include the emails sent
    console.print(headline_table(observed, f"observed in {path} ({span}; money in minor units)"))
    console.print(summary_table(report.counts, f"emails {chosen.name} would have sent"))
    writes: dict[Path, Callable[[Path], None]] = {}
    if calibration is not None:
        writes[calibrate] = lambda tmp: tmp.write_text(calibration.toml, encoding="utf-8")
    if out is not None:
        frames = {"events": history.events, "invoices": history.invoices, "customers": history.customers,
                  "replay_emails": report.emails}  # fmt: skip
        for name, frame in frames.items():
            writes[out / f"{name}.parquet"] = parquet(frame)
        summary_csv = report.observed.write_csv()
        writes[out / "summary.csv"] = lambda tmp: tmp.write_text(summary_csv, encoding="utf-8")
    try:
        written = write_all(writes)  # every output or none
    except OSError as exc:
        raise fail(f"{exc.filename or out}: cannot write ({exc.strerror})") from None
    for path in written:
        console.print(f"wrote {path}")


@export_app.command("stripe")
def export_stripe_command(
    out: Annotated[Path, typer.Option(help="Folder to write the export into")],
    customers: CustomersOption = 1000,
    months: MonthsOption = 12,
    seed: SeedOption = 7,
    policy: PolicyOption = "recommended-minimum",
    scenario: ScenarioOption = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (JSON Lines) or json (list pages)")] = "jsonl",
    csv: Annotated[bool, typer.Option(help="Also write the Dashboard invoices CSV")] = True,
) -> None:
    """Simulate, then write the run as Stripe objects (customers, subscriptions, invoices, charges, ...)."""
    from recovery_sim.api import simulate
    from recovery_sim.stripe.export import export_run
    from recovery_sim.stripe.export_files import render_export, write_export

    if fmt not in ("jsonl", "json"):
        raise fail(f"--format: expected jsonl or json, got {fmt!r}")
    try:
        chosen = load_policy(policy)
        run = simulate(load_scenario(scenario, customers, months), chosen, seed=seed)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    files = render_export(export_run(run), fmt, csv)  # type: ignore[arg-type]
    try:
        written = write_export(files, out)
    except OSError as exc:
        raise fail(f"{exc.filename or out}: cannot write ({exc.strerror})") from None
    Console().print(f"wrote {len(written)} files to {out}: {', '.join(p.name for p in written)}")
