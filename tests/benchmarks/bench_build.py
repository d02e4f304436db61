"""Benchmark: `python -m pipeline build` when nothing changed (every experiment cached).

    python tests/benchmarks/bench_build.py [--runs 5]

Run it after one full build in the repository; prints each run's wall time and
the median. The target is under 2 seconds on the 2-core build machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = []
    for run in range(args.runs):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pipeline", "build"], cwd=REPO, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(result.stderr)
        if "executing" in result.stderr:
            sys.exit("an experiment was executed: run one full build first")
        times.append(elapsed)
        print(f"run {run + 1}: {elapsed:.2f}s")
    print(f"median no-change rebuild: {statistics.median(times):.2f}s over {len(times)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
