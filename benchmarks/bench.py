"""`make bench`: engine throughput against a bare SimPy loop measured in the same run.

For each size: wall time of `simulate` + `summary` on the default scenario scaled up (policy all-on,
12 months), events per second (event + email rows), peak resident memory of a fresh process, and
the ratio to a bare SimPy loop doing one `timeout` per customer-month for the same customers.
Each measurement runs in its own process so peak memory is that run's own. Results are printed
and written to benchmarks/results.md (the "Engine" section; other sections are kept).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def engine_run(customers: int, months: int, policy: str, fast: bool) -> dict:
    import recovery_sim as rs

    scenario = rs.Scenario.default().scaled(customers=customers, months=months)
    start = time.perf_counter()
    run = rs.simulate(scenario, rs.Policy.named(policy), seed=1, fast=fast)
    rs.summary(run)
    wall = time.perf_counter() - start
    rows = run.events.height + run.emails.height
    return {"wall": wall, "rows": rows, "peak_mb": _peak_rss_mb()}


def _child(kind: str, customers: int, months: int, policy: str, fast: bool) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); import bench; "
        f"r = bench.engine_run({customers}, {months}, {policy!r}, {fast}) if {kind!r} == 'engine' "
        f"else {{'wall': bench.bare_loop({customers}, {months}), 'peak_mb': bench._peak_rss_mb()}}; "
        "print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated customer counts")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--policy", default="all-on")
    parser.add_argument("--reference", action="store_true", help="also time the all-SimPy reference path")
    args = parser.parse_args()
    rows = []
    header = "| customers | months | path | wall s | rows/s | peak MB | bare SimPy s | ratio |"
    print(header)
    for size in [int(s) for s in args.sizes.split(",")]:
        bare = _child("bare", size, args.months, args.policy, True)
        paths = [("fast", True)] + ([("reference", False)] if args.reference else [])
        for label, fast in paths:
            result = _child("engine", size, args.months, args.policy, fast)
            row = (
                f"| {size:,} | {args.months} | {label} | {result['wall']:.2f} | "
                f"{result['rows'] / result['wall']:,.0f} | {result['peak_mb']:,.0f} | {bare['wall']:.2f} | "
                f"{result['wall'] / bare['wall']:.2f} |"
            )
            print(row, flush=True)
            rows.append(row)
    section = "\n".join(
        [
            "## Engine",
            "",
            f"Policy `{args.policy}`, default scenario scaled, one process, seed 1. CPU: {cpu_model()}, "
            f"Python {platform.python_version()}. Regenerate with `make bench`.",
            "Ratio = engine wall time ÷ bare SimPy loop (one `timeout` per customer-month) in the same run.",
            "",
            "| customers | months | path | wall s | rows/s | peak MB | bare SimPy s | ratio |",
            "|---:|---:|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n\n"
    text = re.sub(r"## Engine\n.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
