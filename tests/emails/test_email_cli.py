"""`recovery-sim emails render|preview`: outputs on success; one paragraph and exit code 2 on bad input."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from recovery_sim.cli.emails import app


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setenv("RECOVERY_SIM_LINK_KEY", "cli-test-key-0123456789abcdef")
    return CliRunner()


def test_render_to_stdout(cli):
    result = cli.invoke(app, ["render", "payment_failed", "--locale", "fr"])
    assert result.exit_code == 0, result.output
    assert "Subject: Votre paiement de 49,00\u00a0€ n’a pas abouti" in result.stdout


def test_render_html_and_text_files(cli, tmp_path):
    html, text = tmp_path / "out" / "email.html", tmp_path / "email.txt"
    args = ["render", "upcoming_renewal", "--brand", "acme-noir", "--out", str(html)]
    assert cli.invoke(app, args).exit_code == 0
    assert cli.invoke(app, ["render", "upcoming_renewal", "--out", str(text)]).exit_code == 0
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and "Acme Noir" in html.read_text()
    assert "Your subscription renews on" in text.read_text(encoding="utf-8")


def test_preview_writes_a_gallery(cli, tmp_path):
    out = tmp_path / "gallery"
    result = cli.invoke(app, ["preview", "--out", str(out), "--locale", "de", "--type", "card_expiring"])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "emails/acme-noir/de/card_expiring.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "paymnet_failed"], "unknown email type 'paymnet_failed'; allowed: payment_failed,"),
        (["render", "invoice_paid", "--locale", "it"], "allowed locales: en, fr, de, es, pt_BR"),
        (["render", "invoice_paid", "--brand", "nope"], "shipped brands: acme-noir, northwind"),
        (["render", "invoice_paid", "--policy", "nope"], "unknown policy 'nope'"),
        (["preview", "--out", "{tmp}/g", "--locale", "xx"], "unknown locale 'xx'"),
    ],
)
def test_bad_input_exits_2_without_traceback(cli, tmp_path, args, message):
    result = cli.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "g").exists()


def test_unwritable_output_exits_2(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli.invoke(app, ["render", "invoice_paid", "--out", str(blocker / "email.html")])
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_preview_with_a_run_folder_adds_timelines(cli, tmp_path, run):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("emails", "events", "customers"):
        getattr(run, name).write_parquet(folder / f"{name}.parquet")
    out = tmp_path / "gallery"
    args = ["preview", "--out", str(out), "--brand", "northwind", "--locale", "fr"]
    args += ["--type", "payment_failed"]
    result = cli.invoke(app, [*args, "--run", str(folder)])
    assert result.exit_code == 0, result.output
    assert (out / "timelines/customer-1.html").is_file()
    missing = cli.invoke(app, [*args, "--run", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "emails.parquet: not found" in missing.stderr
