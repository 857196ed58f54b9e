"""Executors: who runs the work units, and the one loop that hands them out and collects them.

Any `concurrent.futures.Executor` will do: a local process pool by default, Dask through
`Client.get_executor()`, `InlineExecutor` for tests. A pool that forks its workers is refused up front
(`forks.py` says why it would hang), so every executor either works or fails at once saying what to
build instead.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any

import polars as pl

from recovery_sim.experiments.forks import check_pool
from recovery_sim.experiments.units import Progress, Task, run_task
from recovery_sim.settings.config import ConfigError


class InlineExecutor(Executor):
    """Runs each call at submit time in this process: the sequential reference for tests and debugging."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/]+$")


def check_dask(dask: str | None) -> None:
    """`local`, or a scheduler address such as tcp://10.0.0.5:8786."""
    if dask is not None and dask != "local" and not _ADDRESS.match(dask):
        raise ConfigError(f"--dask must be 'local' or a scheduler address like tcp://host:8786, got {dask!r}")


@contextlib.contextmanager
def open_executor(workers: int | None = None, dask: str | None = None) -> Iterator[Executor]:
    """A process pool (default), a Dask LocalCluster (`dask="local"`) or a running Dask scheduler.

    Closed on exit. Pool workers are spawned, never forked (`forks.py`).
    """
    check_dask(dask)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if dask is None:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    import logging

    from distributed import Client, LocalCluster

    cluster = None
    if dask == "local":
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(dask, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {dask}: {exc}") from exc
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def run_on(executor: Executor | None, workers: int | None) -> Iterator[Executor]:
    """The caller's executor once checked, else a process pool of our own for the duration."""
    if executor is not None:
        check_pool(executor)
        yield executor
    else:
        with open_executor(workers) as own:
            yield own


def execute(
    tasks: Sequence[Task],
    executor: Executor,
    on_result: Callable[[Task, dict[str, pl.DataFrame]], None],
    progress: Progress | None = None,
    done: int = 0,
    total: int | None = None,
) -> None:
    """Submit every task, hand each result to `on_result` as it completes; on the first error cancel
    what has not started and re-raise (results already handed over are kept)."""
    total = len(tasks) + done if total is None else total
    futures = {executor.submit(run_task, task): task for task in tasks}
    try:
        for future in as_completed(futures):
            on_result(futures[future], future.result())
            done += 1
            if progress is not None:
                progress(done, total)
    finally:
        for future in futures:
            future.cancel()
