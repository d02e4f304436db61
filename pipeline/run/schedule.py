"""The order experiments run in, and running several at once (``--jobs``).

An experiment may say it runs after others (``pipeline: after: [01_model]`` in its
Jupytext header or notebook metadata); that order holds, in serial and parallel
runs alike, and an experiment whose predecessor failed is not run. Otherwise the
configured order (``order``, then by name) decides, except that with N > 1 jobs the
longest start first (``longest_first``: the durations the cache recorded, else the cell
timings an executed notebook carries, so that the jobs finish together instead of one long
experiment starting last). Up to N experiments run at once, each in its own kernel (threads
here: the work is in the kernels); their math libraries share the cores through a
``pipeline.run.threads.ThreadBudget``, which ``run_all`` tells (``changed``) which experiments
run and how many wait. ``--jobs auto`` (``auto_jobs``) takes as many kernels as there are cores,
no more than the experiments can run at once (``width``: ``after`` chains run one by one) and
than the memory available holds. With ``--fail-fast`` the first failure stops the rest: nothing
new starts and the kernels still running are shut down.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import Callable

from pipeline.errors import ExperimentFormatError
from pipeline.records import Experiment, Failure


class Stop:
    """Shared by the workers: set when --fail-fast (or Ctrl-C) stops everything. Running kernels
    register a *kill* that only ends the kernel; the thread that owns the session then sees it
    die and cleans up itself (a session is never torn down from another thread)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._kills: dict[int, Callable[[], None]] = {}
        self._lock = threading.Lock()

    def register(self, key: int, kill: Callable[[], None]) -> None:
        with self._lock:
            self._kills[key] = kill
            stopped = self.event.is_set()
        if stopped:  # registered after the stop: end it at once
            kill()

    def unregister(self, key: int) -> None:
        with self._lock:
            self._kills.pop(key, None)

    def set(self) -> None:
        with self._lock:
            self.event.set()
            kills = list(self._kills.values())
        for kill in kills:
            kill()

    def __bool__(self) -> bool:
        return self.event.is_set()


def check_order(experiments: list[Experiment], known: set[str]) -> None:
    """``after`` names real experiments and makes no cycle."""
    by_name = {e.name: e for e in experiments}
    for experiment in experiments:
        for name in experiment.after:
            if name not in known:
                raise ExperimentFormatError(f"{experiment.source}: runs after {name!r}, which is no experiment; "
                                            f"fix 'after' in its header or metadata (known: {', '.join(sorted(known))})")
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2 or name not in by_name:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise ExperimentFormatError(f"{by_name[name].source}: 'after' makes a cycle ({' -> '.join(cycle)}); "
                                        "remove one of them")
        state[name] = 1
        for before in by_name[name].after:
            visit(before, path + [name])
        state[name] = 2

    for experiment in experiments:
        visit(experiment.name, [])


def not_run(experiment: Experiment, why: str) -> Failure:
    """The report of an experiment that was not run, and why."""
    return Failure(source=experiment.source, cell_index=None, lines=None, ename="NotRun", evalue=f"not run: {why}",
                   traceback="", failed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def closing_loops(function: Callable) -> Callable:
    """*function* for a thread of its own: nbclient's synchronous calls leave an asyncio loop set on
    the thread; close it when the call ends (a reused worker makes a new one)."""
    import asyncio

    def run(*args):
        try:
            return function(*args)
        finally:
            try:
                loop = asyncio.get_event_loop_policy().get_event_loop()
            except RuntimeError:  # this thread never had one
                loop = None
            if loop is not None and not loop.is_running():
                loop.close()
                asyncio.set_event_loop(None)

    return run


#: a line that runs ``%timeit`` or ``%%timeit``: at least 7 repeats of loops auto-ranged to 0.2 s
TIMEIT = re.compile(r"^\s*%%?timeit\b", re.MULTILINE)
TIMEIT_SECONDS = 2.0
#: seconds per code cell when nothing better is known (only the order matters then)
CELL_SECONDS = 0.1


def cell_seconds(cell) -> float | None:
    """How long *cell* took when its notebook was last run, where the notebook says so: nbclient's
    and JupyterLab's execution timestamps, papermill's duration, Colab's ``executionInfo.elapsed``."""
    meta = cell.get("metadata") or {}
    try:
        timing = meta.get("execution") or {}
        if timing.get("iopub.execute_input") and timing.get("shell.execute_reply"):
            began, ended = (datetime.fromisoformat(timing[k]) for k in ("iopub.execute_input", "shell.execute_reply"))
            return max(0.0, (ended - began).total_seconds())
        papermill = (meta.get("papermill") or {}).get("duration")
        if isinstance(papermill, (int, float)):
            return max(0.0, float(papermill))
        elapsed = (meta.get("executionInfo") or {}).get("elapsed")
        if isinstance(elapsed, (int, float)):
            return max(0.0, elapsed / 1000)
    except (AttributeError, TypeError, ValueError, OverflowError):
        pass
    return None


def estimates(experiments: list[Experiment], durations: dict[str, float]) -> dict[str, float]:
    """Seconds each experiment is expected to run: its last recorded duration; for one never run
    here, the sum over its code cells of the time the notebook itself recorded for the cell, else
    the recorded seconds per code cell here (``CELL_SECONDS`` when none is recorded), plus
    ``TIMEIT_SECONDS`` per ``%timeit``."""
    code = {e.name: [c for c in e.notebook.cells if c.cell_type == "code"] for e in experiments}
    known = {e.name: durations[e.name] for e in experiments if durations.get(e.name) is not None}
    rates = sorted(known[name] / max(1, len(code[name])) for name in known)
    rate = rates[len(rates) // 2] if rates else CELL_SECONDS

    def guess(cell) -> float:
        seconds = cell_seconds(cell)
        return seconds if seconds is not None else rate + TIMEIT_SECONDS * len(TIMEIT.findall(cell.source))

    return {name: known.get(name, sum(map(guess, cells)) or rate) for name, cells in code.items()}


def longest_first(experiments: list[Experiment], durations: dict[str, float]) -> list[Experiment]:
    """The experiments in the order ``--jobs N`` should start them so that they finish together:
    the longest chain first (an experiment's expected time plus the longest chain of those that
    run ``after`` it), ties in the configured order."""
    expected = estimates(experiments, durations)
    followers: dict[str, list[str]] = {e.name: [] for e in experiments}
    for experiment in experiments:
        for name in experiment.after:
            if name in followers:
                followers[name].append(experiment.name)
    chain: dict[str, float] = {}

    def length(name: str) -> float:
        if name not in chain:
            chain[name] = expected[name] + max((length(f) for f in followers[name]), default=0.0)
        return chain[name]

    position = {e.name: i for i, e in enumerate(experiments)}
    return sorted(experiments, key=lambda e: (-length(e.name), position[e.name]))


def run_all(experiments: list[Experiment], jobs: int, work: Callable[[Experiment, int], object],
            fail_fast: bool, stop: Stop, outcome_of_blocked: Callable[[Experiment, Failure], object],
            order: list[Experiment] | None = None,
            upcoming: Callable[[list[Experiment]], None] | None = None,
            changed: Callable[[list[str], int], None] | None = None) -> list:
    """Run ``work(experiment, position)`` for each experiment, honouring ``after`` and *jobs*,
    starting them in *order* when given (``longest_first``). *upcoming* is told, whenever
    experiments start, which ones are next in line (those whose predecessors are done or
    running), so that their kernels can start early. *changed* is told, whenever experiments start
    or end, which run (in the order they started) and how many are ready to start.
    Returns the outcomes in experiment order (those never started are left out)."""
    selected = {e.name for e in experiments}
    position = {e.name: i for i, e in enumerate(experiments, 1)}
    done: dict[str, object] = {}
    failed: set[str] = set()
    pending = list(order or experiments)
    started: set[str] = set()

    def ready(experiment: Experiment) -> bool:
        return all(name in done or name not in selected for name in experiment.after)

    def tell_upcoming() -> None:
        if upcoming is not None:
            upcoming([e for e in pending if all(n in started or n not in selected for n in e.after)
                      and not any(n in failed for n in e.after)])

    def record(experiment: Experiment, outcome) -> None:
        done[experiment.name] = outcome
        if getattr(outcome, "failure", None) is not None:
            failed.add(experiment.name)
            if fail_fast:
                stop.set()

    def next_ready() -> Experiment | None:
        for experiment in pending:
            if ready(experiment):
                blocker = next((name for name in experiment.after if name in failed), None)
                if blocker:
                    pending.remove(experiment)
                    record(experiment, outcome_of_blocked(experiment, not_run(experiment, f"it runs after {blocker}, which failed")))
                    return next_ready()
                pending.remove(experiment)
                started.add(experiment.name)
                return experiment
        return None

    if jobs <= 1:
        while pending and not stop:
            experiment = next_ready()
            if experiment is None:
                break
            tell_upcoming()
            if changed is not None:
                changed([experiment.name], 0)
            record(experiment, work(experiment, position[experiment.name]))
    else:
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="experiment")
        running: dict = {}
        try:
            while (pending or running) and not (stop and not running):
                while len(running) < jobs and not stop:
                    experiment = next_ready()
                    if experiment is None:
                        break
                    running[pool.submit(closing_loops(work), experiment, position[experiment.name])] = experiment
                tell_upcoming()
                if changed is not None:
                    changed([e.name for e in running.values()],
                            sum(1 for e in pending if ready(e) and not any(n in failed for n in e.after)))
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(running.pop(future), future.result())
        except BaseException:  # Ctrl-C: the kernels run in sessions of their own and never saw it
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)  # the killed kernels end their workers quickly
            raise
        pool.shutdown(wait=True)
    return [done[e.name] for e in experiments if e.name in done]


def width(experiments: list[Experiment]) -> int:
    """The most of *experiments* that can run at once: the largest set of which none runs ``after``
    another, directly or through others (Dilworth: their number less a maximum matching of the
    "runs before" relation)."""
    names = {e.name for e in experiments}
    before: dict[str, set[str]] = {e.name: {n for n in e.after if n in names} for e in experiments}
    closure: dict[str, set[str]] = {}

    def earlier(name: str) -> set[str]:
        if name not in closure:
            closure[name] = set()
            for other in before[name]:
                closure[name] |= {other} | earlier(other)
        return closure[name]

    match: dict[str, str] = {}  # later experiment -> the earlier one matched to it

    def augment(name: str, seen: set[str]) -> bool:
        for later in (n for n in names if name in earlier(n)):
            if later not in seen:
                seen.add(later)
                if later not in match or augment(match[later], seen):
                    match[later] = name
                    return True
        return False

    return len(names) - sum(augment(name, set()) for name in sorted(names))


#: memory counted for each kernel ``--jobs auto`` starts (a kernel with the scientific stack loaded
#: takes a few hundred MB; experiments that train or load models take more)
KERNEL_MEMORY = 2 << 30


def auto_jobs(experiments: list[Experiment], cores: int, memory: int | None) -> tuple[int, str]:
    """``(jobs, why)`` for ``--jobs auto``: one kernel per core, no more than *experiments* can run at
    once, nor than the *memory* available (bytes; None where unknown) holds at ``KERNEL_MEMORY`` each."""
    cores, wide = max(1, cores), max(1, width(experiments))
    fits = max(1, memory // KERNEL_MEMORY) if memory is not None else None
    jobs = min(n for n in (cores, wide, fits) if n is not None)
    why = [f"{cores} core{'s' if cores > 1 else ''}", f"{wide} of {len(experiments)} experiments can run at once"]
    if fits is not None:
        why.append(f"{memory / (1 << 30):.1f} GiB available holds {fits} at {KERNEL_MEMORY >> 30} GiB each")
    return jobs, f"--jobs auto: {jobs} at once ({'; '.join(why)})"
