"""What ``bench_cold.py`` runs and how it judges the runs: the notebook sets, the floor, a CPU timeline.

Sets (each written as ``.ipynb`` files into a folder, so that every way runs the same files):

- ``written``: three notebooks of unequal length (150, 70 and 6 code cells of numeric work:
  NumPy linear algebra, pure-Python loops, a matplotlib figure; no sleeps), generated here;
- ``tutorial``: ``tutorial_ja/``, three Japanese tutorial notebooks of very unequal length
  (about 17 s, 2 s and 0.5 s of cell time on one core: pandas, matplotlib and scikit-learn; in the
  long one a random forest on one thread, histogram gradient boosting and k-means on OpenMP
  threads, BLAS through NumPy and SciPy), Jupytext percent scripts converted here;
- any folder of ``.ipynb`` files (``--notebooks DIR``).

The floor of a set: no way of running it can end sooner than the longest chain of notebooks
(a notebook plus those that run ``after`` it) takes with every core free, nor sooner than all
the cell time divided by the cores. ``floor`` takes both from notebooks executed one at a time
by nbconvert (a cold kernel each, nothing else running, no thread limits): the time of each cell
from its nbclient timestamps.

``Timeline`` samples, while a command runs, how many cores each of its kernels and the whole
machine keep busy: where a core idles while a kernel still works, the run is not work-conserving.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
TUTORIAL = HERE / "tutorial_ja"
LENGTHS = {"01_long": 150, "02_medium": 70, "03_short": 6}

FIRST = "import numpy as np\nimport matplotlib\nimport matplotlib.pyplot as plt\nrng = np.random.default_rng({seed})"
WORK = [  # about 40 ms each on one core of the reference machine
    "a = rng.normal(size=(700, 700))\nb = a @ a.T\nprint(round(float(np.linalg.eigvalsh(b)[-1]), 3))",
    "total = 0\nfor i in range(600_000):\n    total += (i * i) % 7\nprint(total)",
    "x = rng.normal(size=2_000_000)\nprint(round(float(np.sort(x)[len(x) // 2]), 4), round(float(x.std()), 4))",
    "words = [str(i) * 3 for i in range(200_000)]\ncounts = {}\nfor w in words:\n    counts[w[-1]] = counts.get(w[-1], 0) + 1\n"
    "print(sorted(counts.items())[:3])",
]
FIGURE = "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(np.cumsum(rng.normal(size=500)))\nplt.show()"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_set(name: str, folder: Path, source: Path | None = None) -> list[Path]:
    """The notebooks of set *name* (``written``, ``tutorial``) or of the folder *source*, as .ipynb in *folder*."""
    folder.mkdir(parents=True, exist_ok=True)
    if source is not None:
        return [Path(shutil.copy(p, folder / p.name)) for p in sorted(source.glob("*.ipynb"))]
    if name == "tutorial":
        import jupytext

        paths = []
        for script in sorted(TUTORIAL.glob("*.py")):
            nb = jupytext.read(script)
            nb.metadata["kernelspec"] = KERNELSPEC
            nbformat.write(nb, str(folder / f"{script.stem}.ipynb"))
            paths.append(folder / f"{script.stem}.ipynb")
        return paths
    paths = []
    for n, (stem, length) in enumerate(LENGTHS.items()):
        sources = [FIRST.format(seed=n)] + [WORK[i % len(WORK)] for i in range(length - 1)]
        if length > 10:
            sources[length // 2] = FIGURE
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {stem}")] +
                                      [nbformat.v4.new_code_cell(s) for s in sources])
        nb.metadata["kernelspec"] = KERNELSPEC
        nbformat.write(nb, str(folder / f"{stem}.ipynb"))
        paths.append(folder / f"{stem}.ipynb")
    return paths


def windows(cells: list[dict]) -> list[tuple[float, float]]:
    """``(start, end)`` of each code cell that ran, from nbclient's timestamps (execute_input to reply)."""
    found = []
    for cell in cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.get("cell_type", "code") == "code" and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            found.append(tuple(datetime.fromisoformat(timing[k].replace("Z", "+00:00")).timestamp()
                               for k in ("iopub.execute_input", "shell.execute_reply")))
    return found


def cell_time(nb: dict) -> float:
    """Seconds the code cells of an executed notebook took, from nbclient's timestamps."""
    return sum(end - start for start, end in windows(nb["cells"]))


def floor(executed: dict[str, Path], cores: int) -> tuple[float, float, float]:
    """``(floor, longest chain, total / cores)`` from notebooks executed one at a time
    (name -> executed .ipynb); a notebook's ``pipeline.after`` metadata makes the chains."""
    notebooks = {name: json.loads(path.read_text(encoding="utf-8")) for name, path in executed.items()}
    own = {name: cell_time(nb) for name, nb in notebooks.items()}
    after = {name: [a for a in (nb["metadata"].get("pipeline") or {}).get("after", []) if a in own]
             for name, nb in notebooks.items()}
    chains: dict[str, float] = {}

    def chain(name: str) -> float:  # the notebook and the longest chain it waits for
        if name not in chains:
            chains[name] = own[name] + max((chain(a) for a in after[name]), default=0.0)
        return chains[name]

    longest = max(map(chain, own), default=0.0)
    spread = sum(own.values()) / cores
    return max(longest, spread), longest, spread


class Timeline:
    """Samples, every *step* seconds while a command runs, the cores each of its kernels keeps busy
    (user and system time, all its threads) and the cores the whole machine keeps busy."""

    def __init__(self, step: float = 0.5):
        import psutil

        self.psutil = psutil
        self.step = step
        self.rows: list[tuple[float, float, dict[int, float]]] = []
        self.kernels: dict[int, tuple[object, float]] = {}  # pid -> (process, cpu seconds at the last sample)
        self.order: list[int] = []
        self.stopped = threading.Event()

    def watch(self, pid: int) -> None:
        self.root = self.psutil.Process(pid)
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()

    def _sample(self) -> None:
        psutil = self.psutil
        before, last = psutil.cpu_times(), time.monotonic()
        while not self.stopped.wait(self.step):
            try:
                children = self.root.children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                try:
                    if child.pid not in self.kernels and "ipykernel" in " ".join(child.cmdline()):
                        self.kernels[child.pid] = (child, 0.0)
                        self.order.append(child.pid)
                except psutil.Error:
                    pass
            now, times = time.monotonic(), psutil.cpu_times()
            elapsed = now - last
            busy = ((sum(times) - times.idle) - (sum(before) - before.idle)) / elapsed
            used: dict[int, float] = {}
            for pid, (process, seen) in list(self.kernels.items()):
                try:
                    cpu = process.cpu_times()
                    total = cpu.user + cpu.system
                except psutil.Error:
                    continue
                used[pid] = (total - seen) / elapsed
                self.kernels[pid] = (process, total)
            self.rows.append((now - self.started, busy, used))
            before, last = times, now

    def print(self, label: str, cores: int, lines: int = 40) -> None:
        """About *lines* lines: the time, the cores the machine and each kernel (K1, K2... in the order
        they started) kept busy, averaged over the samples in between; then the idle core-seconds
        while some kernel still worked."""
        names = {pid: f"K{i}" for i, pid in enumerate(self.order, 1)}
        print(f"\n{label}: cores busy over time (the machine; each kernel)")
        idle = sum(max(0.0, cores - busy) * self.step for _, busy, used in self.rows if any(u > 0.05 for u in used.values()))
        group = max(1, -(-len(self.rows) // lines))
        for first in range(0, len(self.rows), group):
            rows = self.rows[first:first + group]
            busy = sum(r[1] for r in rows) / len(rows)
            used = {pid: sum(r[2].get(pid, 0.0) for r in rows) / len(rows) for pid in names}
            working = "  ".join(f"{names[pid]} {u:.1f}" for pid, u in used.items() if u > 0.05)
            print(f"  {rows[-1][0]:6.1f}s  machine {busy:.1f}  {working}")
        print(f"  idle core-seconds while a kernel worked: {idle:.1f}")
