"""The public API: `recovery_sim.__all__`, docs/api.md and the notebooks agree on one set of names."""

from __future__ import annotations

import ast
import enum
import re
from pathlib import Path

import polars as pl
import pytest

import recovery_sim

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = re.compile(r"^- `([A-Za-z_][A-Za-z0-9_]*)` — ", re.MULTILINE)
DECLINE_COLUMNS = {("events", "decline_code"), ("invoices", "first_decline")}
NOT_IN_THE_TABLE = {"", "authentication_expired"}  # no decline; a confirmation window that lapsed
ENUM_VALUED_STRINGS = {  # string columns of the customers frame whose values come from an enum
    "interval": "PlanInterval",
    "collection_method": "CollectionMethod",
    "payment_method": "PaymentMethodKind",
    "recipient": "RecipientKind",
    "final_status": "SubscriptionStatus",
}


def documented_names() -> list[str]:
    return DOCUMENTED.findall((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))


def test_docs_list_exactly_the_exported_names():
    documented = documented_names()
    assert len(documented) == len(set(documented)), "a name is documented twice"
    assert len(recovery_sim.__all__) == len(set(recovery_sim.__all__)), "a name is exported twice"
    assert set(documented) - set(recovery_sim.__all__) == set(), "documented but not exported"
    assert set(recovery_sim.__all__) - set(documented) == set(), "exported but not in docs/api.md"


@pytest.mark.parametrize("name", recovery_sim.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(recovery_sim, name) is not None


def test_a_name_outside_the_api_is_an_attribute_error():
    with pytest.raises(AttributeError):
        _ = recovery_sim.not_a_public_name


@pytest.fixture(scope="module")
def small_run(small_default):
    return recovery_sim.simulate(small_default, recovery_sim.Policy.named("all-on"), seed=3)


def exported_enums() -> dict[str, type[enum.Enum]]:
    return {
        name: value
        for name in recovery_sim.__all__
        if isinstance(value := getattr(recovery_sim, name), type) and issubclass(value, enum.Enum)
    }


def test_every_enum_column_of_the_frames_is_an_exported_enum(small_run):
    by_values = {frozenset(e.value for e in cls): name for name, cls in exported_enums().items()}
    table_codes = {d.code for d in recovery_sim.decline_codes()}
    checked = 0
    for frame_name in ("events", "emails", "invoices", "customers"):
        for column, dtype in getattr(small_run, frame_name).schema.items():
            if not isinstance(dtype, pl.Enum):
                continue
            categories = set(dtype.categories.to_list())
            if (frame_name, column) in DECLINE_COLUMNS:
                assert categories - table_codes == NOT_IN_THE_TABLE, column
            else:
                assert frozenset(categories) in by_values, f"{frame_name}.{column} has no exported enum"
            checked += 1
    assert checked >= 6  # kind, decline_code, actor, email_type, status, first_decline, paid_by


def test_enum_valued_string_columns_draw_from_exported_enums(small_run):
    enums = exported_enums()
    customers = small_run.customers
    for column, enum_name in ENUM_VALUED_STRINGS.items():
        allowed = {member.value for member in enums[enum_name]}
        seen = set(customers[column].drop_nulls().unique().to_list())
        assert seen and seen <= allowed, f"customers.{column}: {seen - allowed} not in {enum_name}"


def notebook_sources() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", notebook_sources(), ids=lambda p: p.stem)
def test_notebooks_use_only_the_public_api(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("recovery_sim."), f"{path.name}: import {alias.name}"
                if alias.name == "recovery_sim":
                    aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("recovery_sim"):
            assert node.module == "recovery_sim", f"{path.name}: from {node.module} import ..."
            private = {a.name for a in node.names} - set(recovery_sim.__all__)
            assert not private, f"{path.name}: imports {private} from outside __all__"
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
    }
    assert used <= set(recovery_sim.__all__), f"{path.name}: uses {used - set(recovery_sim.__all__)}"
