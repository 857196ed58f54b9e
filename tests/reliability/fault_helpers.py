"""Fault injection for the reliability tests, in a module of its own so spawned workers can import it.

`ExitOnce` wraps an executor so that one chosen work unit kills its worker process (`os._exit`) the
first time it runs; a marker file records that the crash happened, so a re-run of the same sweep goes
through. `crash_writer` is a script for `python -c`: it rewrites Parquet and HTML files atomically in a
loop until it is killed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any


def exit_once(marker: str, victim: str, fn: Callable[..., Any], task: Any) -> Any:
    """Run `fn(task)`, except that the first attempt at unit `victim` kills this worker process."""
    if task.name == victim and not os.path.exists(marker):
        Path(marker).write_text(f"worker {os.getpid()} died running {victim}\n", encoding="utf-8")
        os._exit(17)  # no cleanup, no exception: as a segfault or the OOM killer would end it
    return fn(task)


class ExitOnce(Executor):
    """Submits every unit through `exit_once` on the wrapped executor."""

    def __init__(self, inner: Executor, marker: Path, victim: str) -> None:
        self.inner, self.marker, self.victim = inner, str(marker), victim

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self.inner.submit(exit_once, self.marker, self.victim, fn, *args, **kwargs)


CRASH_WRITER = """
import sys
from pathlib import Path

import numpy as np
import polars as pl

from recovery_sim import atomic

out = Path(sys.argv[1])
n = 0
print("ready", flush=True)
while True:
    n += 1
    rows = 100_000 + (n % 7) * 10_000
    frame = pl.DataFrame({"i": np.arange(rows), "x": np.random.default_rng(n).random(rows)})
    atomic.write_parquet(frame, out / f"frame{n % 3}.parquet")
    html = "<!doctype html><html><body>" + "<p>row</p>" * (50_000 + n % 5) + "</body></html>\\n"
    atomic.write_text(html, out / f"page{n % 3}.html")
    atomic.write_bytes(html.encode("utf-8"), out / f"email{n % 3}.html")
"""
