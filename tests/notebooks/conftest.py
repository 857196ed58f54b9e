"""Fixtures for the notebook tests: a kernel of the project's Python, small sizes in the environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from notebook_support import KERNEL, SMALL, runs_this_python


@pytest.fixture(scope="session")
def kernel_name() -> str:
    """`python3`, made sure to start this interpreter (the project's venv), not some other Python."""
    manager = KernelSpecManager()
    try:
        ok = runs_this_python(manager.get_kernel_spec(KERNEL).argv[0])
    except NoSuchKernel:
        ok = False
    if not ok:
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
            check=True,
            capture_output=True,
        )
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
        assert runs_this_python(spec.argv[0]), f"{KERNEL!r} starts {spec.argv[0]}, not {sys.executable}"
    return KERNEL


@pytest.fixture
def small_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Small sizes in the environment the kernel inherits; charts and temporary files go to tmp_path."""
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RECOVERY_SIM_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the Stripe notebook's sample export goes here
    return tmp_path
