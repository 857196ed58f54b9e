"""The resumable sweep store: a manifest and one Parquet file per arm × replication × shard.

Units are written by the caller as they complete, so workers need no shared file system. Every file
goes through `atomic.write_parquet` (complete or absent); a unit's metrics file is written after its
raw frames, so its presence is what marks the unit done and a re-run skips it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from recovery_sim import atomic
from recovery_sim.experiments.units import Task, shard_ranges
from recovery_sim.settings.config import ConfigError, Policy, Scenario

if TYPE_CHECKING:
    from recovery_sim.experiments.sweep import SweepArm

STORE_FORMAT = 1
RAW_KINDS = ("events", "emails", "invoices")


def manifest(
    scenario: Scenario,
    policy: Policy,
    grid: Mapping[str, Sequence[Any]],
    arms: Sequence[SweepArm],
    replications: int,
    seed: int,
    shard_size: int,
    keep_events: bool,
) -> dict[str, Any]:
    """Everything that decides the store's contents, so a different sweep cannot be mixed into it."""
    return {
        "format": STORE_FORMAT,
        "kind": "recovery_sim.sweep",
        "seed": seed,
        "replications": replications,
        "shard_size": shard_size,
        "keep_events": keep_events,
        "grid": {k: _jsonable(list(v)) for k, v in grid.items()},
        "arms": [
            {
                "id": a.id,
                "label": a.label,
                "settings": _jsonable(a.settings),
                "shards": len(shard_ranges(a.scenario.customers, shard_size)),
            }
            for a in arms
        ],
        "layout": "units/<arm>_r<replication>_s<shard>.parquet; raw/<events|emails|invoices>/<same name>",
        "scenario": scenario.model_dump(mode="json"),
        "policy": policy.model_dump(mode="json"),
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def claim(root: Path, wanted: dict[str, Any]) -> dict[str, Any]:
    """Write the manifest, or check an existing one describes the same sweep (more replications is fine).

    Also removes the temporaries a crash left behind (never a finished unit)."""
    root.mkdir(parents=True, exist_ok=True)
    old = read_manifest(root) if (root / "manifest.json").exists() else None
    if old is not None:
        same = {k: v for k, v in old.items() if k != "replications"} == {
            k: v for k, v in wanted.items() if k != "replications"
        }
        if not same:
            raise ConfigError(
                f"{root} holds a different sweep (grid, seed, shard size, scenario or policy differ); "
                "use another --out or remove it"
            )
        wanted = {**wanted, "replications": max(old["replications"], wanted["replications"])}
    if wanted != old:
        atomic.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n", root / "manifest.json")
    for stale in root.rglob(atomic.TEMPORARY_GLOB):
        stale.unlink()
    return wanted


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    if not path.exists():
        raise ConfigError(f"{root}: no manifest.json; not a sweep store")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable manifest ({exc}); use another --out") from exc


def unit_path(root: Path, task: Task) -> Path:
    return root / "units" / f"{task.name}.parquet"


def pending(root: Path, tasks: Sequence[Task]) -> list[Task]:
    """The units whose metrics file is not there yet."""
    return [t for t in tasks if not unit_path(root, t).exists()]


def write_unit(root: Path, task: Task, out: dict[str, pl.DataFrame]) -> None:
    """Raw frames first, the metrics file last: its presence is what marks the unit done."""
    for kind in RAW_KINDS:
        if kind in out:
            atomic.write_parquet(out[kind], root / "raw" / kind / f"{task.name}.parquet")
    atomic.write_parquet(out["metrics"], unit_path(root, task))


def read_units(root: Path, tasks: Sequence[Task]) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(unit_path(root, t)) for t in tasks])


def read_all_units(root: Path) -> pl.DataFrame:
    """Every finished unit in the store, whatever sweep call wrote it."""
    return pl.concat([pl.read_parquet(f) for f in sorted((root / "units").glob("*.parquet"))])


def write_summary(root: Path, table: pl.DataFrame) -> None:
    atomic.write_parquet(table, root / "summary.parquet")
