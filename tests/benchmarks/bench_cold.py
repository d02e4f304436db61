"""Cold execution against the peers, and the seed study cold in a fresh copy of the project.

    pip install -c .setup/constraints.txt -e '.[benchmark]'
    python tests/benchmarks/bench_cold.py [--rounds 3] [--ways jobs2,jobs1,nbconvert,...]
    python tests/benchmarks/bench_cold.py --notebooks DIR [--rounds 3]   # the notebooks of DIR instead
    python tests/benchmarks/bench_cold.py --seed [--rounds 3]
    python tests/benchmarks/bench_cold.py --profile      # where one cold --jobs 1 run spends its time

Notebooks (default): three notebooks of unequal length (150, 70 and 6 code cells of numeric
work: NumPy linear algebra, pure-Python loops, a matplotlib figure; no sleeps), written here;
``--notebooks DIR``: the ``.ipynb`` files of DIR (e.g. a public tutorial's; they must run without error).
Each round runs every way once, in turn (interleaved, so a slow moment of the machine hits all
of them), each on a fresh copy with no cache:

- ``jobs1``/``jobs2``: ``python -m pipeline -q execute --force --jobs N``;
- ``nbconvert``: ``jupyter nbconvert --to notebook --execute``, one notebook after another;
- ``papermill``: ``papermill IN OUT``, one notebook after another;
- ``jc-serial``/``jc-parallel``: ``jcache project execute --executor local-serial|local-parallel``
  (the notebooks are added to its cache first, untimed); ``jc-parallel-1t``: local-parallel with
  one BLAS/OpenMP thread per kernel, as ``--jobs 2`` gives its kernels on two cores.

``--seed``: the project's own experiments, ``execute --force`` in a fresh copy of the working tree
(build/, .git and virtual environments left out) with the machine's model cache as a previous run
left it (one untimed run fills it when it is empty), against the same with ``prestart = "off"``.

Prints the medians, the ratios and the goals of issue 19, and the load average before and after:
figures taken on a loaded machine say little. Not collected by pytest.
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
BIN = Path(sys.executable).parent
LENGTHS = {"01_long": 150, "02_medium": 70, "03_short": 6}
WAYS = ("jobs2", "jobs1", "nbconvert", "papermill", "jc-serial", "jc-parallel", "jc-parallel-1t")
#: what --jobs 2 gives each kernel on two cores (pipeline.run.sessions.THREAD_VARIABLES): jc-parallel-1t is
#: jupyter-cache's local-parallel with the same limit, so that the comparison is not only about threads
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

FIRST = "import numpy as np\nimport matplotlib\nimport matplotlib.pyplot as plt\nrng = np.random.default_rng({seed})"
WORK = [  # about 40 ms each on one core of the reference machine
    "a = rng.normal(size=(700, 700))\nb = a @ a.T\nprint(round(float(np.linalg.eigvalsh(b)[-1]), 3))",
    "total = 0\nfor i in range(600_000):\n    total += (i * i) % 7\nprint(total)",
    "x = rng.normal(size=2_000_000)\nprint(round(float(np.sort(x)[len(x) // 2]), 4), round(float(x.std()), 4))",
    "words = [str(i) * 3 for i in range(200_000)]\ncounts = {}\nfor w in words:\n    counts[w[-1]] = counts.get(w[-1], 0) + 1\n"
    "print(sorted(counts.items())[:3])",
]
FIGURE = "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(np.cumsum(rng.normal(size=500)))\nplt.show()"


#: set by --notebooks: a folder whose notebooks are run instead of the written ones
SOURCE: Path | None = None


def write_notebooks(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    if SOURCE is not None:
        return [Path(shutil.copy(p, folder / p.name)) for p in sorted(SOURCE.glob("*.ipynb"))]
    paths = []
    for n, (name, length) in enumerate(LENGTHS.items()):
        sources = [FIRST.format(seed=n)] + [WORK[i % len(WORK)] for i in range(length - 1)]
        if length > 10:
            sources[length // 2] = FIGURE
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}")] +
                                      [nbformat.v4.new_code_cell(s) for s in sources])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = folder / f"{name}.ipynb"
        nbformat.write(nb, str(path))
        paths.append(path)
    return paths


def timed(command: list[str], cwd: Path, env: dict, check_output=None) -> float:
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    text = result.stdout + result.stderr
    if result.returncode != 0 or (check_output and not check_output(text)):
        raise RuntimeError(f"failed ({result.returncode}): {' '.join(command)}\n{text[-3000:]}")
    return seconds


def run_way(way: str, root: Path, env: dict) -> float:
    folder = root / "experiments"
    paths = write_notebooks(folder)
    if way.startswith("jobs"):
        (root / "pyproject.toml").write_text("[tool.pipeline]\n", encoding="utf-8")
        return timed([sys.executable, "-m", "pipeline", "-q", "execute", "--force", "--jobs", way[4:]], root, env)
    if way == "nbconvert":
        return sum(timed([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--output",
                          f"{p.stem}.out.ipynb", str(p)], folder, env) for p in paths)
    if way == "papermill":
        return sum(timed([str(BIN / "papermill"), "-k", "python3", "--no-progress-bar", str(p),
                          str(p.with_suffix(".out.ipynb"))], folder, env) for p in paths)
    executor = {"jc-serial": "local-serial", "jc-parallel": "local-parallel", "jc-parallel-1t": "local-parallel"}[way]
    env = {**env, **ONE_THREAD} if way.endswith("-1t") else env
    subprocess.run([str(BIN / "jcache"), "notebook", "add", *map(str, paths)], cwd=folder, env=env, input="y\n",
                   capture_output=True, text=True, check=True)
    return timed([str(BIN / "jcache"), "project", "execute", "--executor", executor, "-t", "600"], folder, env,
                 check_output=lambda text: "errored: []" in text and "excepted: []" in text)


def fresh_copy(target: Path) -> Path:
    """The working tree (uncommitted work included) without build outputs, git data or environments."""
    ignore = shutil.ignore_patterns("build", ".git", ".venv", "venv", "site", "node_modules", "__pycache__",
                                    ".pytest_cache", ".ruff_cache", "*.egg-info")
    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)
    return target


def seed_run(way: str, work: Path, env: dict, names: tuple[str, ...] = ()) -> float:
    root = fresh_copy(work)
    if way == "seed-off":
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
        (root / "pyproject.toml").write_text(text.replace("[tool.pipeline]\n", "[tool.pipeline]\nprestart = \"off\"\n", 1),
                                             encoding="utf-8")
    return timed([sys.executable, "-m", "pipeline", "-q", "execute", "--force", *names], root, {**env, "PYTHONPATH": str(root)})


def profile(work: Path, env: dict) -> None:
    """One cold --jobs 1 run of the notebooks under cProfile, and the kernel-side time per experiment."""
    import json
    import pstats

    write_notebooks(work / "experiments")
    (work / "pyproject.toml").write_text("[tool.pipeline]\n", encoding="utf-8")
    out = work / "profile.out"
    seconds = timed([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "pipeline", "-q", "execute", "--force",
                     "--jobs", "1"], work, env)
    print(f"one cold --jobs 1 run: {seconds:.2f}s; where the command's own thread spends it:")
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(r"pipeline/(run|experiments|cli)", 25)
    for path in sorted((work / "build" / "executed").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c["metadata"].get("pipeline", {}).get("duration") or 0 for c in nb["cells"] if c["cell_type"] == "code"]
        print(f"{path.stem:>10}: experiment {nb['metadata']['pipeline_run']['duration']:.2f}s, cells {sum(cells):.2f}s "
              f"(first cell {cells[0]:.2f}s), {len(cells)} cells")


def report(times: dict[str, list[float]], goals: list[tuple[str, str, float | None]]) -> None:
    medians = {way: statistics.median(values) for way, values in times.items() if values}
    print(f"\nmedians of {max(map(len, times.values()))} rounds, {os.cpu_count()} cores:")
    for way, value in medians.items():
        print(f"  {way:>12}: {value:7.2f}s   ({', '.join(f'{v:.2f}' for v in times[way])})")
    for a, b, goal in goals:
        if a in medians and b in medians:
            ratio = medians[a] / medians[b]
            verdict = "" if goal is None else f"  (goal: {goal}x or less: {'met' if ratio <= goal else 'NOT met'})"
            rounds = ", ".join(f"{x / y:.2f}" for x, y in zip(times[a], times[b]))  # same moment of the machine
            print(f"  {a} / {b}: {ratio:.2f}x{verdict}; per round: {rounds}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ways", default=",".join(WAYS), help=f"comma-separated, of: {', '.join(WAYS)}")
    parser.add_argument("--notebooks", type=Path, help="run the .ipynb files of this folder instead of the written ones")
    parser.add_argument("--seed", action="store_true", help="the seed study in a fresh copy instead of the notebooks")
    parser.add_argument("--profile", action="store_true", help="profile one cold --jobs 1 run of the notebooks")
    args = parser.parse_args()
    global SOURCE
    SOURCE = args.notebooks.resolve() if args.notebooks else None
    if SOURCE is not None and not list(SOURCE.glob("*.ipynb")):
        parser.error(f"--notebooks {args.notebooks}: no .ipynb file there")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    try:
        if args.profile:
            profile(work, env)
            return 0
        if args.seed:
            ways = ["seed", "seed-off"]
            print("filling the machine's model cache (untimed: 01_model, which converts only if it is empty)", flush=True)
            seed_run("seed", work / "warmup", env, ("01_model",))
        else:
            ways = [w for w in args.ways.split(",") if w]
            missing = [w for w in ways if not w.startswith("jobs") and not (BIN / _tool(w)).exists()]
            if missing:
                print(f"skipping {', '.join(missing)}: pip install -c .setup/constraints.txt -e '.[benchmark]'")
                ways = [w for w in ways if w not in missing]
        times: dict[str, list[float]] = {way: [] for way in ways}
        for round_ in range(args.rounds):
            for way in ways:
                root = work / f"{round_}-{way}"
                seconds = seed_run(way, root, env) if args.seed else run_way(way, root, env)
                shutil.rmtree(root, ignore_errors=True)
                times[way].append(seconds)
                print(f"round {round_ + 1} {way:>12}: {seconds:.2f}s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.seed:
        report(times, [("seed", "seed-off", None)])
        print(f"  seed: goal 70s or less: {'met' if statistics.median(times['seed']) <= 70 else 'NOT met'}")
    else:
        report(times, [("jobs2", "nbconvert", 0.65), ("jobs1", "nbconvert", 0.9), ("jobs2", "jc-parallel", 1.0),
                       ("jobs2", "jc-parallel-1t", 1.0),
                       ("jobs2", "jobs1", None), ("jc-parallel", "nbconvert", None), ("papermill", "nbconvert", None),
                       ("jc-serial", "nbconvert", None)])
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _tool(way: str) -> str:
    return {"nbconvert": "jupyter-nbconvert", "papermill": "papermill"}.get(way, "jcache")


if __name__ == "__main__":
    sys.exit(main())
