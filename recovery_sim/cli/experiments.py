"""`recovery-sim compare | sweep | report`: the experiment commands, mounted with `register(app)`.

Each command checks its input first; a bad file, setting or address prints one message to stderr and
exits with code 2, without a traceback and without touching output files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from recovery_sim import atomic
from recovery_sim.cli.common import (
    CustomersOption,
    DaskOption,
    MonthsOption,
    PoliciesOption,
    PolicyOption,
    ReplicationsOption,
    ScenarioOption,
    SeedOption,
    ShardSizeOption,
    WorkersOption,
    fail,
    load_policies,
    load_policy,
    load_scenario,
    progress_callback,
)
from recovery_sim.experiments.compare import REPORT_POLICIES, REPORT_REPLICATIONS, REPORT_SEED, compare
from recovery_sim.experiments.executors import check_dask, default_workers, open_executor
from recovery_sim.experiments.sweep import expand_grid, sweep
from recovery_sim.experiments.units import DEFAULT_SHARD_SIZE
from recovery_sim.settings.config import ConfigError

app = typer.Typer()


def register(parent: typer.Typer) -> None:
    """Mount compare, sweep and report on the main app."""
    parent.add_typer(app)


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """`setting=v1,v2,...` (values read as JSON where they parse, else as text), or `setting=[json list]`."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            raise ConfigError(
                f"--grid {item!r}: expected setting=value1,value2 (e.g. retries.max_attempts=2,4,8)"
            )
        raw = raw.strip()
        if raw.startswith("["):
            try:
                values = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--grid {item!r}: not a JSON list ({exc})") from exc
            if not isinstance(values, list):
                raise ConfigError(f"--grid {item!r}: expected a JSON list of values")
        else:
            values = [_scalar(v.strip()) for v in raw.split(",")]
        if key in grid:
            raise ConfigError(f"--grid {key!r} given twice")
        grid[key] = values
    if not grid:
        raise ConfigError("give at least one --grid setting=values")
    return grid


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _headline(table: pl.DataFrame, currency: str, title: str) -> Table:
    """Metrics as rows, arms as columns: mean over 95% CI (paired CI for the increment), minor units."""
    shown = ("collected", "incremental_revenue", "recovered_revenue", "recovery_rate", "involuntary_churn",
             "voluntary_churn", "reminder_cancellations", "emails_sent")  # fmt: skip
    rows = table.filter(pl.col("currency") == currency)
    arms = rows.get_column("arm").unique(maintain_order=True).to_list()
    out = Table(title=title)
    out.add_column("metric")
    for arm in arms:
        out.add_column(str(arm), justify="right")
    for metric in shown:
        cells = []
        for arm in arms:
            row = rows.filter((pl.col("arm") == arm) & (pl.col("metric") == metric))
            if row.is_empty():
                cells.append("–")
                continue
            r = row.row(0, named=True)
            paired = metric == "incremental_revenue"
            lo, hi = (r["diff_ci_low"], r["diff_ci_high"]) if paired else (r["ci_low"], r["ci_high"])
            fmt = "{:.1%}" if metric.endswith("rate") else "{:,.0f}"
            text = "baseline" if paired and lo is None else fmt.format(r["mean"])
            if lo is not None and hi is not None:
                text += f"\n[dim]{fmt.format(lo)} … {fmt.format(hi)}[/]"
            cells.append(text)
        out.add_row(metric, *cells)
    return out


def _run(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # an --out that cannot be written: under a regular file, read-only, a full disk
        raise fail(f"{exc.filename or 'output'}: cannot write ({exc.strerror or exc})") from None


@app.command("compare")
def compare_command(
    policy: PoliciesOption = None,
    scenario: ScenarioOption = None,
    customers: CustomersOption = None,
    months: MonthsOption = None,
    replications: ReplicationsOption = 10,
    seed: SeedOption = REPORT_SEED,
    workers: WorkersOption = None,
    dask: DaskOption = None,
    shard_size: ShardSizeOption = DEFAULT_SHARD_SIZE,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for table.csv and Parquet results")
    ] = None,
) -> None:
    """Compare policies on common random numbers: means, 95% CIs and paired differences vs the first."""

    def action() -> None:
        chosen_scenario = load_scenario(scenario, customers, months)
        chosen = load_policies(policy or [], list(REPORT_POLICIES))
        check_dask(dask)
        with open_executor(workers, dask) as ex, progress_callback("simulating") as progress:
            comparison = compare(
                chosen_scenario, chosen, replications=replications, seed=seed, executor=ex,
                shard_size=shard_size, progress=progress,
            )  # fmt: skip
        console = Console()
        for currency in comparison.currencies:
            title = f"{chosen_scenario.name}: {replications} replications, {currency} in minor units"
            console.print(_headline(comparison.table, currency, title))
        if out is not None:
            csv = comparison.table.write_csv()
            atomic.write_all(  # the four files together or none of them
                {
                    out / "table.csv": lambda tmp: tmp.write_text(csv, encoding="utf-8"),
                    out / "table.parquet": atomic.parquet(comparison.table),
                    out / "replicates.parquet": atomic.parquet(comparison.replicates),
                    out / "units.parquet": atomic.parquet(comparison.units),
                }
            )
            console.print(f"wrote {out}/table.csv, table.parquet, replicates.parquet, units.parquet")

    _run(action)


@app.command("sweep")
def sweep_command(
    grid: Annotated[
        list[str],
        typer.Option("--grid", "-g", help="setting=v1,v2 (prefix scenario settings with 'scenario.')"),
    ],
    out: Annotated[Path, typer.Option("--out", help="Store folder (re-running resumes it)")],
    policy: PolicyOption = "recommended-minimum",
    scenario: ScenarioOption = None,
    customers: CustomersOption = None,
    months: MonthsOption = None,
    replications: ReplicationsOption = 10,
    seed: SeedOption = REPORT_SEED,
    workers: WorkersOption = None,
    dask: DaskOption = None,
    shard_size: ShardSizeOption = DEFAULT_SHARD_SIZE,
    keep_events: Annotated[
        bool, typer.Option("--keep-events", help="Also store raw events/emails/invoices")
    ] = False,
) -> None:
    """Run every combination of the grid; one Parquet file per arm × replication × shard in --out."""

    def action() -> None:
        chosen_scenario = load_scenario(scenario, customers, months)
        base = load_policy(policy)
        parsed = parse_grid(grid)
        expand_grid(chosen_scenario, base, parsed)  # validate every combination before any work
        check_dask(dask)
        with open_executor(workers, dask) as ex, progress_callback("sweeping") as progress:
            table = sweep(
                chosen_scenario, base, parsed, replications=replications, store=out, executor=ex, seed=seed,
                shard_size=shard_size, keep_events=keep_events, progress=progress,
            )  # fmt: skip
        console = Console()
        keys = list(parsed)
        shown = table.filter(pl.col("metric").is_in(["collected", "recovered_revenue", "recovery_rate"]))
        for currency in shown.get_column("currency").unique(maintain_order=True):
            view = Table(title=f"sweep: mean (95% CI) per arm, {currency} in minor units")
            for column in ("arm", *keys, "metric", "mean", "95% CI"):
                view.add_column(column, justify="right" if column in ("mean", "95% CI") else "left")
            for r in shown.filter(pl.col("currency") == currency).iter_rows(named=True):
                fmt = "{:.1%}" if r["metric"].endswith("rate") else "{:,.0f}"
                ci = "" if r["ci_low"] is None else f"{fmt.format(r['ci_low'])}…{fmt.format(r['ci_high'])}"
                view.add_row(r["arm"], *(str(r[k]) for k in keys), r["metric"], fmt.format(r["mean"]), ci)
            console.print(view)
        console.print(f"store: {out} (manifest.json, units/, summary.parquet)")

    _run(action)


@app.command("report")
def report_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for index.html and its charts")] = Path(
        "out/report"
    ),
    policy: PoliciesOption = None,
    scenario: ScenarioOption = None,
    customers: CustomersOption = None,
    months: MonthsOption = None,
    replications: ReplicationsOption = REPORT_REPLICATIONS,
    seed: SeedOption = REPORT_SEED,
    workers: WorkersOption = None,
    dask: DaskOption = None,
) -> None:
    """Write the HTML report comparing the shipped policies on the default scenario."""

    def action() -> None:
        chosen_scenario = load_scenario(scenario, customers, months)
        chosen = load_policies(policy or [], list(REPORT_POLICIES))
        check_dask(dask)
        with open_executor(workers, dask) as ex, progress_callback("simulating") as progress:
            from recovery_sim.analysis.report import (
                build_report,  # altair is slow to import: only when a report is asked,
            )

            index = build_report(
                out, scenario=chosen_scenario, policies=chosen, replications=replications, seed=seed,
                progress=progress, executor=ex, workers=workers or default_workers(),
            )  # fmt: skip
        Console().print(f"wrote {index}")

    _run(action)
