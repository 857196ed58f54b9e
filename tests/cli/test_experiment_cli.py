"""compare / sweep / report commands: outputs, and exit code 2 with one clear message on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from recovery_sim.cli.experiments import parse_grid, register

app = typer.Typer()
register(app)
runner = CliRunner()
SMALL = ["--customers", "300", "--months", "2", "--replications", "2", "--workers", "1"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_compare_prints_and_writes_tables(tmp_path: Path) -> None:
    result = invoke("compare", *SMALL, "--policy", "none", "--policy", "all-on", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "incremental_revenue" in result.stdout and "baseline" in result.stdout
    table = pl.read_csv(tmp_path / "table.csv")
    assert set(table["arm"]) == {"none", "all-on"}
    assert pl.read_parquet(tmp_path / "replicates.parquet").height == 2 * 2 * 2  # arms × reps × currencies


def test_sweep_writes_a_resumable_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = ["sweep", *SMALL, "--grid", "retries.max_attempts=2,4", "--out", str(store)]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["grid"] == {"retries.max_attempts": [2, 4]}
    before = {p.name: p.stat().st_mtime_ns for p in (store / "units").iterdir()}
    again = invoke(*args)
    assert again.exit_code == 0
    assert {p.name: p.stat().st_mtime_ns for p in (store / "units").iterdir()} == before  # nothing redone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "--policy", "nope"], "unknown policy 'nope'"),
        (["compare", "--dask", "somewhere"], "--dask must be 'local'"),
        (["compare", "--scenario", "missing.toml"], "missing.toml: file not found"),
        (["sweep", "--grid", "retries.max_attempts", "--out", "x"], "expected setting=value1,value2"),
        (["sweep", "--grid", "emails.upcoming_renewal_days=5", "--out", "x"], "must be one of 3, 7, 15"),
        (["sweep", "--grid", "scenario.card_updater_rate=2", "--out", "x"], "card_updater_rate"),
        (["report", "--policy", "none", "--policy", "none"], "given twice"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    tmp_path: Path, monkeypatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not Path("x").exists()  # nothing written


def test_parse_grid_values() -> None:
    assert parse_grid(["retries.max_attempts=2,4", "retries.mode=fixed,smart"]) == {
        "retries.max_attempts": [2, 4],
        "retries.mode": ["fixed", "smart"],
    }
    assert parse_grid(["retries.fixed_offsets_days=[[1, 3], [2, 5]]"]) == {
        "retries.fixed_offsets_days": [[1, 3], [2, 5]]
    }
