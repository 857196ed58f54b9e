"""`make lab` works: a real JupyterLab server starts on the notebooks folder and serves its page."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from notebook_support import NOTEBOOKS

STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - localhost only
        return response.status, response.read().decode("utf-8", "replace")


def test_jupyterlab_serves_the_notebooks(tmp_path: Path):
    jupyter = Path(sys.executable).parent / "jupyter"
    port, token = _free_port(), secrets.token_hex(16)
    env = os.environ | {"JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [
            str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={NOTEBOOKS}",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "lab.log").open("w"),
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        page, status = "", None
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "lab.log").read_text()
            try:
                status, page = _get(f"http://127.0.0.1:{port}/lab?token={token}")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        assert status == 200, f"JupyterLab did not answer within {STARTUP_SECONDS} s"
        assert "JupyterLab" in page and "jupyter-config-data" in page
        status, listing = _get(f"http://127.0.0.1:{port}/api/contents?token={token}")
        assert status == 200 and "01-quickstart.ipynb" in listing
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
