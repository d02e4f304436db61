"""The cores each running experiment's math libraries may use under ``--jobs N``: a budget that
follows the work, so that no core idles while an experiment could use it and none is oversubscribed.

Several kernels whose math libraries (OpenBLAS, MKL, OpenMP, torch) each run as many threads as
there are cores wait on each other: on two cores, jupyter-cache's ``local-parallel`` took 3.3x as
long as with one thread per kernel. A fixed share (cores // N) avoids that but leaves a core idle
once the short experiments have ended and a long one runs on alone. So the share follows the work:

- the cores are divided among the experiments running and those ready to start (they take the
  cores an ending experiment frees, so a running kernel is not raised only to be lowered a moment
  later, while its cell still holds the extra threads); what does not divide evenly goes to the
  experiments that started first (the longest, ``schedule.longest_first``);
- a kernel starts with the share it would get (the usual ``OMP_NUM_THREADS``-style variables, so
  that a library loaded later starts there), and its current share is written to a file of its
  runtime folder whenever it changes; the kernel applies it before each cell
  (``pipeline.kernel_extension.ThreadLimits``: threadpoolctl and ``torch.set_num_threads``), so
  limits change between cells, never inside one;
- the cores other processes keep busy are not ours to give (``MachineLoad``): a kernel is raised
  only onto a core that is really free. Two OpenMP threads where another program holds one of
  the cores spend their time waiting for each other (on a 2-core machine another engineer was
  using, a gradient-boosting fit took 0.38 s with one thread and 1.83 s with two);
- left alone: a run where the user set one of those variables (their values hold, as before), a
  gateway's kernels (their cores are not ours), an experiment whose code sets thread counts
  itself (``sets_own_threads``; it keeps the share it started with), and in a kernel any library
  whose limit a cell changed.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from pipeline.records import Experiment

#: what OpenMP, OpenBLAS, MKL and torch read for their thread count at start (a value the user set wins)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: the environment variable naming a kernel's share file (read by ``pipeline.kernel_extension``)
SHARE_FILE = "PIPELINE_THREADS_FILE"
#: code that sets thread counts: torch's setters, threadpoolctl's limits, a thread variable set
#: (``environ["OMP_NUM_THREADS"] = ...``, ``putenv("MKL_NUM_THREADS", ...)``, ``update({"...": ...})``)
_OWN_THREADS = re.compile(r"set_num_(interop_)?threads\s*\(|threadpool_limits|ThreadpoolController"
                          r"|_NUM_THREADS['\"]\s*(\]\s*=(?!=)|[,:])")


def user_set_threads(environ: dict[str, str] | None = None) -> bool:
    """Whether the user set any thread variable (then thread counts are theirs)."""
    environ = os.environ if environ is None else environ
    return any(name in environ for name in THREAD_VARIABLES)


def kernel_variables(threads: int | None, share_file: Path | None,
                     environ: dict[str, str] | None = None) -> dict[str, str]:
    """What a kernel's environment gets: the threads its math libraries start with (a variable the
    user set wins) and, under a budget, where it reads its share. OpenMP's wait policy is left as it
    is: with ``OMP_WAIT_POLICY=PASSIVE`` a gradient-boosting fit on two threads took 6.3 s on a quiet
    machine against 1.6 s spinning (and 2.2 s on one thread); spinning threads only lose where another
    program takes a core, which is why shares never count the cores others use (``MachineLoad``)."""
    environ = os.environ if environ is None else environ
    found = {name: str(threads) for name in THREAD_VARIABLES if threads and name not in environ}
    if share_file is not None:
        found[SHARE_FILE] = str(share_file)
    return found


def sets_own_threads(experiment: Experiment) -> bool:
    """Whether some code cell of *experiment* sets thread counts itself."""
    return any(c.cell_type == "code" and _OWN_THREADS.search(c.source) for c in experiment.notebook.cells)


class MachineLoad:
    """The cores this machine's other processes keep busy (all but this one and its descendants,
    the kernels), over the last *window* seconds; sampled every *step* seconds by a thread of its own
    (``start``, ``close``), which calls *on_sample* after each sample. Where it cannot be measured
    (no psutil, no /proc), nothing counts as busy."""

    def __init__(self, on_sample: Callable[[], None] | None = None, step: float = 0.5, window: float = 2.0):
        self.on_sample = on_sample
        self.step = step
        self.samples: deque[tuple[float, float, float]] = deque(maxlen=max(2, round(window / step) + 1))
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="machine-load", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()

    def others(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, busy0, ours0), (t1, busy1, ours1) = self.samples[0], self.samples[-1]
        return max(0.0, ((busy1 - busy0) - (ours1 - ours0)) / max(t1 - t0, 1e-6))

    def _run(self) -> None:
        try:
            import psutil

            cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            me = psutil.Process()
        except (ImportError, OSError):
            return
        while not self.stopped.wait(self.step):
            try:
                self.samples.append((time.monotonic(), _busy(psutil, cpus), _ours(psutil, me)))
            except (psutil.Error, OSError):
                continue
            if self.on_sample is not None:
                self.on_sample()


def _busy(psutil, cpus: list[int] | None) -> float:
    """CPU seconds the cores this process may use have spent busy (not idle, not waiting on I/O)."""
    times = psutil.cpu_times(percpu=True)
    chosen = [times[i] for i in cpus if i < len(times)] if cpus else times
    return sum(sum(t) - t.idle - getattr(t, "iowait", 0.0) for t in chosen)


def _ours(psutil, me) -> float:
    """CPU seconds this process and its descendants have used: those running, and those ended
    (counted in their parent's children times once it has waited for them)."""
    own = os.times()
    total = own.user + own.system + own.children_user + own.children_system
    for child in me.children(recursive=True):
        try:
            cpu = child.cpu_times()
        except psutil.Error:
            continue
        total += cpu.user + cpu.system + cpu.children_user + cpu.children_system
    return total


class ThreadBudget:
    """The cores shared among the experiments running at once. ``update`` (from the scheduler) says
    which run and how many are ready to start; ``attach`` gives a running experiment's kernel its
    share file; *load* says how many cores other processes keep busy (``MachineLoad.others``;
    ``start`` samples it). Thread-safe."""

    def __init__(self, cores: int, jobs: int, load: MachineLoad | None = None):
        self.cores = max(1, cores)
        self.jobs = max(1, jobs)
        self.load = load
        self._files: dict[str, Path] = {}
        self._running: list[str] = []
        self._waiting = 0
        self._written: dict[str, int] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Follow the machine's load: shares are recomputed after each sample."""
        if self.load is not None:
            self.load.on_sample = self.refresh
            self.load.start()

    def close(self) -> None:
        if self.load is not None:
            self.load.close()

    def start_share(self) -> int:
        """The threads a kernel starts with: its share when every job runs."""
        return max(1, self.cores // self.jobs)

    def shares(self) -> dict[str, int]:
        """Running experiment -> its threads now."""
        with self._lock:
            return self._shares()

    def update(self, running: list[str], waiting: int) -> None:
        """*running*: the experiments started and not yet done, in the order they started; *waiting*:
        how many more are ready to start (their predecessors done)."""
        with self._lock:
            self._running, self._waiting = list(running), waiting
            self._write()

    def refresh(self) -> None:
        with self._lock:
            self._write()

    def attach(self, name: str, path: Path) -> None:
        """Experiment *name* runs in the kernel that reads *path* before each cell."""
        with self._lock:
            self._files[name] = path
            self._written.pop(name, None)
            self._write()

    def detach(self, name: str) -> None:
        with self._lock:
            self._files.pop(name, None)
            self._written.pop(name, None)

    def _shares(self) -> dict[str, int]:
        slots = max(1, min(self.jobs, len(self._running) + self._waiting), len(self._running))
        others = self.load.others() if self.load is not None else 0.0
        free = min(self.cores, int(self.cores - others + 0.3))  # a core others use under 0.3 of counts as free
        base, extra = divmod(max(free, len(self._running)), slots)
        return {name: max(1, base + (i < extra)) for i, name in enumerate(self._running)}

    def _write(self) -> None:
        for name, share in self._shares().items():
            path = self._files.get(name)
            if path is None or self._written.get(name) == share:
                continue
            try:
                partial = path.with_name(path.name + ".partial")
                partial.write_text(str(share), encoding="ascii")
                os.replace(partial, path)  # the kernel reads a whole number, never half of one
            except OSError:  # the kernel's folder is gone: it has ended
                continue
            self._written[name] = share
