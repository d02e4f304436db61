"""Kernels started ahead of their experiments (``tool.pipeline.prestart``), and closed behind them.

A cold run pays, per experiment, for the kernel's start and the first cell's imports before any
work of its own, and for the kernel's shutdown after. Here:

- the kernels a run begins with (one per job) start at once: with ``execute --force``, the first
  one before the experiments are read (``spare``); while experiments run, the next ones' kernels
  start too (``Prestarter``);
- with ``prestart = "imports"`` a waiting kernel also imports what its experiment's first cell
  imports before any other statement, the modules listed in ``preimport``, and what those
  modules declare in ``__preimport__`` (a list of module names, or a function returning one:
  ``pipeline.lab`` declares what ``load_model`` will import);
- a finished kernel shuts down in the background (``Closing``) while the next experiment runs,
  except when an experiment runs ``after`` it (it may read what the kernel writes at exit).

The records stay those of a cold kernel: only imports run ahead, silently (no execution count,
no history, no echoed input) and in a namespace of their own; only the first cell's *leading*
imports are taken, so no statement that could change an import (an environment variable, a
seed, ``sys.path``) is skipped over; declared lists are left out where some cell sets up the
environment (``wanted_imports``); an experiment that runs ``after`` others imports only once they
are done (they may write what it imports); and a kernel whose imports print, warn, display or fail
is shut down and replaced by a fresh one, so that the output appears in the first cell as it would.

Bounds, so that a kernel started ahead never slows the running experiments by more than it saves:
the kernels waiting ahead are at most the cores the jobs leave free (cores minus ``--jobs``),
and none starts ahead with less than ``MIN_FREE_MEMORY`` available. Local kernels only: a
gateway's kernels start as before.
"""

from __future__ import annotations

import ast
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import Config
from pipeline.records import Experiment
from pipeline.run.engines import LocalKernels
from pipeline.run.schedule import closing_loops
from pipeline.run.sessions import KernelSession
from pipeline.run.threads import ThreadBudget

#: bytes of memory that must be available before a kernel starts ahead of its turn
MIN_FREE_MEMORY = 2 << 30

#: run silently in a waiting kernel, in a namespace of its own: the modules named, then (when
#: ``declared``) those they declare in ``__preimport__``. A pair ``(package, name)`` (``from package
#: import name``) imports ``package.name`` only where Python would: the package has no such
#: attribute and a submodule of that name exists. Imports go through ``__import__`` from code whose
#: ``__name__`` is ``"__main__"``, as a cell's do, so that the kernel's warning filters treat a
#: warning an import attributes to its importer (``stacklevel=2``) as they would in the cell; any
#: warning they let through counts as output.
_PREIMPORT = """
import importlib.util, sys, warnings
seen = set()
with warnings.catch_warnings(record=True) as caught:
    while names:
        name = names.pop(0)
        if isinstance(name, tuple):
            package, attribute = name
            __import__(package)
            if hasattr(sys.modules[package], attribute) or not importlib.util.find_spec(f"{package}.{attribute}"):
                continue
            name = f"{package}.{attribute}"
        if name not in seen:
            seen.add(name)
            __import__(name)
            listed = getattr(sys.modules[name], "__preimport__", ()) if declared else ()
            names += [n for n in (listed() if callable(listed) else listed) if isinstance(n, str)]
if caught:
    raise RuntimeError(f"{len(caught)} warnings")
"""
#: code that may change what a declared module (``__preimport__``) does once imported: declared
#: lists are then not imported ahead (only what the first cell itself imports first is)
_SETUP = re.compile(r"\benviron\b|\bputenv\b|set_num_threads|sys\.path\b|PYTHONHASHSEED")


def first_imports(source: str) -> list[str | tuple[str, str]]:
    """The modules a cell imports before its first other statement (IPython magics understood);
    ``from package import name`` gives ``package`` and ``(package, name)``, which may be a submodule."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return []
    names: list[str | tuple[str, str]] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level and node.module != "__future__":
            names += [node.module] + [(node.module, alias.name) for alias in node.names if alias.name != "*"]
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            break  # a docstring may come first; anything else ends the leading imports
    return list(dict.fromkeys(names))


def wanted_imports(experiment: Experiment, config: Config) -> tuple[list[str | tuple[str, str]], bool]:
    """``(names, declared)``: what the first cell that runs imports first, plus ``preimport``; and
    whether the modules' own ``__preimport__`` lists may be imported too (not when some cell sets
    the environment, ``sys.path`` or thread counts, which a module imported early would miss)."""
    cells = [c for c in experiment.notebook.cells
             if c.cell_type == "code" and "skip-execution" not in (c.get("metadata") or {}).get("tags", [])]
    names = list(dict.fromkeys(first_imports(cells[0].source if cells else "") + list(config.preimport)))
    return names, not any(_SETUP.search(c.source) for c in cells)


def preimport(session: KernelSession, names: list[str | tuple[str, str]], cancelled=lambda: False,
              declared: bool = True) -> bool:
    """Import *names* in the launched kernel of *session*, silently and outside the user's namespace,
    through a client of this thread's own. True when that left no trace a cell could show: no
    output of any kind, no error. False: the kernel is no longer a cold one (replace it)."""
    from nbclient.util import run_sync

    expression = f"exec({_PREIMPORT!r}, {{'__name__': '__main__', 'names': {list(names)!r}, 'declared': {bool(declared)!r}}})"
    kc = session.client.km.client()
    kc.start_channels()
    try:
        run_sync(kc.wait_for_ready)(timeout=session.config.startup_timeout)
        msg_id = kc.execute("", silent=True, store_history=False, stop_on_error=False,
                            user_expressions={"preimport": expression})
        deadline = time.monotonic() + session.config.cell_timeout  # the limit the first cell would have
        quiet, idle, reply = True, False, None
        while (not idle or reply is None) and time.monotonic() < deadline and not cancelled():
            for channel in ("iopub", "shell"):
                try:
                    msg = run_sync(getattr(kc, f"get_{channel}_msg"))(timeout=0.05)
                except Exception:  # queue.Empty: nothing yet
                    continue
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "execute_reply":
                    reply = msg["content"]
                elif kind == "status":
                    idle = idle or msg["content"].get("execution_state") == "idle"
                elif kind != "execute_input":
                    quiet = False  # stream, display, error, clear_output: a cold kernel shows it in a cell
            if not session.alive():
                return False
        expressions = (reply or {}).get("user_expressions", {})
        return quiet and idle and (reply or {}).get("status") == "ok" and expressions.get("preimport", {}).get("status") == "ok"
    finally:
        kc.stop_channels()


def free_memory() -> int | None:
    """Bytes of memory available (Linux's MemAvailable), or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass
class _Waiting:
    session: KernelSession
    assigned: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    experiment: Experiment | None = None
    ready: bool = False
    thread: threading.Thread | None = None


class Prestarter(LocalKernels):
    """The engine (``pipeline.run.engines``) of local kernels started before their experiments need
    them. ``spare`` starts one whose experiment is not known yet; ``want`` gives the next experiments
    kernels (the spares first); ``take`` hands an experiment its kernel, ready, or None (then it
    starts one as before)."""

    def __init__(self, config: Config, secrets: list[str], jobs: int, threads: int | None = None,
                 budget: ThreadBudget | None = None):
        super().__init__(config, secrets, threads, budget)
        self.ahead = max(0, cores() - jobs)  # kernels that may wait while `jobs` experiments run
        self.waiting: list[_Waiting] = []
        self.noisy: set[tuple] = set()  # imports that printed once: not tried again
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        #: the experiments of this run that have finished (``selected``: all of them): an experiment that
        #: runs ``after`` others imports ahead only once they are done (they may write what it imports)
        self.running: set[str] = set()
        self.finished_names: set[str] = set()
        self.finishing = threading.Condition()  # finished_names grew

    # the engine ------------------------------------------------------------
    def spare(self) -> None:
        """Start a kernel now, for whichever experiment comes first. Its process starts here, before the
        experiments are read: from its own thread it would start only once the reading's imports let it
        (0.1-0.2 s later, and the kernel's own start, 0.5 s, is the run's first wait)."""
        self._start(None, here=True)

    def prepare(self, to_run: list[Experiment], jobs: int) -> None:
        self.ahead = max(0, cores() - jobs)  # --jobs auto is decided by now
        self.running = {e.name for e in to_run}  # not taken from the cache
        self.halt.register(id(self), self.stop)
        self.want(to_run[:jobs], first=True)

    def upcoming(self, waiting: list[Experiment]) -> None:
        self.want([e for e in waiting if e.name in self.running])

    def session(self, experiment: Experiment) -> KernelSession:
        return self.take(experiment) or self._session(experiment)

    def want(self, experiments: list[Experiment], first: bool = False) -> None:
        """Kernels for *experiments* (in the order they will run): the spares are given to the first
        ones; more start only within the bounds, unless *first* (the run's first ``jobs``)."""
        with self.lock:
            have = {w.experiment.name for w in self.waiting if w.experiment is not None}
            spares = [w for w in self.waiting if w.experiment is None]
        for experiment in experiments:
            if experiment.name in have:
                continue
            if spares:
                waiting = spares.pop(0)
                waiting.experiment = experiment
                waiting.assigned.set()
            elif first or self._room({e.name for e in experiments}):
                self._start(experiment)
            else:
                break

    def finished(self, name: str) -> None:
        """*name* has finished (whatever the outcome): kernels waiting on it may import ahead."""
        with self.finishing:
            self.finished_names.add(name)
            self.finishing.notify_all()

    def take(self, experiment: Experiment) -> KernelSession | None:
        with self.lock:
            waiting = next((w for w in self.waiting if w.experiment is not None and w.experiment.name == experiment.name), None)
        if waiting is None:
            return None
        while not waiting.done.wait(0.05):  # still listed meanwhile: close() ends it on Ctrl-C or a stop
            if self.stopped.is_set():
                return None
        with self.lock:
            if waiting not in self.waiting:  # close() has it
                return None
            self.waiting.remove(waiting)
        session = waiting.session
        if not waiting.ready or session.folder != experiment.path.parent or not session.alive():
            session.close()
            return None
        session.experiment = experiment
        return session

    def stop(self) -> None:
        """No more kernels ahead: the waiting ones are killed (``close`` cleans up after them).
        Registered with the run's ``Stop``, so that --fail-fast and Ctrl-C end them at once."""
        self.stopped.set()
        with self.finishing:
            self.finishing.notify_all()
        with self.lock:
            waiting = list(self.waiting)
        for entry in waiting:
            entry.assigned.set()
            entry.session.kill()

    def close(self) -> None:
        """Stop the kernels nobody took (and the threads preparing them), then wait for those closing."""
        self.stop()
        with self.lock:
            left, self.waiting = self.waiting, []
        for waiting in left:
            if waiting.thread is not None and waiting.thread.ident is not None:  # started
                waiting.thread.join()
            waiting.session.close()
        super().close()

    # ------------------------------------------------------------------------
    def _room(self, upcoming: set[str]) -> bool:
        """Whether one more kernel may wait: those of experiments already starting do not count."""
        with self.lock:
            count = sum(1 for w in self.waiting if w.experiment is None or w.experiment.name in upcoming)
        memory = free_memory()
        return count < self.ahead and (memory is None or memory >= MIN_FREE_MEMORY)

    def _start(self, experiment: Experiment | None, here: bool = False) -> None:
        if self.stopped.is_set():
            return
        waiting = _Waiting(self._session(experiment), experiment=experiment)
        if here:
            try:
                waiting.session.launch()
            except Exception:  # the experiment starts a kernel of its own, and reports why that fails
                return
        if experiment is not None:
            waiting.assigned.set()
        waiting.thread = threading.Thread(target=closing_loops(self._prepare), args=(waiting,),
                                          name="prestart", daemon=True)
        with self.lock:
            self.waiting.append(waiting)
        waiting.thread.start()

    def _session(self, experiment: Experiment | None) -> KernelSession:
        return LocalKernels.session(self, experiment)  # a fresh one: its threads follow the budget

    def _prepare(self, waiting: _Waiting) -> None:
        """In its own thread: start the kernel, wait for its experiment, import ahead."""
        try:
            if not waiting.session.launched:  # ``spare`` launches its kernel before the thread starts
                waiting.session.launch()
            waiting.assigned.wait()
            experiment = waiting.experiment
            before = set(experiment.after) & self.selected if experiment is not None else set()
            with self.finishing:
                self.finishing.wait_for(lambda: self.stopped.is_set() or before <= self.finished_names)
            if experiment is None or self.stopped.is_set():
                return
            names, declared = wanted_imports(experiment, self.config) if self.config.prestart == "imports" else ([], False)
            if names and (tuple(names), declared) not in self.noisy:
                if not preimport(waiting.session, names, self.stopped.is_set, declared):
                    self.noisy.add((tuple(names), declared))
                    waiting.session.close()  # its imports showed something: a cold kernel instead
                    waiting.session = self._session(experiment)
                    if self.stopped.is_set():
                        return
                    waiting.session.launch()
            waiting.ready = not self.stopped.is_set()
        except Exception:  # a kernel that cannot be prepared is not used: the experiment starts its own
            waiting.ready = False  # and reports why that fails (KernelStartFailed and many other types)
        finally:
            waiting.done.set()
