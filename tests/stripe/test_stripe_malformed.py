"""Bad exports give one clear paragraph naming the file, the line or object id, and the field — and the
CLI exits 2 having written nothing. Unknown enum values are warnings, not errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from stripe_helpers import FIXTURES
from typer.testing import CliRunner

from recovery_sim.cli.stripe import register
from recovery_sim.stripe.errors import StripeImportError
from recovery_sim.stripe.importer import import_stripe


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, objects: list[dict]) -> None:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))


def _edit(folder: Path, name: str, index: int, change) -> str:
    """Apply `change` to the index-th object of `name`.jsonl; return that object's id."""
    objects = _lines(folder / f"{name}.jsonl")
    change(objects[index])
    _write(folder / f"{name}.jsonl", objects)
    return objects[index].get("id")


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test harness."""

    register(app)
    return app


def assert_rejected(folder: Path, tmp_path: Path, *fragments: str) -> str:
    with pytest.raises(StripeImportError) as caught:
        import_stripe(folder)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "\n" not in message  # one paragraph
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _app(), ["import", "stripe", str(folder), "--out", str(out), "--calibrate", str(out / "fitted.toml")]
    )
    assert result.exit_code == 2, result.output
    assert not out.exists()  # nothing written, not even the folder
    assert "Traceback" not in result.output
    return message


def test_invalid_json_line(sample, tmp_path):
    path = sample / "invoices.jsonl"
    lines = path.read_text().splitlines()
    lines[4] = lines[4][:40]  # a truncated object on line 5
    path.write_text("\n".join(lines) + "\n")
    assert_rejected(sample, tmp_path, "invoices.jsonl", "line 5", "not valid JSON")


def test_invalid_json_page(tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    for file in (FIXTURES / "pages").iterdir():
        (folder / file.name).write_text(file.read_text())
    text = (folder / "customers.json").read_text()
    (folder / "customers.json").write_text(text.replace('"object":"customer"', '"object" "customer"', 1))
    assert_rejected(folder, tmp_path, "customers.json", "line 1 column", "not valid JSON")


def test_missing_required_field(sample, tmp_path):
    object_id = _edit(sample, "invoices", 2, lambda o: o.pop("amount_due"))
    assert_rejected(sample, tmp_path, "invoices.jsonl", "line 3", object_id, "`amount_due`", "missing")


def test_missing_nested_required_field(sample, tmp_path):
    object_id = _edit(sample, "subscriptions", 0, lambda o: o["items"]["data"][0]["price"].pop("unit_amount"))
    assert_rejected(
        sample, tmp_path, "subscriptions.jsonl", "line 1", object_id, "items.data[0].price.unit_amount"
    )


def test_wrong_type(sample, tmp_path):
    object_id = _edit(sample, "charges", 6, lambda o: o.update(amount="49.00"))
    assert_rejected(sample, tmp_path, "charges.jsonl", "line 7", object_id, "`amount`", "expected an integer")


def test_expanded_object_where_an_id_is_expected(sample, tmp_path):
    object_id = _edit(sample, "invoices", 0, lambda o: o.update(customer={"id": o["customer"]}))
    assert_rejected(sample, tmp_path, "invoices.jsonl", "line 1", object_id, "`customer`", "expanded")


def test_unknown_currency(sample, tmp_path):
    object_id = _edit(sample, "charges", 3, lambda o: o.update(currency="xyz"))
    assert_rejected(sample, tmp_path, "charges.jsonl", "line 4", object_id, "`currency`", "'xyz'")


def test_csv_with_wrong_columns(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    text = (FIXTURES / "dashboard" / "invoices.csv").read_text()
    (folder / "invoices.csv").write_text(text.replace("Amount Due", "Amount", 1))
    assert_rejected(folder, tmp_path, "invoices.csv", "line 1", "`Amount Due`")


def test_csv_with_a_bad_amount(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    lines = (FIXTURES / "dashboard" / "invoices.csv").read_text().splitlines()
    cells = lines[3].split(",")
    cells[8] = "49.001"  # Amount Due with more decimals than EUR has
    lines[3] = ",".join(cells)
    (folder / "invoices.csv").write_text("\n".join(lines) + "\n")
    assert_rejected(folder, tmp_path, "invoices.csv", "line 4", cells[0], "Amount Due", "49.001")


def test_duplicate_ids(sample, tmp_path):
    objects = _lines(sample / "customers.jsonl")
    _write(sample / "customers.jsonl", [*objects, objects[1]])
    message = assert_rejected(sample, tmp_path, "customers.jsonl", objects[1]["id"], "`id`", "duplicate")
    assert "line 2" in message and f"line {len(objects) + 1}" in message


def test_inconsistent_currencies_for_one_customer(sample, tmp_path):
    invoices = _lines(sample / "invoices.jsonl")
    target = invoices[5]
    target["currency"] = "usd"
    _write(sample / "invoices.jsonl", invoices)
    assert_rejected(
        sample,
        tmp_path,
        "invoices.jsonl",
        "line 6",
        target["id"],
        target["customer"],
        "`currency`",
        "inconsistent currencies",
    )


def test_no_invoices(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_rejected(tmp_path / "empty", tmp_path, "no invoices found")


def test_unknown_enum_values_are_warnings(sample):
    _edit(sample, "subscriptions", 0, lambda o: o.update(status="on_hold"))
    _edit(sample, "invoices", 0, lambda o: o.update(billing_reason="quote_magic"))
    _edit(sample, "charges", 0, lambda o: o["outcome"].update(reason="card_not_supported"))
    _edit(sample, "payment_methods", 0, lambda o: o.update(type="us_bank_account"))
    history = import_stripe(sample)
    text = "\n".join(history.warnings)
    for fragment in (
        "subscriptions.status",
        "on_hold",
        "invoices.billing_reason",
        "quote_magic",
        "payment_methods.type",
        "us_bank_account",
    ):
        assert fragment in text, fragment
    assert history.invoices.height > 0


def test_unknown_fields_are_ignored(sample):
    _edit(sample, "invoices", 0, lambda o: o.update(brand_new_field={"nested": [1, 2]}, rendering=None))
    import_stripe(sample)
