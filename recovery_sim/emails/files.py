"""A whole tree of email files (the gallery) written together or not at all, never outside its root."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from recovery_sim import atomic


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
        writes[target] = atomic.content(content)
    return atomic.write_all(writes)
