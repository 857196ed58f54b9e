"""Helpers for the notebook tests: where the notebooks are, small run sizes, executing one."""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"

SMALL = {
    "RECOVERY_SIM_CUSTOMERS": "800",
    "RECOVERY_SIM_REPLICATIONS": "2",
    "RECOVERY_SIM_MONTHS": "6",
    "RECOVERY_SIM_WORKERS": "1",
}
"""Run sizes for tests: a person runs the notebooks' defaults, CI runs these."""


def notebook_names() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.py"))


def runs_this_python(argv0: str) -> bool:
    # jupyter_client replaces a bare `python`/`python3` with the interpreter that starts the kernel.
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    return argv0 in bare or Path(argv0).absolute() == Path(sys.executable).absolute()


def read_notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def execute(
    nb: nbformat.NotebookNode, kernel_name: str, workdir: Path, timeout: int = 180
) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, in `workdir`; a cell error raises CellExecutionError.

    The kernel talks to its client over Unix sockets in a folder of its own, not TCP ports: a port
    that jupyter_client picks and releases before the kernel binds it can be taken meanwhile by a
    kernel, Dask cluster or server another test starts at the same moment, and the client then waited
    on a kernel that never heard it (a cell timeout in full-suite runs, never alone). Should a client
    still hear nothing for `timeout` seconds, the notebook runs once more in a new kernel; a cell error
    is never retried.
    """
    try:
        return _run_once(nb, kernel_name, workdir, timeout)
    except CellTimeoutError:
        return _run_once(nb, kernel_name, workdir, timeout)


def _run_once(
    nb: nbformat.NotebookNode, kernel_name: str, workdir: Path, timeout: int
) -> nbformat.NotebookNode:
    run = copy.deepcopy(nb)
    with tempfile.TemporaryDirectory(prefix="nbk-") as sockets:
        manager = KernelManager(kernel_name=kernel_name, transport="ipc", ip=str(Path(sockets) / "k"))
        client = NotebookClient(
            run, km=manager, timeout=timeout, resources={"metadata": {"path": str(workdir)}}
        )
        client.execute()
    nb["cells"] = run["cells"]
    return nb


def stream_text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
