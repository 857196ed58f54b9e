"""`export stripe` and `import stripe` through the typer sub-apps, as the main CLI mounts them."""

from __future__ import annotations

import typer
from stripe_helpers import FIXTURES
from typer.testing import CliRunner

from recovery_sim.cli.stripe import register
from recovery_sim.settings.config import Scenario


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test harness."""

    register(app)
    return app


def test_export_then_import_with_calibration(tmp_path):
    runner = CliRunner()
    export = tmp_path / "export"
    result = runner.invoke(
        _app(),
        [
            "export",
            "stripe",
            "--out",
            str(export),
            "--customers",
            "300",
            "--months",
            "4",
            "--seed",
            "2",
            "--policy",
            "none",
        ],
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in export.iterdir()} == {
        "customers.jsonl",
        "subscriptions.jsonl",
        "invoices.jsonl",
        "charges.jsonl",
        "payment_methods.jsonl",
        "invoices.csv",
    }
    out = tmp_path / "out"
    result = runner.invoke(
        _app(),
        [
            "import",
            "stripe",
            str(export),
            "--policy",
            "all-on",
            "--calibrate",
            str(tmp_path / "fitted.toml"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "recovered_revenue" in result.output and "payment_failed" in result.output
    assert Scenario.load(tmp_path / "fitted.toml").horizon_months == 4
    assert {p.name for p in out.iterdir()} == {
        "events.parquet",
        "invoices.parquet",
        "customers.parquet",
        "replay_emails.parquet",
        "summary.csv",
    }


def test_import_fixture_as_pages(tmp_path):
    result = CliRunner().invoke(_app(), ["import", "stripe", str(FIXTURES / "pages")])
    assert result.exit_code == 0, result.output


def test_unknown_policy_exits_2(tmp_path):
    result = CliRunner().invoke(
        _app(),
        ["import", "stripe", str(FIXTURES / "sample"), "--policy", "nope", "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 2
    assert "unknown policy" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_folder_exits_2(tmp_path):
    result = CliRunner().invoke(_app(), ["import", "stripe", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output
