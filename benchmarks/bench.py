"""`make bench`: engine throughput against a bare SimPy loop measured in the same run.

For each size and worker count: wall time of `simulate` + `summary` on the default scenario scaled up
(policy all-on, 12 months), rows per second (event + email rows), peak resident memory, and the ratio
to a bare SimPy loop doing one `timeout` per customer-month for the same customers (one process).

With `--workers 2` the customers are split into two shards by `customer_ids` (every other id, so
both shards get the same mix of cohorts); a process pool simulates them at once, each worker writes
its frames as Arrow IPC files, the parent stacks them as `simulate_in_shards` does (identical to one
run by construction) and computes the summary. Its peak memory is the parent's plus each worker's
(they run at the same time).

Every measurement runs in a fresh process, so peak memory is that run's own. Results are printed and
written to benchmarks/results.md (the "Engine" section; other sections are kept).

    .venv/bin/python benchmarks/bench.py            # 10k, 100k and 1M, 1 and 2 workers (~4 min on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick    # 10k and 100k only (~40 s)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")
HEADER = (
    "| customers | months | workers | wall s | rows/s | peak MB | bare SimPy s | ratio |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
)


def _peak_rss_mb(who: int | None = None) -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF if who is None else who).ru_maxrss / 1024


def bare_loop(customers: int, months: int) -> float:
    import simpy

    env = simpy.Environment()

    def customer(env):
        for _ in range(months):
            yield env.timeout(30.44)

    start = time.perf_counter()
    for _ in range(customers):
        env.process(customer(env))
    env.run()
    return time.perf_counter() - start


def _scenario(customers: int, months: int):
    import recovery_sim as rs

    return rs.Scenario.default().scaled(customers=customers, months=months)


FRAMES = ("events", "emails", "invoices", "customers")


def _shard(customers: int, months: int, policy: str, ids, folder: str) -> float:
    """One worker: simulate a shard, write its frames as Arrow IPC files; return its peak memory."""
    import recovery_sim as rs

    run = rs.simulate(_scenario(customers, months), rs.Policy.named(policy), seed=1, customer_ids=ids)
    for name in FRAMES:
        getattr(run, name).write_ipc(Path(folder) / f"{name}.arrow")
    return _peak_rss_mb()


def engine_run(customers: int, months: int, policy: str, fast: bool = True, workers: int = 1) -> dict:
    import numpy as np
    import polars as pl

    import recovery_sim as rs

    scenario = _scenario(customers, months)
    start = time.perf_counter()
    if workers == 1:
        run = rs.simulate(scenario, rs.Policy.named(policy), seed=1, fast=fast)
        worker_peak = 0.0
    else:
        import tempfile
        from concurrent.futures import ProcessPoolExecutor

        ids = np.arange(scenario.customers, dtype=np.int64)
        tmp = tempfile.TemporaryDirectory(prefix="bench-")
        folders = [Path(tmp.name) / str(w) for w in range(workers)]
        for folder in folders:
            folder.mkdir()
        with ProcessPoolExecutor(workers) as pool:
            shards = [ids[w::workers] for w in range(workers)]
            n = len(shards)
            peaks = pool.map(_shard, [customers] * n, [months] * n, [policy] * n, shards, map(str, folders))
            worker_peak = sum(peaks)

        def stack(name: str, *by: str) -> pl.DataFrame:
            parts = [pl.read_ipc(folder / f"{name}.arrow") for folder in folders]
            frame = pl.concat(parts, how="vertical_relaxed")
            return frame.sort(list(by), maintain_order=True)

        run = rs.Run(
            scenario,
            rs.Policy.named(policy),
            1,
            0,
            events=stack("events", "time", "customer_id"),
            emails=stack("emails", "time", "customer_id"),
            invoices=stack("invoices", "invoice_id"),
            customers=stack("customers", "customer_id"),
        )
        tmp.cleanup()
    summary = rs.summary(run)
    wall = time.perf_counter() - start
    rows = run.events.height + run.emails.height
    return {
        "wall": wall,
        "rows": rows,
        "peak_mb": _peak_rss_mb() + worker_peak,
        "summary": summary.write_json(),
    }


def _child(kind: str, customers: int, months: int, policy: str, workers: int = 1) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); import bench; "
        f"r = bench.engine_run({customers}, {months}, {policy!r}, True, {workers}) if {kind!r} == 'engine' "
        f"else {{'wall': bench.bare_loop({customers}, {months}), 'peak_mb': bench._peak_rss_mb()}}; "
        "print(json.dumps(r))"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated customer counts (plus 1M)")
    parser.add_argument("--quick", action="store_true", help="10k and 100k only (no 1M)")
    parser.add_argument("--full", action="store_true", help="10k, 100k and 1M (the default)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--policy", default="all-on")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([] if args.quick else [1_000_000])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    print(*HEADER, sep="\n", flush=True)
    for size in sizes:
        bare = _child("bare", size, args.months, args.policy)
        summaries = set()
        for workers in [int(w) for w in args.workers.split(",")]:
            result = _child("engine", size, args.months, args.policy, workers)
            summaries.add(result["summary"])
            row = (
                f"| {size:,} | {args.months} | {workers} | {result['wall']:.2f} | "
                f"{result['rows'] / result['wall']:,.0f} | {result['peak_mb']:,.0f} | {bare['wall']:.2f} | "
                f"{result['wall'] / bare['wall']:.2f} |"
            )
            print(row, flush=True)
            rows.append(row)
        if len(summaries) > 1:
            raise SystemExit(f"{size:,} customers: the worker counts gave different summaries")
    if args.no_write:
        return
    command = "bench.py --quick" if args.quick else "bench.py"
    section = "\n".join(
        [
            "## Engine",
            "",
            f"{time.strftime('%Y-%m-%d', time.gmtime())}: policy `{args.policy}`, default scenario scaled, "
            f"seed 1, fast path. CPU: {cpu_model()} ({os.cpu_count()} available), Python "
            f"{platform.python_version()}, load average {load:.1f} at start. "
            f"Regenerate with `.venv/bin/python benchmarks/{command}`.",
            "Wall time covers `simulate` (event recording included) and `summary`; with 2 workers, two "
            "processes each simulate half the customers (`customer_ids` shards) and the parent stacks the "
            "frames. Rows = event + email rows. Peak MB = peak RSS (parent + workers). Ratio = wall time ÷ "
            "the bare SimPy loop (one `timeout` per customer-month, one process) measured in the same run. "
            "Every worker count gave the same summary.",
            "",
            *HEADER,
            *rows,
            "",
        ]
    )
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n\n"
    if "## Engine" in text:
        text = re.sub(r"## Engine\n.*?(?=\n## |\Z)", lambda _: section, text, count=1, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text.rstrip() + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
