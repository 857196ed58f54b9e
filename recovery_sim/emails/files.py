"""Atomic file output: a reader never sees a half-written file, and a failed write leaves no debris."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from recovery_sim.atomic import write_all


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write to a temporary file in the same folder, fsync, then `os.replace` it into place; on failure
    nothing is left, not even a folder this call created. The file gets the usual permissions."""
    return write_all({Path(path): _synced(data)})[0]


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
