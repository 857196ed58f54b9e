"""The object-shape seam: field tables read through `ShapeReader`, file names mapped to readers, and the
stripe package kept in modules of one job."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import polars as pl
import pytest

from recovery_sim.stripe.errors import Source, StripeImportError
from recovery_sim.stripe.fields import FIELDS, OBJECT_TYPES, Field, row_schema
from recovery_sim.stripe.json_files import read_jsonl
from recovery_sim.stripe.reading import discover
from recovery_sim.stripe.shapes import ShapeReader

PACKAGE = Path(__file__).resolve().parents[2] / "recovery_sim" / "stripe"


def _lines(*objects: dict) -> bytes:
    return ("\n".join(json.dumps(o) for o in objects) + "\n").encode()


def test_invoice_subscription_read_from_either_api_layout():
    rows = ShapeReader(FIELDS["invoices"]).parse(
        _lines(
            {"id": "in_1", "subscription": "sub_old"},
            {"id": "in_2", "parent": {"subscription_details": {"subscription": "sub_new"}}},
            {
                "id": "in_3",
                "subscription": "sub_first",
                "parent": {"subscription_details": {"subscription": "x"}},
            },
        )
    )
    assert rows["subscription"].to_list() == ["sub_old", "sub_new", "sub_first"]


def test_subscription_period_read_from_the_first_item_when_not_top_level():
    item = {"current_period_start": 100, "current_period_end": 200, "price": {"unit_amount": 4900}}
    rows = ShapeReader(FIELDS["subscriptions"]).parse(
        _lines({"id": "sub_1", "items": {"data": [item, {"current_period_start": 999}]}})
    )
    assert rows.select("current_period_start", "current_period_end", "unit_amount").row(0) == (100, 200, 4900)


def test_a_new_field_table_reads_without_touching_the_readers(tmp_path):
    """What another API version's objects would add: a table of its own, read by the same JSON reader."""
    fields = [
        Field("id", ("id",), pl.String, True),
        Field("invoice", ("invoice",), pl.String, False),
        Field("charge", ("payment.charge", "payment.payment_intent"), pl.String, False),
    ]
    path = tmp_path / "invoices.jsonl"
    path.write_bytes(
        _lines(
            {"id": "inpay_1", "invoice": "in_1", "payment": {"type": "charge", "charge": "ch_1"}},
            {"id": "inpay_2", "invoice": "in_2", "payment": {"payment_intent": "pi_2"}},
        )
    )
    rows = read_jsonl(Source(path, "invoices", "jsonl"), ShapeReader(fields))
    assert rows.columns == ["_row", "id", "invoice", "charge"]
    assert rows["charge"].to_list() == ["ch_1", "pi_2"]
    assert rows["_row"].to_list() == [0, 1]


def test_a_misfit_is_named_by_its_path_and_line(tmp_path):
    path = tmp_path / "charges.jsonl"
    path.write_bytes(_lines({"id": "ch_1", "amount": 100}, {"id": "ch_2", "amount": "1.00"}))
    with pytest.raises(StripeImportError) as raised:
        read_jsonl(Source(path, "charges", "jsonl"), ShapeReader(FIELDS["charges"]))
    assert str(raised.value) == (
        f'{path}: line 2 (id ch_2): field `amount`: expected an integer, got "1.00". '
        f"Nothing was imported or written."
    )


def test_every_reader_yields_the_typed_row(tmp_path):
    for kind in OBJECT_TYPES:
        path = tmp_path / f"{kind}.jsonl"
        path.write_bytes(_lines({"id": f"{kind}_1"}))
        rows = read_jsonl(Source(path, kind, "jsonl"), ShapeReader(FIELDS[kind]))
        assert dict(rows.schema) == row_schema(kind), kind


def test_file_names_pick_the_object_type_and_format(tmp_path):
    for name in ("invoices_2.jsonl", "Invoices-1.JSON", "charges.ndjson", "invoices.csv", ".customers.jsonl"):
        (tmp_path / name).write_text("")
    (tmp_path / "charges.csv").write_text("")
    (tmp_path / "notes.txt").write_text("")
    found, notes = discover(tmp_path)
    assert [(s.path.name, s.fmt) for s in found["invoices"]] == [
        ("Invoices-1.JSON", "json"),
        ("invoices_2.jsonl", "jsonl"),
    ]
    assert [(s.path.name, s.fmt) for s in found["charges"]] == [("charges.ndjson", "jsonl")]
    assert found["customers"] == []
    assert notes == ["invoices.csv ignored: invoices come from Invoices-1.JSON"]


def test_stripe_modules_stay_small():
    """Modules of one job: none over 600 lines, no function over 80."""
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 600, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno < 80, (path.name, node.name)
