"""Execution engines: where an experiment's kernel starts, how it runs the notebook, when it closes.

One interface (``Engine``: ``begin``, ``run``, ``finished``, ``check``, ``close``) for every kind of kernel,
as papermill keeps one engine per way of running a notebook; ``execute`` only calls it, and
``engine_for`` picks one from the config:

- ``LocalKernels`` (here): a fresh local kernel per experiment, shut down behind it (``Closing``);
- ``pipeline.run.prestart.Prestarter``: the same, with the next experiments' kernels started ahead
  (``tool.pipeline.prestart``);
- ``pipeline.run.gateway.GatewayKernels``: a fresh kernel per experiment on a Jupyter gateway; the
  cache key's environment is what the gateway's kernels report;
- ``pipeline.run.warm.WarmKernels``: preview's kernels kept alive between edits (not clean: its
  results never reach the cache).

Each lives beside the sessions it makes; adding an engine is adding one class with these methods
(and a line in ``pipeline.run.execute.engine_for`` when the config picks it).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any, Callable

from pipeline.config import Config
from pipeline.progress import Progress
from pipeline.records import Experiment, Failure
from pipeline.run.schedule import Stop, closing_loops
from pipeline.run.sessions import KernelSession, run_clean
from pipeline.run.threads import ThreadBudget, sets_own_threads


@dataclass(frozen=True)
class Run:
    """What running an experiment produced: the notebook, the first failure (or None), what the
    kernel said about itself (``python``, ``packages``), and how: "executed" (every cell in a
    fresh kernel, clean) or "warm" (some cells re-run in a kernel kept alive; never cached)."""

    notebook: Any
    failure: Failure | None
    probe: dict
    mode: str = "executed"


class Engine:
    """The interface ``execute`` calls; the base class runs nothing itself."""

    #: every cell runs in a fresh kernel: the results may be cached
    clean = True
    #: the most experiments it runs at once (None: as many as --jobs says)
    max_jobs: int | None = None
    #: its kernels run elsewhere: the cache key's environment is theirs (``environment``), not this machine's
    remote = False
    #: the budget its kernels' math threads follow (``pipeline.run.threads``), None: none
    budget: ThreadBudget | None = None
    #: told whenever experiments start or end (the running ones in the order they started, how many are
    #: ready): the budget's ``update``, or None
    changed: Callable[[list[str], int], None] | None = None

    def __init__(self, config: Config, secrets: list[str]):
        self.config = config
        self.secrets = secrets
        #: where its kernels run, as ``ExecutionInfo.host`` and the progress line say it
        self.host = self.where = "local"
        #: the run's ``Stop`` (--fail-fast, Ctrl-C): a kernel registers with it while it runs
        self.halt: Stop | None = None
        #: this run's experiments, and those another one runs ``after`` (their kernel may leave files at exit)
        self.selected: set[str] = set()
        self.followed: set[str] = set()


    def environment(self, base: dict, progress: Progress) -> dict:
        """The part of every cache key that does not depend on the experiment where its kernels run (a
        ``remote`` engine's; *base*: this machine's)."""
        return base

    def spare(self) -> None:
        """A kernel may start now, before the experiments are known (``execute --force``)."""

    def begin(self, experiments: list[Experiment], to_run: list[Experiment], jobs: int, stop: Stop) -> None:
        """Before the first run: this call's *experiments*, those that will run (in order), how many at once."""
        self.halt = stop
        self.selected = {e.name for e in experiments}
        self.followed = {name for e in experiments for name in e.after}
        if self.budget is not None:
            self.budget.jobs = jobs  # --jobs auto is decided by now
            self.budget.start()
        self.prepare(to_run, jobs)

    def prepare(self, to_run: list[Experiment], jobs: int) -> None:
        """What the engine does before the first run (``begin`` has recorded the run's facts)."""

    def run(self, experiment: Experiment, progress: Progress) -> Run:
        raise NotImplementedError

    def upcoming(self, waiting: list[Experiment]) -> None:
        """The experiments now waiting for a job, in order (their kernels may start ahead)."""


    def finished(self, name: str) -> None:
        """*name* has finished, whatever the outcome."""

    def check(self) -> None:
        """Raises when the build must publish nothing after all (preview stopping); else nothing."""

    def close(self) -> None:
        """Shut down whatever the engine still holds (its own threads included)."""


class Closing:
    """Sessions shutting down in the background; ``join`` waits for them all."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def __call__(self, session: KernelSession) -> None:
        thread = threading.Thread(target=closing_loops(session.close), name="kernel-close", daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()
        self.threads.clear()


class LocalKernels(Engine):
    """A fresh local kernel per experiment; its math libraries follow its share of the *budget*
    (``pipeline.run.threads``), or start with *threads*; a kernel no experiment runs ``after`` shuts
    down in the background."""

    def __init__(self, config: Config, secrets: list[str], threads: int | None = None,
                 budget: ThreadBudget | None = None):
        super().__init__(config, secrets)
        self.threads = threads  # the threads a kernel starts with (KernelSession.threads) where there is no budget
        self.budget = budget
        self.changed = budget.update if budget is not None else None
        self.closing = Closing()

    def session(self, experiment: Experiment | None) -> KernelSession:
        session = KernelSession(experiment, self.config, self.secrets)
        session.threads = self.budget.start_share() if self.budget is not None else self.threads
        session.follows_budget = self.budget is not None
        return session

    def run(self, experiment: Experiment, progress: Progress) -> Run:
        """Every cell in a fresh kernel (``pipeline.run.sessions``). A stop (--fail-fast after another
        experiment failed) shuts the kernel down and reports the experiment as stopped."""
        session, stop, budget = self.session(experiment), self.halt, self.budget

        def started() -> None:
            if stop is not None:
                stop.register(id(session), session.kill)
            if budget is not None and session.share_file is not None and not sets_own_threads(experiment):
                budget.attach(experiment.name, session.share_file)

        session.on_start = started
        close_behind = self.closing if experiment.name not in self.followed else None
        try:
            nb, problem, probe = run_clean(session, experiment, progress, close_behind)
        finally:
            if stop is not None:
                stop.unregister(id(session))
            if budget is not None:
                budget.detach(experiment.name)
        if stop and problem is not None and problem.ename in ("DeadKernelError", "CellExecutionError", "KernelStartError"):
            problem = dataclasses.replace(problem, ename="Stopped", traceback="",
                                          evalue="stopped: another experiment failed and --fail-fast was given")
        return Run(nb, problem, probe)

    def close(self) -> None:
        if self.budget is not None:
            self.budget.close()
        self.closing.join()
