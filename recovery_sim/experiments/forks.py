"""Why a forked worker hangs, and the two checks that turn the hang into an error naming the fix.

polars runs its work on a global thread pool (rayon) that it starts once per process. `fork` copies
the process but not those threads, so the first polars call in a forked child hands its job to a pool
that has no threads and waits for it forever. A `ProcessPoolExecutor()` on Linux forks by default, so
what a notebook user writes would hang as soon as the notebook had run one simulation.

`check_pool` refuses a fork-context pool before anything is submitted; `check_worker` runs at the top
of every work unit and catches forks the caller could not see (an executor that wraps a pool): a child
of a process that had more than one thread when it forked stops at once instead of hanging.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor

from recovery_sim.settings.config import ConfigError

HOW_TO = (
    "build the pool with spawned or forkserver workers, e.g. "
    "ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context('spawn')) "
    "(or 'forkserver'), or use recovery_sim.open_executor(workers=2); "
    "a script using them needs an `if __name__ == '__main__':` guard"
)


class ForkedWorkerError(ConfigError):
    """A work unit reached a worker forked from a multi-threaded process, where polars would hang."""


def check_pool(executor: Executor) -> None:
    """Refuse a ProcessPoolExecutor whose workers are forked (the Linux default before Python 3.14)."""
    if not isinstance(executor, ProcessPoolExecutor):
        return
    context = getattr(executor, "_mp_context", None)  # set by every ProcessPoolExecutor since 3.7
    method = context.get_start_method() if context is not None else None
    if method == "fork":
        raise ConfigError(
            "this ProcessPoolExecutor forks its workers, and a forked worker waits forever on polars' "
            f"thread pool (fork does not copy its threads); {HOW_TO}"
        )


def _thread_count() -> int:
    """Threads of this process as the kernel sees them, native ones (polars, numba) included."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc: count what Python knows about
        return threading.active_count()


_threads_before_fork = 1
_forked_with_threads = False


def _before_fork() -> None:
    global _threads_before_fork
    _threads_before_fork = _thread_count()


def _after_fork_in_child() -> None:
    global _forked_with_threads
    _forked_with_threads = _forked_with_threads or _threads_before_fork > 1


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def check_worker() -> None:
    """Stop a work unit in a process forked from a multi-threaded one, before polars is touched."""
    if _forked_with_threads:
        raise ForkedWorkerError(
            f"this worker (pid {os.getpid()}) was forked from a process running other threads, where "
            f"polars waits forever on a thread pool fork did not copy; {HOW_TO}"
        )
