"""The fault and hostile-input battery outside pytest: a table and a totals line.

    python tests/benchmarks/bench_faults.py [CASE-GLOB ...] [--keep]

Runs every case of tests/faults/ (or those matching the globs) on a fresh copy of a
project built once, then loads the hostile cases' outputs in chromium, and prints per
case: seconds, exit code of its last command, lost, leaked, scripts run, raw tracebacks,
written outside, ok; then the totals line

    cases tried N, lost N, leaked N, scripts run N, raw tracebacks N, written outside N

and the details of every case that is not ok. Exit status 1 when any count is non-zero
or any case missed its own expectation. --keep keeps the work folder for inspection;
-v prints the details (timings, notes) of every case.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faults

ROW = "{:<38} {:>7} {:>5} {:>5} {:>7} {:>8} {:>11} {:>8}  {}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help="case names or globs (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case's details, not only failures")
    args = parser.parse_args(argv)
    cases = faults.select(args.cases)
    workdir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    started = time.monotonic()
    try:
        base = faults.make_base(workdir)
        kept = "kept" if args.keep else "removed at the end; --keep keeps it"
        print(f"last good build: {base.seconds:.1f}s; {len(cases)} cases; work folder {workdir} ({kept})", flush=True)
        print(ROW.format("case", "seconds", "exit", "lost", "leaked", "scripts", "tracebacks", "outside", "ok"))
        print("-" * 109)

        def show(result: faults.Result) -> None:
            lost, leaked, scripts, tracebacks, outside = result.counts
            shown = "-" if result.scripts is None else scripts
            print(ROW.format(result.name, f"{result.seconds:.1f}", str(result.rc), lost, leaked, shown, tracebacks,
                             outside, "ok" if result.ok else "FAILED"), flush=True)

        results, why_not = faults.run_all(cases, workdir, base=base, on_result=show)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    totals = [sum(r.counts[i] for r in results) for i in range(5)]
    print("-" * 109)
    if why_not:
        print(f"browser check not run: {why_not}")
    failed = [r for r in results if not r.ok]
    for result in results if args.verbose else failed:
        print()
        print(result.report())
    print()
    print(f"{len(failed)} of {len(results)} cases not ok; {time.monotonic() - started:.0f}s in all")
    print(f"cases tried {len(results)}, lost {totals[0]}, leaked {totals[1]}, scripts run {totals[2]}, "
          f"raw tracebacks {totals[3]}, written outside {totals[4]}")
    return 1 if any(totals) or failed else 0


if __name__ == "__main__":
    sys.exit(main())
