"""Warm kernels for ``pipeline preview``: re-run an experiment from its first changed cell.

Each experiment's kernel stays alive after it runs. When code changes, the cells
before the first changed one (the model load, for example) are not run again:
their outputs are kept and the changed cell and everything after it run in the
same kernel. The kernel is started afresh (every cell runs, a clean run) when:

- the first code cell changed (there is nothing to keep);
- the configuration, model settings, package versions, this package's helpers
  or the experiment's data files changed (the environment part of the cache key);
- the kernel died, or its last run stopped before the changed cell;
- it was evicted: at most ``preview.max_kernels`` stay alive, least recently used first.

A markdown-only edit runs nothing. Results of a partial re-run are marked
``mode="warm"``: the page says it is not a clean run, and they never reach the
cache that ``build`` uses.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field

from pipeline.config import Config
from pipeline.progress import Progress
from pipeline.records import Experiment
from pipeline.run.cache import EXECUTION_TAGS, environment_parts, key_parts
from pipeline.run.engines import Engine, Run
from pipeline.run.sessions import KernelSession, KernelStartFailed


class Stopped(Exception):
    """The preview is shutting down: the rebuild in progress publishes nothing."""


@dataclass
class _Warm:
    session: KernelSession
    environment: str
    ran: list[tuple] = field(default_factory=list)  # (source, execution tags) of the code cells, as last run
    cells: list = field(default_factory=list)  # the code cells after that run (outputs included)
    ok: int = 0  # how many code cells, from the first, ran without failing
    used: float = 0.0
    probe: tuple = ((), {})  # (imported modules, what the kernel said about them)


def _signature(nb) -> list[tuple]:
    return [(c.source, tuple(sorted(t for t in c.metadata.get("tags", []) if t in EXECUTION_TAGS)))
            for c in nb.cells if c.cell_type == "code"]


class WarmKernels(Engine):
    """The live kernels of a preview session, an engine (``pipeline.run.engines``) that outlives each
    ``execute``: the preview closes it. One experiment at a time; never clean (nothing is cached)."""

    clean = False
    max_jobs = 1

    def __init__(self, config: Config, secrets: list[str], max_kernels: int = 2):
        super().__init__(config, secrets)
        self.max_kernels = max(1, max_kernels)
        self.kernels: dict[str, _Warm] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.restarts = 0
        self.reruns = 0

    def _environment(self, experiment: Experiment) -> str:
        parts = key_parts(experiment, self.config, environment_parts(self.config))
        parts.pop("cells")
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def first_to_run(self, experiment: Experiment) -> int:
        """The index (among code cells) of the first cell that must run; 0 means a fresh kernel."""
        warm = self.kernels.get(experiment.name)
        if warm is None or warm.environment != self._environment(experiment) or not warm.session.alive():
            return 0
        now = _signature(experiment.notebook)
        first = next((i for i, (a, b) in enumerate(zip(now, warm.ran)) if a != b), min(len(now), len(warm.ran)))
        if first == 0 or first > warm.ok:
            return 0
        return first

    def run(self, experiment: Experiment, progress: Progress) -> Run:
        with self.lock:
            if self.stopping.is_set():
                raise Stopped
            run = self._run(experiment, progress)
            if self.stopping.is_set():
                raise Stopped
            return run

    def _run(self, experiment: Experiment, progress: Progress) -> Run:
        nb = copy.deepcopy(experiment.notebook)
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        start = self.first_to_run(experiment)
        began = time.monotonic()
        if start == 0:
            self._discard(experiment.name)
            session = KernelSession(experiment, self.config, self.secrets)
            try:
                session.start(nb)
            except KernelStartFailed as exc:
                return Run(nb, exc.failure, {})
            self.restarts += 1
            warm = _Warm(session, self._environment(experiment))
            self.kernels[experiment.name] = warm
            self._evict(keep=experiment.name)
        else:
            warm = self.kernels[experiment.name]
            for position in range(start):  # the cells before the first change keep their outputs
                kept = warm.cells[position]
                nb.cells[code[position]].outputs = copy.deepcopy(kept.get("outputs", []))
                nb.cells[code[position]].execution_count = kept.get("execution_count")
                nb.cells[code[position]].metadata.setdefault("pipeline", {})["duration"] = \
                    kept.metadata.get("pipeline", {}).get("duration")
            self.reruns += 1
            progress.info(f"      {experiment.name}: warm kernel, " + (f"re-running from code cell {start + 1} of {len(code)}"
                                                                        if start < len(code) else "no code changed"))
        warm.used = time.monotonic()
        warm.session.experiment = experiment  # this edit's cells and line ranges, for failure reports
        problem = warm.session.run(nb, code[start:], progress, began)
        warm.ran = _signature(nb)
        warm.cells = [copy.deepcopy(nb.cells[i]) for i in code]
        warm.ok = code.index(problem.cell_index) if problem and problem.cell_index in code else len(code)
        if problem is not None and not warm.session.alive():
            self._discard(experiment.name)
        probe = self._probe(warm, [nb.cells[i].source for i in code]) if problem is None else {}
        return Run(nb, problem, probe, "warm" if start else "executed")

    @staticmethod
    def _probe(warm: _Warm, sources: list[str]) -> dict:
        """The kernel's versions; asked again only when the code imports something new."""
        from pipeline.run.kernel_env import imported_modules

        names = tuple(imported_modules(sources))
        if warm.probe[0] != names or not warm.probe[1]:
            warm.probe = (names, warm.session.probe(sources))
        return warm.probe[1]

    def _evict(self, keep: str) -> None:
        while len(self.kernels) > self.max_kernels:
            oldest = min((n for n in self.kernels if n != keep), key=lambda n: self.kernels[n].used)
            self._discard(oldest)

    def _discard(self, name: str) -> None:
        warm = self.kernels.pop(name, None)
        if warm is not None:
            warm.session.close()

    def check(self) -> None:
        if self.stopping.is_set():
            raise Stopped  # the build publishes nothing

    def stop(self) -> None:
        """From another thread (Ctrl-C): no new runs, and the running kernels end now; the rebuild
        thread sees them die and stops without publishing."""
        self.stopping.set()
        for warm in list(self.kernels.values()):
            warm.session.kill()

    def close(self) -> None:
        """Shut every kernel down (once no rebuild runs)."""
        with self.lock:
            for name in list(self.kernels):
                self._discard(name)
