"""Atomic output, for the whole package: a file appears under its final name complete, or not at all.

One primitive, `write_all`: every file of a set is written to a temporary beside its target and
fsynced, and only when all succeeded are they renamed into place; a failure removes the temporaries and
any folder the call created. Everything else here is a shorthand for it. Parquet files are written
one way only (`parquet`), so every file the package writes reads back the same and compresses alike.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

Writer = Callable[[Path], None]
"""Writes the content into the temporary file it is given."""

TEMPORARY_GLOB = ".*.tmp"
"""What a temporary looks like (`.name.random.tmp`), for clearing the ones a killed process left."""

PARQUET_OPTIONS: dict[str, object] = {"compression": "zstd", "statistics": True}


def write_all(writes: Mapping[str | Path, Writer]) -> list[Path]:
    """Several files that belong together land together or not at all (a full disk, a path under a
    regular file, an exception in a writer, Ctrl-C): nothing of the set is left behind."""
    created: list[Path] = []
    temps: dict[Path, Path] = {}
    try:
        for target, write in writes.items():
            path = Path(target)
            created += _make_parents(path.parent)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            temps[path] = Path(tmp_name)
            write(temps[path])
            _sync(temps[path])
            os.chmod(temps[path], 0o666 & ~_umask())  # mkstemp creates 0600; outputs get the usual mode
        for path, tmp in temps.items():
            os.replace(tmp, path)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return list(temps)


def atomic_write(path: str | Path, write: Writer) -> Path:
    """One file: `write(tmp)` on a temporary beside `path`, then renamed into place."""
    return write_all({path: write})[0]


def parquet(frame: pl.DataFrame) -> Writer:
    """The package's one way of writing a Parquet file, for `write_all` sets."""
    return lambda tmp: frame.write_parquet(tmp, **PARQUET_OPTIONS)


def content(data: str | bytes) -> Writer:
    """Text (UTF-8) or bytes, for `write_all` sets."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return lambda tmp: tmp.write_bytes(payload)


def write_parquet(frame: pl.DataFrame, path: str | Path) -> Path:
    return atomic_write(path, parquet(frame))


def write_text(text: str, path: str | Path) -> Path:
    return atomic_write(path, content(text))


def write_bytes(data: bytes, path: str | Path) -> Path:
    return atomic_write(path, content(data))


def _sync(path: Path) -> None:
    """Flush the temporary to disk before the rename, so a crash cannot leave an empty final file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_parents(folder: Path) -> list[Path]:
    """mkdir -p, returning the folders it created (outermost first)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return list(reversed(missing))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
