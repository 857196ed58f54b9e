"""`recovery-sim sensitivity`: how robust the comparison's verdict is, mounted with `register(app)`.

Input is checked first (policies, scenario, every range's setting path and ends); a bad one prints
one paragraph and exits with code 2, before any simulation and without touching output files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    ReplicationsOption,
    ScenarioOption,
    SeedOption,
    ShardSizeOption,
    WorkersOption,
    fail,
    load_policies,
    load_scenario,
    progress_callback,
)
from recovery_sim.experiments.compare import REPORT_POLICIES, REPORT_SEED
from recovery_sim.experiments.executors import check_dask, open_executor
from recovery_sim.experiments.sensitivity import METHODS, MORRIS_TRAJECTORIES, Range, Sensitivity, sensitivity
from recovery_sim.experiments.units import DEFAULT_SHARD_SIZE
from recovery_sim.settings.config import ConfigError, Policy

app = typer.Typer()


def register(parent: typer.Typer) -> None:
    """Mount `sensitivity` on the main app."""
    parent.add_typer(app)


def parse_range(item: str) -> Range:
    """`setting=low:high` (the default is read from the scenario)."""
    key, sep, raw = item.partition("=")
    low, colon, high = raw.partition(":")
    try:
        if not (sep and colon and key.strip()):
            raise ValueError
        return Range(key.strip(), float(low), float(high), float("nan"))
    except ValueError:
        raise ConfigError(
            f"--range {item!r}: expected setting=low:high (e.g. behaviour.reminder_cancel_propensity=0:0.1)"
        ) from None


def _control_and_others(names: list[str] | None) -> dict[str, Policy]:
    chosen = load_policies(names or [], list(REPORT_POLICIES))
    if len(chosen) < 2:
        raise ConfigError("give a control and at least one other policy (-p control -p other)")
    return chosen


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _tornado_table(result: Sensitivity, currency: str) -> Table:
    """Paired difference of collected revenue vs the control at each end, minor units."""
    table = Table(title=f"collected − {result.control} at each end of each range, {currency} in minor units")
    for column in (
        "setting",
        "policy",
        "low",
        "at low",
        "default",
        "at default",
        "high",
        "at high",
        "winner",
    ):
        table.add_column(column, justify="left" if column in ("setting", "policy", "winner") else "right")
    rows = result.tornado.filter(pl.col("currency") == currency)
    for (setting, policy), group in rows.group_by(["setting", "policy"], maintain_order=True):
        low = group.filter(pl.col("end") == "low").row(0, named=True)
        high = group.filter(pl.col("end") == "high").row(0, named=True)
        winners = " / ".join(dict.fromkeys((low["winner"], low["default_winner"], high["winner"])))
        table.add_row(
            setting, policy, f"{low['value']:g}", _money(low["diff_mean"]), f"{low['default']:g}",
            _money(low["default_diff"]), f"{high['value']:g}", _money(high["diff_mean"]), winners,
        )  # fmt: skip
    return table


def _write(result: Sensitivity, out: Path) -> list[str]:
    """Every table as CSV and Parquet, and the verdicts, together or not at all (atomic.write_all)."""
    tables = {"tornado": result.tornado, "flips": result.flips, "morris": result.morris}
    writes: dict[Path, atomic.Writer] = {}
    for name, frame in tables.items():
        writes[out / f"{name}.csv"] = atomic.content(frame.write_csv())
        writes[out / f"{name}.parquet"] = atomic.parquet(frame)
    verdicts = pl.DataFrame(
        {"currency": list(result.verdict), "verdict": list(result.verdict.values())},
        schema={"currency": pl.String, "verdict": pl.String},
    )
    writes[out / "verdict.csv"] = atomic.content(verdicts.write_csv())
    return [p.name for p in atomic.write_all(writes)]


@app.command("sensitivity")
def sensitivity_command(
    policy: PoliciesOption = None,
    scenario: ScenarioOption = None,
    customers: CustomersOption = None,
    months: MonthsOption = None,
    replications: ReplicationsOption = 2,
    method: Annotated[str, typer.Option("--method", help="oat (one at a time, flips) or morris")] = "oat",
    ranges: Annotated[
        list[str] | None,
        typer.Option("--range", help="setting=low:high; repeat (default: the evidence table)"),
    ] = None,
    trajectories: Annotated[
        int, typer.Option("--trajectories", min=2, help="Morris trajectories")
    ] = MORRIS_TRAJECTORIES,
    seed: SeedOption = REPORT_SEED,
    workers: WorkersOption = None,
    dask: DaskOption = None,
    shard_size: ShardSizeOption = DEFAULT_SHARD_SIZE,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for tornado, flips, morris (.csv, .parquet)")
    ] = None,
) -> None:
    """How robust the verdict is: collected revenue vs the first policy over each setting's range."""
    try:
        if method not in METHODS:
            raise ConfigError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
        chosen_scenario = load_scenario(scenario, customers, months)
        chosen = _control_and_others(policy)
        parsed = [parse_range(item) for item in ranges] if ranges else None
        check_dask(dask)
        with open_executor(workers, dask) as ex, progress_callback("simulating") as progress:
            result = sensitivity(
                chosen_scenario, chosen, parsed, method=method, replications=replications, seed=seed,
                executor=ex, progress=progress, shard_size=shard_size, trajectories=trajectories,
            )  # fmt: skip
        console = Console()
        for currency, sentence in result.verdict.items():
            if method == "oat":
                console.print(_tornado_table(result, currency))
            console.print(f"[bold]{currency}:[/] {sentence}")
        if method == "morris":
            console.print(result.morris)
        if out is not None:
            console.print(f"wrote {', '.join(_write(result, out))} in {out}")
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # an --out that cannot be written
        raise fail(f"{exc.filename or 'output'}: cannot write ({exc.strerror or exc})") from None
