"""`make bench`: engine throughput against a bare SimPy loop measured in the same run.

For each size: wall time of `simulate` + `summary` on the default scenario scaled up (policy all-on,
12 months), rows per second (event + email rows), peak resident memory, and the ratio to a bare SimPy
loop doing one `timeout` per customer-month for the same customers (one process).

Paths: `compiled` is the default fast path (kernel.py) on 1 or 2 workers (threads of the compiled
kernel over disjoint customer ranges; polars builds the frames on both cores either way); `simpy` is
the reference path (engine.py), measured up to 100k customers to show what the compiled path saves.
Every measurement runs in a fresh process, so peak memory is that run's own, and every row of a size
must give the same summary. Results are printed and written to benchmarks/results.md (the "Engine"
section; other sections are kept).

    .venv/bin/python benchmarks/bench.py            # 10k, 100k and 1M (~3 min on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick    # 10k and 100k only (~1 min)
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
    "| customers | months | path | workers | wall s | rows/s | peak MB | bare SimPy s | ratio |",
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
)
REFERENCE_UP_TO = 100_000  # the SimPy path takes minutes beyond


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


def engine_run(customers: int, months: int, policy: str, path: str = "compiled", workers: int = 1) -> dict:
    import recovery_sim as rs

    scenario = _scenario(customers, months)
    rs.simulate(_scenario(50, 2), rs.Policy.named(policy))  # load the compiled kernel from its cache
    start = time.perf_counter()
    run = rs.simulate(scenario, rs.Policy.named(policy), seed=1, fast=path == "compiled", threads=workers)
    summary = rs.summary(run)
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "rows": run.events.height + run.emails.height,
        "peak_mb": _peak_rss_mb(),
        "summary": summary.write_json(),
    }


def _child(
    kind: str, customers: int, months: int, policy: str, path: str = "compiled", workers: int = 1
) -> dict:
    """One measurement in a fresh process (so its peak memory is its own)."""
    engine = f"bench.engine_run({customers}, {months}, {policy!r}, {path!r}, {workers})"
    bare = f"{{'wall': bench.bare_loop({customers}, {months}), 'peak_mb': bench._peak_rss_mb()}}"
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); import bench; "
        f"r = {engine if kind == 'engine' else bare}; print(json.dumps(r))"
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
        runs = [("compiled", int(w)) for w in args.workers.split(",")]
        runs += [("simpy", 1)] if size <= REFERENCE_UP_TO else []
        for path, workers in runs:
            result = _child("engine", size, args.months, args.policy, path, workers)
            summaries.add(result["summary"])
            row = (
                f"| {size:,} | {args.months} | {path} | {workers} | {result['wall']:.2f} | "
                f"{result['rows'] / result['wall']:,.0f} | {result['peak_mb']:,.0f} | {bare['wall']:.2f} | "
                f"{result['wall'] / bare['wall']:.2f} |"
            )
            print(row, flush=True)
            rows.append(row)
        if len(summaries) > 1:
            raise SystemExit(f"{size:,} customers: the paths or worker counts gave different summaries")
    if args.no_write:
        return
    command = "bench.py --quick" if args.quick else "bench.py"
    section = "\n".join(
        [
            "## Engine",
            "",
            f"{time.strftime('%Y-%m-%d', time.gmtime())}: policy `{args.policy}`, default scenario scaled, "
            f"seed 1. CPU: {cpu_model()} ({os.cpu_count()} available), Python "
            f"{platform.python_version()}, load average {load:.1f} at start. "
            f"Regenerate with `.venv/bin/python benchmarks/{command}`.",
            "Wall time covers `simulate` (event recording and the polars frames included) and `summary`. "
            "`compiled` is the default path (the model compiled, kernel.py); its 2 workers are two threads "
            "of the kernel over disjoint customer ranges. `simpy` is the reference path (the model in "
            "SimPy, engine.py). Rows = event + email rows. Peak MB = peak RSS. Ratio = wall time ÷ the bare "
            "SimPy loop (one `timeout` per customer-month, one process) measured in the same run. Every "
            "path and worker count gave the same summary.",
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
