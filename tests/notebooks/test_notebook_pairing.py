"""The committed notebooks: paired with their jupytext .py, free of outputs, sized by a parameters cell."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
from notebook_support import NOTEBOOKS, ROOT, notebook_names, read_notebook

EXPECTED = [
    "01-quickstart",
    "02-policy-what-if",
    "03-recovery-analysis",
    "04-email-preview",
    "05-stripe-replay",
]


def test_the_tour_is_complete():
    assert notebook_names() == EXPECTED
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_without_outputs(name: str):
    nb = read_notebook(name)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}.ipynb cell {index} has outputs"
            assert cell.execution_count is None, f"{name}.ipynb cell {index} has an execution count"
    assert "widgets" not in nb.metadata, f"{name}.ipynb carries saved widget state"


def _cells(path: Path) -> list[tuple[str, str, list[str]]]:
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("name", EXPECTED)
def test_ipynb_and_py_in_sync(name: str):
    ipynb, py = NOTEBOOKS / f"{name}.ipynb", NOTEBOOKS / f"{name}.py"
    assert _cells(ipynb) == _cells(py), (
        f"{name}.ipynb and {name}.py differ; edit the .py and run `.venv/bin/jupytext --sync notebooks/*.py`"
    )
    assert jupytext.read(ipynb).metadata["jupytext"]["formats"] == "ipynb,py:percent"


@pytest.mark.parametrize("name", EXPECTED)
def test_first_code_cell_is_the_parameters_cell(name: str):
    nb = read_notebook(name)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    assert 'os.environ.get("RECOVERY_SIM_CUSTOMERS"' in first.source
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_notebook_sources_are_ruff_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    result = subprocess.run(
        [ruff, "check", "notebooks", "tests/notebooks"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
