"""Run every benchmark and print one table: ``python bench/run.py [--quick] [NAME ...]``.

Each benchmark measures cris-cli against a reference in the same run,
interleaved, and reports medians with min–max and the ratio. ``--quick`` is a
smoke test (small counts, no verdicts): it proves the benchmarks work.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Result, compile_package

BENCHMARKS = [
    "bench_send",
    "bench_ingest",
    "bench_render",
    "bench_relay",
    "bench_memory",
    "bench_shell",
]


def machine() -> str:
    import os

    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"


def table(results: list[Result]) -> str:
    rows = [("benchmark", "cris-cli", "reference", "ratio", "goal", "met")]
    for r in results:
        verdict = "-" if r.met is None else ("yes" if r.met else "NO")
        rows.append((r.name, r.measured, r.reference, r.ratio, r.goal, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smoke mode: small counts, no verdicts"
    )
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default all: {', '.join(BENCHMARKS)})"
    )
    args = parser.parse_args()
    results: list[Result] = []
    compile_package()
    for name in args.names or BENCHMARKS:
        started = time.monotonic()
        print(f"running {name}...", file=sys.stderr, flush=True)
        outcome = importlib.import_module(name).run(args.quick)
        for result in outcome if isinstance(outcome, list) else [outcome]:
            results.append(result)
            took = time.monotonic() - started
            print(f"  {result.detail} ({took:.0f} s)", file=sys.stderr, flush=True)
    print(f"machine: {machine()}")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
