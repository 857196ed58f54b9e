"""Import benchmark: about a million Stripe invoices (JSON Lines) through `import_stripe`.

Why: a real account's export is large; the importer must stay well under 2 GB of memory. The export is
built fast by simulating a base run once, exporting it, and replicating its lines with ids rewritten
per replica (vectorised regex in polars), so every replica is a distinct set of customers. The import
runs in a fresh process, so its peak RSS is its own.

    .venv/bin/python benchmarks/import_bench.py            # ~1,000,000 invoices
    .venv/bin/python benchmarks/import_bench.py --quick    # ~100,000 invoices

Results are appended under "## Import" in benchmarks/results.md (other sections are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from recovery_sim.api import simulate
from recovery_sim.settings.config import Policy, Scenario
from recovery_sim.stripe.export import OBJECT_TYPES, export_run
from recovery_sim.stripe.export_files import render_export

RESULTS = Path(__file__).resolve().parent / "results.md"
LIMIT_MB = 2048
ID = r'"((?:cus|sub|in|ch|pm|si|il)_[0-9A-Za-z]+)"'
"""Object ids a replica renames (prices stay shared, as one account's prices would)."""

CHILD = """
import json, resource, sys, time
t, cpu = time.perf_counter(), time.process_time()
from recovery_sim.stripe.importer import import_stripe
from recovery_sim.analysis.metrics import summary
history = import_stripe(sys.argv[1])
billed = int(summary(history)["billed"].sum())
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu, "peak_mb": peak_mb,
                  "invoices": history.invoices.height, "events": history.events.height, "billed": billed}))
"""


def build_export(folder: Path, target_invoices: int, base_customers: int) -> dict[str, int]:
    """Simulate and export a base run, then write enough replicas of each file to reach the target."""
    run = simulate(Scenario.default().scaled(customers=base_customers), Policy.named("none"), seed=1)
    files = render_export(export_run(run), "jsonl", csv=False)
    base_invoices = files["invoices.jsonl"].count("\n")
    replicas = max(1, math.ceil(target_invoices / base_invoices))
    counts = {}
    for name in OBJECT_TYPES:
        lines = pl.Series("line", files[f"{name}.jsonl"].splitlines())
        with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for r in range(replicas):
                renamed = lines.str.replace_all(ID, f'"${{1}}R{r}"') if r else lines
                handle.write("\n".join(renamed.to_list()))
                handle.write("\n")
        counts[name] = len(lines) * replicas
    return counts


def append_result(row: str, results: Path = RESULTS) -> None:
    """Add one row to the table under "## Import", creating the section (or the file) if missing."""
    header = (
        "## Import\n\nJSON Lines export (customers, subscriptions, invoices, charges, payment methods) "
        "replicated from a simulated base run; `import_stripe` in a fresh process. "
        "Regenerate with `.venv/bin/python benchmarks/import_bench.py [--quick]`.\n\n"
        "| date | invoices | charges | customers | files MB | import s | CPU s | peak MB | < 2 GB |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmarks\n"
    if "## Import" not in text:
        text = text.rstrip("\n") + "\n\n" + header
    start = text.index("## Import")
    following = text.find("\n## ", start + 1)
    end = len(text) if following < 0 else following + 1
    section = text[start:end].rstrip("\n") + "\n" + row + "\n"
    text = text[:start] + section + ("\n" + text[end:] if end < len(text) else "")
    tmp = results.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 100,000 invoices instead of 1,000,000")
    parser.add_argument("--keep", type=Path, help="keep the generated export in this folder")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results file to append to")
    args = parser.parse_args()
    target = 100_000 if args.quick else 1_000_000
    folder = args.keep or Path(tempfile.mkdtemp(prefix="stripe-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        counts = build_export(folder, target, base_customers=10_000)
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        print(
            f"generated {counts['invoices']:,} invoices, {counts['charges']:,} charges, "
            f"{counts['customers']:,} customers ({size_mb:,.0f} MB) in {time.perf_counter() - t:.1f} s"
        )
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, check=False
        )
        if child.returncode != 0:
            sys.exit(f"import failed:\n{child.stderr}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    ok = result["peak_mb"] < LIMIT_MB
    print(
        f"imported {result['invoices']:,} invoices ({result['events']:,} events) "
        f"in {result['seconds']:.1f} s, "
        f"peak RSS {result['peak_mb']:,.0f} MB ({'under' if ok else 'OVER'} {LIMIT_MB} MB)"
    )
    cpu = platform.processor() or platform.machine()
    row = (
        f"| {dt.date.today()} | {result['invoices']:,} | {counts['charges']:,} | {counts['customers']:,} | "
        f"{size_mb:,.0f} | {result['seconds']:.1f} | {result['cpu']:.1f} | {result['peak_mb']:,.0f} | "
        f"{'yes' if ok else 'NO'} |"
    )
    append_result(row, args.results)
    print(f"appended to {args.results} ({cpu}, Python {platform.python_version()}, polars {pl.__version__})")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
