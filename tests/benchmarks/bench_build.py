"""Benchmark: `python -m pipeline build` when nothing changed (every experiment cached).

    python tests/benchmarks/bench_build.py [--runs 5]

Run it after one full build in the repository. Prints each run's wall time and the
median, twice: with the no-change stamp (build/.uptodate.json, the usual case: no
stage runs), and with the stamp removed before each run (every stage runs: discover,
cache lookups, harvest, render, the write-if-changed publication). The target for
the first is under 0.5 s on the 2-core build machine, with or without the `remote`
extra installed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAMP = REPO / "build" / ".uptodate.json"


def _one_build() -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pipeline", "build"], cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(result.stderr)
    if "executing" in result.stderr:
        sys.exit("an experiment was executed: run one full build first")
    return elapsed, result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _one_build()  # writes the stamp if the last build did not
    for label, remove_stamp in (("with the stamp", False), ("every stage (stamp removed)", True)):
        times = []
        for run in range(args.runs):
            if remove_stamp:
                STAMP.unlink(missing_ok=True)
            elapsed, log = _one_build()
            if not remove_stamp and "up to date" not in log:
                sys.exit("the stamp was not used: " + log[-2000:])
            times.append(elapsed)
            print(f"{label}, run {run + 1}: {elapsed:.2f}s")
        print(f"median no-change rebuild, {label}: {statistics.median(times):.2f}s over {len(times)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
