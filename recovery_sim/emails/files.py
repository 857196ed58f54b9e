"""Atomic file output: a reader never sees a half-written file, and a failed write leaves no debris."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from ..atomic import write_all


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write to a temporary file in the same folder, fsync, then `os.replace` it into place."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_tree(root: str | Path, files: Mapping[str, bytes | str]) -> list[Path]:
    """Write every `relative path → content` under `root`, all together or not at all.

    Callers build the whole tree in memory first, so a rendering error stops everything before the
    first byte is written; then every file goes to a temporary beside its target and only when all are
    written are they renamed into place (`atomic.write_all`), so a full disk leaves no half-gallery.
    """
    root = Path(root)
    writes = {}
    for relative, content in sorted(files.items()):
        target = (root / relative).resolve()
        if root.resolve() not in target.parents:
            raise ValueError(f"refusing to write outside {root}: {relative}")
        writes[target] = _synced(content)
    return write_all(writes)


def _synced(data: bytes | str) -> Callable[[Path], None]:
    payload = data.encode("utf-8") if isinstance(data, str) else data

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())

    return write
