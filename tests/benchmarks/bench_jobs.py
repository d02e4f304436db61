"""Cold execution of independent small notebooks: `--jobs 2` against `--jobs 1` and against
`jupyter nbconvert --execute` run one after another.

Each round runs the three ways in turn (interleaved, so a slow moment of the machine hits
all of them), each on fresh copies with no cache.

    python tests/benchmarks/bench_jobs.py [--notebooks 4] [--rounds 3]

Prints the medians and the ratios (goals on a 2-core machine: jobs 2 at 0.75x or less
of jobs 1, and 0.6x or less of nbconvert).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]

CELLS = [
    "import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt",
    "rng = np.random.default_rng({n})\nx = rng.normal(size=200_000)\nprint(x.mean(), x.std())",
    "total = 0\nfor i in range(1_500_000):\n    total += i % 7\nprint(total)",
    "fig, ax = plt.subplots()\nax.hist(x, bins=50)\nfig.savefig('hist-{n}.png')\nprint('saved')",
]


def _notebooks(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for n in range(count):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# Notebook {n}")] +
                                      [nbformat.v4.new_code_cell(c.replace("{n}", str(n))) for c in CELLS])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = folder / f"{n:02d}_small.ipynb"
        nbformat.write(nb, str(path))
        paths.append(path)
    return paths


def _timed(command: list[str], cwd: Path, env: dict) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    times: dict[str, list[float]] = {"jobs 2": [], "jobs 1": [], "nbconvert": []}
    work = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    try:
        for round_ in range(args.rounds):
            for way in times:
                root = work / f"{round_}-{way.replace(' ', '')}"
                paths = _notebooks(root / "experiments", args.notebooks)
                (root / "pyproject.toml").write_text("[tool.pipeline]\n", encoding="utf-8")
                if way == "nbconvert":
                    seconds = sum(_timed([jupyter, "nbconvert", "--to", "notebook", "--execute", "--output",
                                          f"{p.stem}.out.ipynb", str(p)], root / "experiments", env) for p in paths)
                else:
                    seconds = _timed([sys.executable, "-m", "pipeline", "-q", "execute", "--jobs", way.split()[1]],
                                     root, env)
                times[way].append(seconds)
                print(f"round {round_ + 1} {way:>9}: {seconds:.2f}s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {way: statistics.median(values) for way, values in times.items()}
    print(f"\n{args.notebooks} notebooks, {args.rounds} rounds, {os.cpu_count()} cores; medians:")
    for way, value in medians.items():
        print(f"  {way:>9}: {value:.2f}s")
    print(f"jobs 2 / jobs 1:    {medians['jobs 2'] / medians['jobs 1']:.2f}x (goal: 0.75x or less)")
    print(f"jobs 2 / nbconvert: {medians['jobs 2'] / medians['nbconvert']:.2f}x (goal: 0.6x or less)")
    print(f"jobs 1 / nbconvert: {medians['jobs 1'] / medians['nbconvert']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
