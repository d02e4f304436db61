"""Cold execution against the peers and against the floor, and the seed study cold in a fresh copy.

    pip install -c .setup/constraints.txt -e '.[benchmark]'
    python tests/benchmarks/bench_cold.py [--set written|tutorial] [--rounds 3] [--ways jobs2,jobsauto,...]
    python tests/benchmarks/bench_cold.py --notebooks DIR [--rounds 3]   # the notebooks of DIR instead
    python tests/benchmarks/bench_cold.py --timeline jobs2,jc-parallel  # cores busy over time, one run each
    python tests/benchmarks/bench_cold.py --seed [--rounds 3]
    python tests/benchmarks/bench_cold.py --profile      # where one cold --jobs 1 run spends its time
    python tests/benchmarks/bench_cold.py --breakdown jobs2 [--rounds 3]  # its wall time against the floor, part by part

The sets (``cold_sets.py``): ``written`` (default: 150, 70 and 6 code cells of numeric work),
``tutorial`` (three Japanese tutorial notebooks of about 17 s, 2 s and 0.3 s of cell time:
scikit-learn, pandas, matplotlib), or the ``.ipynb`` files of ``--notebooks DIR`` (they must run
without error). Each round runs every way once, in turn (interleaved, so a slow moment of the
machine hits all of them), each on a fresh copy with no cache:

- ``jobs1``/``jobs2``/``jobsauto``: ``python -m pipeline -q execute --force --jobs 1|2|auto``;
  ``jobs2@DIR``: the same with the pipeline of another source tree (``git worktree add DIR main``),
  to compare a change with what it changes;
- ``nbconvert``: ``jupyter nbconvert --to notebook --execute``, one notebook after another;
- ``papermill``: ``papermill IN OUT``, one notebook after another;
- ``jc-serial``/``jc-parallel``: ``jcache project execute --executor local-serial|local-parallel``
  (the notebooks are added to its cache first, untimed); ``jc-parallel-1t`` (not run unless
  named): local-parallel with one BLAS/OpenMP thread per kernel.

The floor (``cold_sets.floor``): the larger of the longest chain's cell time with every core free
and the total cell time divided by the cores, both from the nbconvert runs of the same round
(nbconvert runs whenever the floor is wanted). Every way's median is printed as a ratio to the
median floor, with the goals of issue 30: ``--jobs 2`` and ``--jobs auto`` faster than
local-parallel and at most 1.15x the floor, ``--jobs 1`` at most 0.75x nbconvert.

``--seed``: the project's own experiments, ``execute --force`` in a fresh copy of the working tree
(build/, .git and virtual environments left out) with the machine's model cache as a previous run
left it (one untimed run fills it when it is empty); its wall time as a ratio to the sum of its
experiments' own times (each one's ``duration`` as the run recorded it; goal: 1.1x or less) and
to the sum of their cell times.

Prints the load average before and after: figures taken on a loaded machine say little.
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cold_breakdown import explain
from cold_sets import HERE, Timeline, cell_time, floor, write_set

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WAYS = ("jobs2", "jobsauto", "jobs1", "nbconvert", "papermill", "jc-serial", "jc-parallel")
MORE_WAYS = ("jc-parallel-1t",)
#: what --jobs 2 gave each kernel on two cores before issue 30 (one BLAS/OpenMP thread): jc-parallel-1t is
#: jupyter-cache's local-parallel with that limit
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: set by the options: which set, or a folder whose notebooks are run instead
SET = "written"
SOURCE: Path | None = None


def timed(command: list[str], cwd: Path, env: dict, check_output=None, timeline: Timeline | None = None) -> float:
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if timeline is not None:
        timeline.watch(process.pid)
    text, _ = process.communicate()
    seconds = time.monotonic() - started
    if timeline is not None:
        timeline.stop()
    if process.returncode != 0 or (check_output and not check_output(text)):
        raise RuntimeError(f"failed ({process.returncode}): {' '.join(command)}\n{text[-3000:]}")
    return seconds


def run_way(way: str, root: Path, env: dict, timeline: Timeline | None = None, trace: Path | None = None) -> float:
    """One run of *way* in *root*; a ``jobsN`` way with *trace* runs through ``cold_breakdown``, which
    writes its cells' timestamps there."""
    folder = root / "experiments"
    paths = write_set(SET, folder, SOURCE)
    if way.startswith("jobs"):
        way, _, tree = way.partition("@")
        (root / "pyproject.toml").write_text("[tool.pipeline]\n", encoding="utf-8")
        env = {**env, "PYTHONPATH": tree} if tree else env
        program = ["-m", "pipeline"]
        if trace is not None:
            program, env = [str(HERE / "cold_breakdown.py"), str(trace)], {**env, "BREAKDOWN_STARTED": repr(time.time())}
        return timed([sys.executable, *program, "-q", "execute", "--force", "--jobs", way[4:]], root, env, timeline=timeline)
    if way == "nbconvert":
        return sum(timed([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--output",
                          f"{p.stem}.out.ipynb", str(p)], folder, env, timeline=timeline) for p in paths)
    if way == "papermill":
        return sum(timed([str(BIN / "papermill"), "-k", "python3", "--no-progress-bar", str(p),
                          str(p.with_suffix(".out.ipynb"))], folder, env, timeline=timeline) for p in paths)
    executor = {"jc-serial": "local-serial", "jc-parallel": "local-parallel", "jc-parallel-1t": "local-parallel"}[way]
    env = {**env, **ONE_THREAD} if way.endswith("-1t") else env
    subprocess.run([str(BIN / "jcache"), "notebook", "add", *map(str, paths)], cwd=folder, env=env, input="y\n",
                   capture_output=True, text=True, check=True)
    return timed([str(BIN / "jcache"), "project", "execute", "--executor", executor, "-t", "600"], folder, env,
                 check_output=lambda text: "errored: []" in text and "excepted: []" in text, timeline=timeline)


def breakdown(ways: list[str], work: Path, env: dict, rounds: int) -> None:
    """Each round: the notebooks alone (nbconvert), then each way traced (``cold_breakdown``)."""
    for round_ in range(rounds):
        root = work / f"{round_}-nbconvert"
        run_way("nbconvert", root, env)
        alone_times = {p.name.removesuffix(".out.ipynb"): cell_time(json.loads(p.read_text(encoding="utf-8")))
                       for p in (root / "experiments").glob("*.out.ipynb")}
        for way in ways:
            root = work / f"{round_}-{way}"
            run_way(way, root, env, trace=root / "trace.json")
            trace = json.loads((root / "trace.json").read_text(encoding="utf-8"))
            print(f"round {round_ + 1} {way}: {explain(trace, alone_times)}", flush=True)


def round_floor(root: Path) -> tuple[float, float, float]:
    """The floor from a nbconvert run's executed notebooks (``cold_sets.floor``)."""
    executed = {p.name.removesuffix(".out.ipynb"): p for p in (root / "experiments").glob("*.out.ipynb")}
    return floor(executed, len(os.sched_getaffinity(0)))


def fresh_copy(target: Path) -> Path:
    """The working tree (uncommitted work included) without build outputs, git data or environments."""
    ignore = shutil.ignore_patterns("build", ".git", ".venv", "venv", "site", "node_modules", "__pycache__",
                                    ".pytest_cache", ".ruff_cache", "*.egg-info")
    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)
    return target


def seed_run(work: Path, env: dict, names: tuple[str, ...] = ()) -> tuple[float, float, float]:
    """``(wall seconds, sum of the experiments' durations, sum of their cell times)`` of one cold run."""
    root = fresh_copy(work)
    seconds = timed([sys.executable, "-m", "pipeline", "-q", "execute", "--force", *names], root,
                    {**env, "PYTHONPATH": str(root)})
    own = cells = 0.0
    for path in (root / "build" / "executed").glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        own += nb["metadata"]["pipeline_run"]["duration"]
        cells += sum(c["metadata"].get("pipeline", {}).get("duration") or 0 for c in nb["cells"] if c["cell_type"] == "code")
    return seconds, own, cells


def profile(work: Path, env: dict) -> None:
    """One cold --jobs 1 run of the notebooks under cProfile, and the kernel-side time per experiment."""
    import pstats

    write_set(SET, work / "experiments", SOURCE)
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


def report(times: dict[str, list[float]], floors: list[tuple[float, float, float]]) -> None:
    medians = {way: statistics.median(values) for way, values in times.items() if values}
    low = statistics.median(f[0] for f in floors) if floors else None
    print(f"\nmedians of {max(map(len, times.values()))} rounds, {len(os.sched_getaffinity(0))} cores:")
    if low is not None:
        chain, spread = (statistics.median(f[i] for f in floors) for i in (1, 2))
        print(f"  {'floor':>14}: {low:7.2f}s   (longest chain {chain:.2f}s, cell time / cores {spread:.2f}s; "
              f"per round: {', '.join(f'{f[0]:.2f}' for f in floors)})")
    for way, value in medians.items():
        versus = f"{value / low:5.2f}x floor" if low else ""
        print(f"  {way:>14}: {value:7.2f}s   {versus}   ({', '.join(f'{v:.2f}' for v in times[way])})")
    goals = [("jobs2", "jc-parallel", 1.0, "<"), ("jobsauto", "jc-parallel", 1.0, "<"), ("jobs1", "nbconvert", 0.75, "<="),
             ("jobs2", "jobs1", None, ""), ("jc-parallel", "nbconvert", None, ""), ("papermill", "nbconvert", None, ""),
             ("jc-serial", "nbconvert", None, "")] + [(w.partition("@")[0], w, None, "") for w in medians if "@" in w]
    for a, b, goal, how in goals:
        if a in medians and b in medians:
            ratio = medians[a] / medians[b]
            met = ratio < goal if how == "<" else goal is not None and ratio <= goal
            verdict = "" if goal is None else f"  (goal: {'under' if how == '<' else 'at most'} {goal}x: {'met' if met else 'NOT met'})"
            rounds = ", ".join(f"{x / y:.2f}" for x, y in zip(times[a], times[b]))  # same moment of the machine
            print(f"  {a} / {b}: {ratio:.2f}x{verdict}; per round: {rounds}")
    for way in ("jobs2", "jobsauto"):
        if way in medians and low:
            ratio = medians[way] / low
            print(f"  {way} / floor: {ratio:.2f}x  (goal: at most 1.15x: {'met' if ratio <= 1.15 else 'NOT met'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ways", default=",".join(WAYS),
                        help=f"comma-separated, of: {', '.join(WAYS + MORE_WAYS)}, jobsN@DIR (another source tree)")
    parser.add_argument("--set", choices=("written", "tutorial"), default="written", help="the notebooks to run")
    parser.add_argument("--notebooks", type=Path, help="run the .ipynb files of this folder instead of a set")
    parser.add_argument("--timeline", metavar="WAYS", help="run each of these ways once and print the cores busy over time")
    parser.add_argument("--seed", action="store_true", help="the seed study in a fresh copy instead of the notebooks")
    parser.add_argument("--profile", action="store_true", help="profile one cold --jobs 1 run of the notebooks")
    parser.add_argument("--breakdown", metavar="WAYS", help="jobsN ways: each run's wall time against the floor, part by part")
    args = parser.parse_args()
    global SET, SOURCE
    SET, SOURCE = args.set, (args.notebooks.resolve() if args.notebooks else None)
    if SOURCE is not None and not list(SOURCE.glob("*.ipynb")):
        parser.error(f"--notebooks {args.notebooks}: no .ipynb file there")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    try:
        if args.profile:
            profile(work, env)
            return 0
        if args.breakdown:
            breakdown(args.breakdown.split(","), work, env, args.rounds)
            return 0
        if args.timeline:
            for way in args.timeline.split(","):
                timeline = Timeline()
                seconds = run_way(way, work / way, env, timeline)
                timeline.print(f"{way} ({seconds:.2f}s)", len(os.sched_getaffinity(0)))
            return 0
        if args.seed:
            return seed(work, env, args.rounds)
        ways = [w for w in args.ways.split(",") if w]
        unknown = [w for w in ways if w not in WAYS + MORE_WAYS and not (w.startswith("jobs") and "@" in w)]
        if unknown:
            parser.error(f"--ways: unknown {', '.join(unknown)}")
        missing = [w for w in ways if not w.startswith("jobs") and not (BIN / _tool(w)).exists()]
        if missing:
            print(f"skipping {', '.join(missing)}: pip install -c .setup/constraints.txt -e '.[benchmark]'")
            ways = [w for w in ways if w not in missing]
        if "nbconvert" not in ways and (BIN / _tool("nbconvert")).exists():
            ways.append("nbconvert")  # the floor comes from its runs
        times: dict[str, list[float]] = {way: [] for way in ways}
        floors = []
        for round_ in range(args.rounds):
            for way in ways:
                root = work / f"{round_}-{way}"
                seconds = run_way(way, root, env)
                if way == "nbconvert":
                    floors.append(round_floor(root))
                shutil.rmtree(root, ignore_errors=True)
                times[way].append(seconds)
                print(f"round {round_ + 1} {way:>12}: {seconds:.2f}s  (1-minute load after: {os.getloadavg()[0]:.2f})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(times, floors)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def seed(work: Path, env: dict, rounds: int) -> int:
    print("filling the machine's model cache (untimed: 01_model, which converts only if it is empty)", flush=True)
    seed_run(work / "warmup", env, ("01_model",))
    runs = []
    for round_ in range(rounds):
        runs.append(seed_run(work / f"seed-{round_}", env))
        shutil.rmtree(work / f"seed-{round_}", ignore_errors=True)
        seconds, own, cells = runs[-1]
        print(f"round {round_ + 1}: {seconds:.2f}s; experiments' own times {own:.2f}s ({seconds / own:.2f}x), "
              f"their cells {cells:.2f}s ({seconds / cells:.2f}x); 1-minute load after: {os.getloadavg()[0]:.2f}", flush=True)
    wall, own, cells = (statistics.median(r[i] for r in runs) for i in range(3))
    ratio = statistics.median(r[0] / r[1] for r in runs)
    print(f"\nseed study, medians of {rounds} rounds: {wall:.2f}s; the experiments' own times {own:.2f}s, "
          f"their cells {cells:.2f}s")
    print(f"  wall / own times: {ratio:.2f}x  (goal: at most 1.1x: {'met' if ratio <= 1.1 else 'NOT met'}); "
          f"wall / cell times: {statistics.median(r[0] / r[2] for r in runs):.2f}x")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _tool(way: str) -> str:
    return {"nbconvert": "jupyter-nbconvert", "papermill": "papermill"}.get(way, "jcache")


if __name__ == "__main__":
    sys.exit(main())
