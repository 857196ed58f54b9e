"""The `recovery-sim run` command: outputs, exit codes and messages on bad input (nothing written)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

CLI = [sys.executable, "-m", "recovery_sim.cli"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def test_run_writes_frames_and_prints_emails_by_type(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_cli("run", "--policy", "all-on", "--customers", "400", "--months", "6", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "emails sent by type" in result.stdout
    assert "recovery_rate" in result.stdout
    for name in ("events", "emails", "invoices", "customers"):
        frame = pl.read_parquet(out / f"{name}.parquet")
        assert frame.height > 0
    assert pl.read_parquet(out / "customers.parquet").height == 400
    summary = pl.read_csv(out / "summary.csv")
    assert set(summary["currency"]) == {"EUR", "BRL"}
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_run_same_seed_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = run_cli(
            "run", "--customers", "300", "--months", "3", "--seed", "11", "--out", str(tmp_path / name)
        )
        assert result.returncode == 0, result.stderr
    for frame in ("events", "emails", "invoices"):
        a = pl.read_parquet(tmp_path / "a" / f"{frame}.parquet")
        b = pl.read_parquet(tmp_path / "b" / f"{frame}.parquet")
        assert a.equals(b)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--policy", "no-such-policy"], "unknown policy 'no-such-policy'; shipped policies: aggressive"),
        (["--policy", "missing/policy.toml"], "missing/policy.toml: file not found"),
        (["--months", "0"], "Invalid value for '--months'"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path: Path, args: list[str], expected: str) -> None:
    out = tmp_path / "out"
    result = run_cli("run", *args, "--out", str(out))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_bad_scenario_file_names_file_and_field(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.toml"
    scenario.write_text(
        'name = "broken"\nstart_date = "2026-01-01"\ncolour = "blue"\n'
        '[[cohorts]]\nname = "a"\ncustomers = 10\nsignup_month = "2026-01"\n'
        'plans = [{ name = "p", price = 100, currency = "EUR", share = 1.0 }]\n'
        'countries = [{ code = "FR", share = 1.0 }]\nfirst_attempt_failure_rate = 1.5\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_cli("run", "--scenario", str(scenario), "--out", str(out))
    assert result.returncode == 2
    assert f"{scenario}: colour: unknown field" in result.stderr
    assert f"{scenario}: cohorts.0.first_attempt_failure_rate: Input should be less than or equal to 1" in (
        result.stderr.replace("\n", " ")
    )
    assert not out.exists()
