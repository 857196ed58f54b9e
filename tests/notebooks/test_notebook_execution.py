"""Every notebook runs top to bottom, on small parameters, in a kernel of the project's Python."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_support import execute, notebook_names, read_notebook, stream_text

NEEDS = {
    "04-email-preview": ["recovery_sim.emails.samples", "recovery_sim.emails.render"],
    "05-stripe-replay": [
        "recovery_sim.stripe.export",
        "recovery_sim.stripe.importer",
        "recovery_sim.stripe.replay",
        "recovery_sim.stripe.calibrate",
    ],
}
"""Modules a notebook needs beyond the core; until they exist the notebook is an expected failure."""


def _missing(name: str) -> list[str]:
    return [m for m in NEEDS.get(name, []) if importlib.util.find_spec(m) is None]


def _cases() -> list:
    cases = []
    for name in notebook_names():
        missing = _missing(name)
        marks = [pytest.mark.xfail(reason=f"waits for {', '.join(missing)}", run=False)] if missing else []
        cases.append(pytest.param(name, marks=marks, id=name))
    return cases


@pytest.mark.parametrize("name", _cases())
def test_notebook_runs(name: str, kernel_name: str, small_run: Path):
    nb = read_notebook(name)
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)"))
    execute(nb, kernel_name, small_run)
    assert stream_text(nb.cells[-1]).strip() == sys.prefix, "the kernel is not the project's Python"
    written = sorted(p.name for p in (small_run / "out").rglob("*") if p.is_file())
    if name == "03-recovery-analysis":
        assert any(n.endswith(".png") for n in written) and any(n.endswith(".svg") for n in written)
    if name == "05-stripe-replay":
        assert "calibrated.toml" in written
