"""A real JupyterLab server for tests: localhost, a free port, a random token, directories of its own."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_SECONDS = 60
QUIET_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}
}
"""No "would you like news?" prompt: it would cover the page under test."""


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    data_dir: Path
    """JUPYTER_DATA_DIR of the server: where its notebook-signing secret lives."""

    def page(self, path: str) -> str:
        return f"{self.url}/{path}?token={self.token}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - localhost only
        return response.status, response.read().decode("utf-8", "replace")


@contextmanager
def jupyter_lab(root: Path, workdir: Path, starts_kernels: bool = True) -> Iterator[Lab]:
    """JupyterLab serving `root`, with runtime, config, data and settings directories under `workdir`.

    Blocks until `/lab` answers 200 with the JupyterLab page (at most STARTUP_SECONDS), stops on exit.
    """
    port, token = free_port(), secrets.token_hex(16)
    dirs = {name: workdir / name for name in ("runtime", "config", "data", "settings")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for plugin, values in QUIET_SETTINGS.items():
        target = dirs["settings"] / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = os.environ | {
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "workspaces"),
    }
    log = workdir / "lab.log"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.notebook_starts_kernel={starts_kernels}",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        env=env,
    )  # fmt: skip
    lab = Lab(f"http://127.0.0.1:{port}", token, dirs["data"])
    try:
        _wait_for(lab, server, log)
        yield lab
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for(lab: Lab, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            status, page = get(lab.page("lab"))
            if status == 200 and "JupyterLab" in page and "jupyter-config-data" in page:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")
