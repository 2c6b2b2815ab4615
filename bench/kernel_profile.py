#!/usr/bin/env python3
"""Which GPU kernels a run spends its time in, from CubeCL's own profiling log.

CubeCL (the compiler under Burn's GPU backends) times every kernel it launches when its
profiling logger is on — a `cubecl.toml` in the working directory with

    [profiling.logger]
    level = "basic"
    file = "/tmp/cubecl-profile.log"

(`cringe` reads that file and only replaces the cache location) — and writes one line per
launch, `| <duration> | <kernel name>`, plus a summary table at each sync. This script sums the
per-launch lines by kernel name (the summary tables are skipped, so nothing is counted twice)
and prints the kernels that took the most device time, with their share, launch count and mean.
The names are CubeCL's: Burn's fused element-wise kernels, matmul variants, our shaders/
kernels under their Rust names.

Usage: bench/kernel_profile.py LOG [--top 20] [--json OUT.json]
"""
import argparse
import json
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\| (?P<dur>[0-9.]+)(?P<unit>ns|µs|us|ms|s)\s*\| (?P<name>.+?)\s*$")
UNIT_SECONDS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse(path):
    """Kernel name -> (total seconds, launches) over every timed launch in the log."""
    totals = defaultdict(lambda: [0.0, 0])
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            entry = totals[m["name"]]
            entry[0] += float(m["dur"]) * UNIT_SECONDS[m["unit"]]
            entry[1] += 1
    return totals


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--json", help="also write every kernel's totals here")
    args = ap.parse_args()
    totals = parse(args.log)
    if not totals:
        sys.exit(f"{args.log}: no timed kernel launches (lines `| <duration> | <name>`); "
                 "was CubeCL's profiling logger on (level = \"basic\")?")
    grand = sum(t for t, _ in totals.values())
    launches = sum(n for _, n in totals.values())
    rows = sorted(totals.items(), key=lambda kv: -kv[1][0])
    print(f"{launches} kernel launches, {grand * 1e3:.1f} ms of device time, {len(rows)} distinct kernels")
    print(f"{'share':>6} {'total ms':>9} {'launches':>8} {'mean µs':>9}  kernel")
    for name, (t, n) in rows[: args.top]:
        short = name if len(name) <= 110 else name[:107] + "..."
        print(f"{100 * t / grand:5.1f}% {t * 1e3:9.2f} {n:8d} {t / n * 1e6:9.1f}  {short}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"kernel": k, "seconds": t, "launches": n} for k, (t, n) in rows], f, indent=1)


if __name__ == "__main__":
    main()
