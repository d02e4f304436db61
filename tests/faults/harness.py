"""The harness a case works through: ``Ctx`` (its copy of the project, its commands and its
expectations), ``Proc`` (a command in the background), the ``case`` decorator that fills
``CASES``, and ``Result`` (what was measured for one case)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .checks import intact_problems, outside_hashes
from .project import CONFIG, Base, read_text, render_config

# ---------------------------------------------------------------------------
# Running commands
# ---------------------------------------------------------------------------

@dataclass
class Run:
    args: tuple[str, ...]
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    pid: int
    killed: bool = False  # the case killed it on purpose (SIGKILL): its exit status is not judged
    debug: bool = False

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"Run({' '.join(self.args)} -> {self.rc} in {self.seconds:.1f}s)"


def _interruptible() -> None:
    """A shell that started the test run in the background made SIGINT ignored, and children
    inherit that; give the command Ctrl-C back (the signal cases send it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Proc:
    """A command running in the background, its output collected line by line."""

    def __init__(self, ctx: Ctx, args: tuple[str, ...], env: dict, new_session: bool):
        self.ctx = ctx
        self.args = args
        self.started = time.monotonic()
        self.popen = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=ctx.root, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      start_new_session=new_session, preexec_fn=_interruptible)
        ctx.spawned.append(self.popen.pid)
        self.out: list[str] = []
        self.err: list[str] = []
        self.changed = threading.Condition()
        self.readers = [threading.Thread(target=self._read, args=(self.popen.stdout, self.out), daemon=True),
                        threading.Thread(target=self._read, args=(self.popen.stderr, self.err), daemon=True)]
        for reader in self.readers:
            reader.start()
        self.killed = False
        self.signalled_at: float | None = None

    def _read(self, stream, into: list[str]) -> None:
        for line in stream:
            with self.changed:
                into.append(line)
                self.changed.notify_all()
        stream.close()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def text(self) -> str:
        with self.changed:
            return "".join(self.out) + "".join(self.err)

    def wait_for(self, pattern: str, timeout: float = 60) -> bool:
        regex = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.changed:
            while not regex.search("".join(self.out) + "".join(self.err)):
                left = end - time.monotonic()
                if left <= 0 or self.popen.poll() is not None:
                    return bool(regex.search("".join(self.out) + "".join(self.err)))
                self.changed.wait(min(left, 0.2))
        return True

    def wait_file(self, path: Path, timeout: float = 60) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if Path(path).exists():
                return True
            if self.popen.poll() is not None:
                return Path(path).exists()
            time.sleep(0.05)
        return False

    def send(self, sig: int, group: bool = False) -> None:
        self.signalled_at = time.monotonic()
        if sig == signal.SIGKILL:
            self.killed = True
        if self.popen.poll() is None:
            if group:
                os.killpg(self.popen.pid, sig)
            else:
                os.kill(self.popen.pid, sig)

    def finish(self, timeout: float = 120) -> Run:
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.ctx.problems.append(f"`{' '.join(self.args)}` still running after {timeout:.0f}s; killed")
            self.killed = True
            self.popen.kill()
            self.popen.wait()
        for reader in self.readers:
            reader.join(timeout=10)
        run = Run(self.args, self.popen.returncode, "".join(self.out), "".join(self.err),
                  time.monotonic() - self.started, self.popen.pid, killed=self.killed)
        return self.ctx.record(run)

    def since_signal(self) -> float:
        return time.monotonic() - (self.signalled_at or self.started)


# ---------------------------------------------------------------------------
# A case's view of its project
# ---------------------------------------------------------------------------

class Ctx:
    def __init__(self, case: Case, root: Path, work: Path, env: dict, base: Base):
        self.case = case
        self.root = root
        self.work = work
        self.env = env
        self.base = base
        self.runs: list[Run] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.mode = case.mode
        self.damaged: list[str] = []  # globs of last good outputs the case itself damaged
        self.secret_files: set[str] = set()  # files the case itself wrote with a secret in them
        self.user_files: set[str] = set()  # the user's own files (never staging leftovers, whatever their names)
        self.lost: list[str] = []  # checkpoints taken during the case
        self.spawned: list[int] = []
        self.procs: list[Proc] = []
        self.chapter_notes = 0  # hostile: note boxes the hostile chapter itself must show
        #: sha256 of every file outside the project, taken before the case's first command
        self.outside: dict[str, str] | None = None
        self.outside_ok: set[str] = set()  # globs (in the work folder) of files the case itself writes there
        self.config = json.loads(json.dumps(CONFIG))

    # writing the project ---------------------------------------------------
    def experiment(self, name: str, text: str, suffix: str = ".py") -> Path:
        path = self.root / "experiments" / f"{name}{suffix}"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def configure(self, top: dict | None = None, article: dict | None = None, llm: dict | None = None) -> None:
        """Rewrite pyproject.toml: the last good settings with these changed."""
        for part, values in (("top", top), ("article", article), ("llm", llm)):
            self.config[part].update(values or {})
        (self.root / "pyproject.toml").write_text(render_config(**self.config), encoding="utf-8")

    def path(self, relative: str) -> Path:
        return self.root / relative

    def read(self, relative: str) -> str:
        return read_text(self.root / relative)

    # commands ----------------------------------------------------------------
    def before_command(self) -> None:
        """The files outside the project, before the first command (what the case set up included)."""
        if self.outside is None:
            self.outside = outside_hashes(self.work)

    def cli(self, *args: str, timeout: float = 180, env: dict | None = None, debug: bool = False) -> Run:
        self.before_command()
        started = time.monotonic()
        popen = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=self.root,
                                 env={**self.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        self.spawned.append(popen.pid)
        killed = False
        try:
            out, err = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            out, err = popen.communicate()
            killed = True
            self.problems.append(f"`{' '.join(args)}` did not finish within {timeout:.0f}s; killed")
        return self.record(Run(tuple(args), popen.returncode, out, err, time.monotonic() - started, popen.pid, killed,
                               debug))

    def record(self, run: Run) -> Run:
        """Keep the run, and its output in the case's logs/ folder (outside the project)."""
        self.runs.append(run)
        logs = self.work / "logs"
        logs.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", " ".join(run.args))[:60]
        (logs / f"{len(self.runs):02d}-{name}.txt").write_text(
            f"$ python -m pipeline {' '.join(run.args)}\npid {run.pid}, exit {run.rc}, {run.seconds:.2f}s\n"
            f"--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}", encoding="utf-8")
        return run

    def start(self, *args: str, env: dict | None = None, new_session: bool = False) -> Proc:
        self.before_command()
        proc = Proc(self, tuple(args), {**self.env, **(env or {})}, new_session)
        self.procs.append(proc)
        return proc

    # expectations ------------------------------------------------------------
    def expect(self, condition, message: str) -> bool:
        if not condition:
            self.problems.append(message)
        return bool(condition)

    def expect_rc(self, run: Run, rc: int) -> bool:
        return self.expect(run.rc == rc, f"`{' '.join(run.args)}` exited {run.rc}, expected {rc}; "
                                         f"stderr ends: {tail(run.stderr)}")

    def expect_error(self, run: Run, *needles: str) -> bool:
        """Exit status 1 and an ``error: ...`` message that names every needle."""
        ok = self.expect_rc(run, 1)
        ok &= self.expect("error: " in run.stderr, f"`{' '.join(run.args)}`: no `error: ...` message; stderr ends: "
                                                  f"{tail(run.stderr)}")
        for needle in needles:
            ok &= self.expect(needle in run.stderr, f"`{' '.join(run.args)}`: the message does not name {needle!r}; "
                                                    f"stderr ends: {tail(run.stderr)}")
        return ok

    def expect_ok(self, run: Run) -> bool:
        return self.expect_rc(run, 0)

    def checkpoint_intact(self, label: str) -> None:
        """The last good outputs, now (in the middle of the case)."""
        self.lost += [f"{label}: {item}" for item in intact_problems(self)]

    def no_record(self, name: str) -> None:
        self.expect(not self.path(f"build/records/{name}.json").exists(), f"a record was written for {name}")


def tail(text: str, lines: int = 4) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(nothing)"


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    group: str
    func: Callable[[Ctx], None]
    mode: str  # "intact": the last good outputs stay as they were; "rebuilt": a complete new build is the end
    hostile: bool = False
    doc: str = ""

    def __repr__(self) -> str:
        return f"Case({self.name})"


CASES: list[Case] = []


def case(group: str, mode: str = "intact", hostile: bool = False):
    def register(func):
        CASES.append(Case(func.__name__, group, func, mode, hostile, (func.__doc__ or "").strip()))
        return func
    return register


def failing(title: str, *cells: str) -> str:
    """A percent script: a title cell, then code cells (cell 2, 3, ... in error messages)."""
    parts = [f"# %% [markdown]\n# # {title}\n"]
    parts += [f"# %%\n{textwrap.dedent(c).strip()}\n" for c in cells]
    return "\n".join(parts)


def fails_in_cell_3(ctx: Ctx, error: str, title: str, *cells: str, timeout: float = 180):
    """Build with experiment 03_x made of these cells: exit 1 naming the file, cell 3 and the
    error, and no record written."""
    ctx.experiment("03_x", failing(title, *cells))
    run = ctx.cli("build", timeout=timeout)
    ctx.expect_error(run, "experiments/03_x.py, cell 3", error)
    ctx.no_record("03_x")


# ---------------------------------------------------------------------------
# Running cases
# ---------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    group: str
    seconds: float
    rc: int | None
    lost: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scripts: list[str] | None = None  # None: not a hostile case, or no browser check ran
    outside: list[str] = field(default_factory=list)  # files outside the project a command wrote
    notes: list[str] = field(default_factory=list)
    root: Path | None = None
    hostile: bool = False

    def __repr__(self) -> str:
        return f"Result({self.name}, {'ok' if self.ok else 'FAILED'})"

    @property
    def counts(self) -> tuple[int, int, int, int, int]:
        """lost, leaked, scripts run, raw tracebacks, written outside."""
        return len(self.lost), len(self.leaked), len(self.scripts or []), len(self.tracebacks), len(self.outside)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.leaked or self.scripts or self.tracebacks or self.outside or self.problems)

    def report(self) -> str:
        lines = [f"{self.name}: {'ok' if self.ok else 'FAILED'} ({self.seconds:.1f}s, exit {self.rc})"]
        if not self.ok and self.root is not None:
            lines.append(f"  command outputs: {self.root.parent / 'logs'}")
        for label, items in (("lost", self.lost), ("leaked", self.leaked), ("scripts run", self.scripts or []),
                             ("raw tracebacks", self.tracebacks), ("written outside", self.outside),
                             ("expectation", self.problems),
                             ("note", self.notes)):
            lines += [f"  {label}: {item}" for item in items]
        return "\n".join(lines)
