"""Atomic file output: a reader never sees a half-written file, and a failed write leaves no debris."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


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
    """Write every `relative path → content` under `root`, each atomically.

    Callers build the whole tree in memory first, so a rendering error stops everything before the
    first byte is written.
    """
    root = Path(root)
    written = []
    for relative, content in sorted(files.items()):
        target = (root / relative).resolve()
        if root.resolve() not in target.parents:
            raise ValueError(f"refusing to write outside {root}: {relative}")
        written.append(atomic_write(target, content))
    return written
