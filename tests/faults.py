"""The fault and hostile-input battery: each case does one bad thing to a project that
was built successfully once, with the real CLI in a subprocess on real ipykernels,
and the harness measures what happened the same way for every case.

Used by ``tests/test_faults.py`` (pytest, one test per case) and by
``tests/benchmarks/bench_faults.py`` (a table and a totals line). No pytest here.

Per case the harness counts:

- lost: last good outputs (article, qiita-cli file, site page and figures, records,
  figures, cache entries) that changed or disappeared although the case should have
  left them alone (mode "intact"); or, where a new successful build is the expected end
  (mode "rebuilt"), every way the outputs are not complete and consistent afterwards;
- leaked: files under the project, and command outputs, that show a credential value
  (every command runs with the fake credentials of ``SECRETS`` in its environment);
- scripts run: injected scripts that ran in a real browser (hostile cases; filled in
  by ``browser_check`` for all hostile cases together);
- raw tracebacks: commands that printed a Python traceback without --debug, or exited
  with a status other than 0, 1 or 130 (processes the case killed itself excepted);
- problems: the case's own expectation, plus the generic checks (no kernel process and
  no private runtime folder of a finished command left behind; for hostile cases the
  Markdown structure as markdown-it parses it).
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# ---------------------------------------------------------------------------
# Credentials: distinctive fake values, set for every command the battery runs
# ---------------------------------------------------------------------------

SECRETS = {
    "OPENAI_API_KEY": "sk-LEAK-openai-7f3a9c1e5b2d4680",
    "HF_TOKEN": "hf_LEAKhuggingface9b8c7d6e5f4a",
    "MY_SERVICE_SECRET": "LEAK-service-secret-31d4e5f6a7b8",
    "DATABASE_URL": "postgresql://dbuser:LEAKPASS-db-5e6f7a8b@db.example.com:5432/app",
    "JUPYTER_GATEWAY_AUTH_TOKEN": "LEAK-gateway-token-c0ffee123456",
}
#: an LLM endpoint's password, given on the command line or in pyproject.toml
URL_PASSWORD = "LEAKPASS-llm-9d8c7b6a"
#: what must never appear: every value, and the passwords inside URLs on their own
LEAK_VALUES = sorted({*SECRETS.values(), "LEAKPASS-db-5e6f7a8b", URL_PASSWORD}, key=len, reverse=True)

TRACEBACK = re.compile(r"^Traceback \(most recent call last\):", re.MULTILINE)
GOOD_EXIT = (0, 1, 130)
STAGING = re.compile(r"^\..+\.(new|old|tmp)$")
KEEP_GOING_NOTE = "failed"

# ---------------------------------------------------------------------------
# The last good project
# ---------------------------------------------------------------------------

CONFIG = {
    "top": {"cell_timeout": 60, "experiment_timeout": 120},
    "article": {"title": "Fault battery", "slug": "faults", "tags": ["Python"]},
    "llm": {"model": "fake-model", "timeout": 5.0, "max_retries": 1, "deadline": 60.0},
}

BASE_EXPERIMENTS = {
    "01_fig": '''
        # %% [markdown]
        # # Figure chapter
        #
        # A line plot and a glued value.

        # %% Plot alt="a rising line"
        import matplotlib.pyplot as plt
        from pipeline.glue import glue
        plt.figure(figsize=(2, 1.5))
        plt.plot([1, 2, 3])
        plt.show()
        glue("answer", 42)

        # %% [markdown]
        # ## 考察
        #
        # The answer is {{ answer }}.
        ''',
    "02_table": '''
        # %% [markdown]
        # # Table chapter

        # %%
        import pandas as pd
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        ''',
}

#: the last good outputs a case must leave alone (mode "intact"), relative to the project
GOOD_OUTPUTS = ("build/qiita/article.md", "build/qiita/public/*.md", "build/qiita/figures/**", "site/index.md",
                "site/figures/**", "build/records/*.json", "build/figures/**", "build/cache/**")


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def render_config(top: dict, article: dict, llm: dict) -> str:
    lines = ["[tool.pipeline]"] + [f"{k} = {toml_value(v)}" for k, v in top.items()]
    lines += ["", "[tool.pipeline.article]"] + [f"{k} = {toml_value(v)}" for k, v in article.items()]
    lines += ["", "[tool.pipeline.llm]"] + [f"{k} = {toml_value(v)}" for k, v in llm.items()]
    return "\n".join(lines) + "\n"


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "PIPELINE_", "PYTEST_", "FAULTS_")) and k not in SECRETS}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_PLATFORM_DIRS="1",
               PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", NO_MKDOCS_2_WARNING="1", **SECRETS)
    return env


def file_hashes(root: Path, patterns=GOOD_OUTPUTS) -> dict[str, str]:
    found = {}
    for pattern in patterns:
        for path in root.glob(pattern):
            if path.is_file():
                found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@dataclass
class Base:
    root: Path
    snapshot: dict[str, str]
    notes: dict[str, list[str]]  # dialect -> structural note lines of the last good article
    seconds: float

    def __repr__(self) -> str:
        return f"Base({self.root}, files={len(self.snapshot)})"


def make_base(workdir: Path) -> Base:
    """Write the small experiments and build them once (the last good article)."""
    root = Path(workdir) / "base"
    (root / "experiments").mkdir(parents=True)
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "pyproject.toml").write_text(render_config(**CONFIG), encoding="utf-8")
    for name, text in BASE_EXPERIMENTS.items():
        (root / "experiments" / f"{name}.py").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    env = cli_env(Path(workdir) / "home")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pipeline", "build"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"the last good build failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    snapshot = file_hashes(root)
    notes = {d: [line for _, line in structure(read_text(root / p), d).notes]
             for d, p in (("qiita", "build/qiita/article.md"), ("mkdocs", "site/index.md"))}
    return Base(root, snapshot, notes, seconds)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


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
    def cli(self, *args: str, timeout: float = 180, env: dict | None = None, debug: bool = False) -> Run:
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
                                         f"stderr ends: {_tail(run.stderr)}")

    def expect_error(self, run: Run, *needles: str) -> bool:
        """Exit status 1 and an ``error: ...`` message that names every needle."""
        ok = self.expect_rc(run, 1)
        ok &= self.expect("error: " in run.stderr, f"`{' '.join(run.args)}`: no `error: ...` message; stderr ends: "
                                                  f"{_tail(run.stderr)}")
        for needle in needles:
            ok &= self.expect(needle in run.stderr, f"`{' '.join(run.args)}`: the message does not name {needle!r}; "
                                                    f"stderr ends: {_tail(run.stderr)}")
        return ok

    def expect_ok(self, run: Run) -> bool:
        return self.expect_rc(run, 0)

    def checkpoint_intact(self, label: str) -> None:
        """The last good outputs, now (in the middle of the case)."""
        self.lost += [f"{label}: {item}" for item in intact_problems(self)]

    def no_record(self, name: str) -> None:
        self.expect(not self.path(f"build/records/{name}.json").exists(), f"a record was written for {name}")


def _tail(text: str, lines: int = 4) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(nothing)"


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

def intact_problems(ctx: Ctx) -> list[str]:
    now = file_hashes(ctx.root, GOOD_OUTPUTS)
    found = []
    for path, digest in ctx.base.snapshot.items():
        if any(fnmatch.fnmatch(path, pattern) for pattern in ctx.damaged):
            continue
        if path not in now:
            found.append(f"{path} disappeared")
        elif now[path] != digest:
            found.append(f"{path} changed")
    return found


def experiment_names(root: Path) -> set[str]:
    folder = root / "experiments"
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.iterdir() if p.suffix in (".py", ".ipynb") and not p.name.startswith((".", "_"))}


def _figure_paths(value) -> list[str]:
    found = []
    if isinstance(value, dict):
        for v in value.values():
            found += _figure_paths(v)
    elif isinstance(value, list):
        for v in value:
            found += _figure_paths(v)
    elif isinstance(value, str) and re.fullmatch(r"figures/[^\s]+\.(png|jpg|gif|webp|svg)", value):
        found.append(value)
    return found


def consistency_problems(root: Path, user_files: set[str] = frozenset()) -> list[str]:
    """How the published outputs are not complete and consistent (empty when they are)."""
    problems = []
    experiments = experiment_names(root)
    records_dir = root / "build/records"
    records = {p.stem for p in records_dir.glob("*.json")} if records_dir.is_dir() else set()
    problems += [f"no record for experiment {n}" for n in sorted(experiments - records)]
    problems += [f"stale record {n} (its experiment is gone)" for n in sorted(records - experiments)]
    article = read_text(root / "build/qiita/article.md")
    page = read_text(root / "site/index.md")
    publics = sorted((root / "build/qiita/public").glob("*.md"))
    if not article:
        problems.append("build/qiita/article.md missing or empty")
    if not page:
        problems.append("site/index.md missing or empty")
    if len(publics) != 1:
        problems.append(f"build/qiita/public/ holds {len(publics)} .md files, expected 1")
    elif article and not read_text(publics[0]).endswith(article):
        problems.append(f"{publics[0].relative_to(root)} does not end with the article")
    headings = {d: structure(t, d).headings for d, t in (("qiita", article), ("mkdocs", page))}
    for name in sorted(records & experiments):
        try:
            record = json.loads((records_dir / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"build/records/{name}.json unreadable: {exc}")
            continue
        for figure in _figure_paths(record.get("cells", [])):
            for where in ("build", "site", "build/qiita"):
                if not (root / where / figure).is_file():
                    problems.append(f"{where}/{figure} missing (named by the record of {name})")
        title = str(record.get("title", ""))
        for dialect, found in headings.items():
            if not any(title in h for h in found):
                problems.append(f"the {dialect} Markdown has no heading for chapter {title!r}")
        if (record.get("execution") or {}).get("mode") == "executed" and not record.get("failure"):
            entries = list((root / "build/cache" / name).glob("*.ipynb"))
            if not any(_is_notebook(p) for p in entries):
                problems.append(f"no readable cache entry for {name}")
            if not _is_notebook(root / "build/executed" / f"{name}.ipynb"):
                problems.append(f"build/executed/{name}.ipynb missing or unreadable")
    return problems + staging_problems(root, user_files)


def staging_problems(root: Path, user_files: set[str] = frozenset()) -> list[str]:
    """Staging siblings or a publication journal left behind by a command that has ended."""
    problems = []
    for folder in (root / "build", root / "site"):
        if folder.is_dir():
            for path in folder.rglob(".*"):
                if STAGING.match(path.name) and path.relative_to(root).as_posix() not in user_files:
                    problems.append(f"staging leftover {path.relative_to(root)}")
    if (root / "build/.publish.json").exists():
        problems.append("publication journal build/.publish.json left behind")
    return problems


def _is_notebook(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")).get("cells"), list)
    except (OSError, ValueError, AttributeError):
        return False


def leak_findings(ctx: Ctx) -> list[str]:
    needles = [v.encode() for v in LEAK_VALUES]
    found = []
    for path in sorted(ctx.root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(ctx.root).as_posix()
        if relative in ctx.secret_files:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        hits = [n.decode() for n in needles if n in data]
        if hits:
            found.append(f"{relative} shows {hits[0]}")
    for run in ctx.runs:
        hits = [v for v in LEAK_VALUES if v in run.output]
        if hits:
            found.append(f"output of `{' '.join(run.args)}` shows {hits[0]}")
    return found


def traceback_findings(ctx: Ctx) -> list[str]:
    found = []
    for run in ctx.runs:
        if not run.debug and TRACEBACK.search(run.output):
            found.append(f"`{' '.join(run.args)}` printed a traceback: {traceback_excerpt(run.output)}")
        elif not run.killed and run.rc not in GOOD_EXIT:
            found.append(f"`{' '.join(run.args)}` exited {run.rc} (expected 0, 1 or 130)")
    return found


def traceback_excerpt(text: str) -> str:
    """The line before the first raw traceback, its first frame and its exception line."""
    match = TRACEBACK.search(text)
    before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
    lines = text[match.start():].split("\n")
    frames = [line for line in lines[1:] if line.startswith("  File ")]
    last = next((line for line in lines[1:] if line and not line.startswith(" ")), "")
    return " | ".join(x.strip() for x in (before, lines[0], frames[0] if frames else "", "...",
                                          frames[-1] if frames else "", last) if x)


def runtime_base() -> Path:
    return Path(tempfile.gettempdir()) / f"ml-article-pipeline-{os.getuid()}"


def kernels_of(pids: list[int]) -> list[tuple[int, str]]:
    """Live processes whose command line names a private runtime folder of one of *pids*."""
    marks = [f"{runtime_base()}/{pid}-" for pid in pids]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(m in cmdline for m in marks):
            found.append((int(entry.name), cmdline.strip()))
    return found


def runtime_folders_of(pids: list[int]) -> list[Path]:
    base = runtime_base()
    if not base.is_dir():
        return []
    return [p for p in base.iterdir() if p.name.split("-", 1)[0] in {str(pid) for pid in pids}]


def leftover_findings(ctx: Ctx) -> list[str]:
    end = time.monotonic() + 5
    while True:
        kernels = kernels_of(ctx.spawned)
        folders = runtime_folders_of(ctx.spawned)
        if not (kernels or folders) or time.monotonic() > end:
            break
        time.sleep(0.2)
    found = [f"kernel process {pid} left running ({cmd[:120]})" for pid, cmd in kernels]
    found += [f"private runtime folder {f} left behind" for f in folders]
    for pid, _ in kernels:  # do not let one case's leftovers disturb the next
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return found


# ---------------------------------------------------------------------------
# Markdown structure (markdown-it, CommonMark + tables)
# ---------------------------------------------------------------------------

@dataclass
class Structure:
    headings: list[str]
    notes: list[tuple[str, str]]  # (chapter heading, structural note line)
    closers: int
    html: list[str]
    links: list[str]


def structure(markdown: str, dialect: str) -> Structure:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    headings, notes, html, links = [], [], [], []
    closers = 0
    chapter = ""
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            text = tokens[i + 1].content
            headings.append(text)
            if token.tag == "h2":
                chapter = text
        elif token.type == "inline" and tokens[i - 1].type == "paragraph_open":
            lines = token.content.split("\n")
            for number, line in enumerate(lines):
                following = lines[number + 1] if number + 1 < len(lines) else ""
                if dialect == "qiita" and line.startswith(":::note"):
                    notes.append((chapter, line + "\n" + following))
                elif dialect == "qiita" and line.strip() == ":::":
                    closers += 1
                elif dialect != "qiita" and line.startswith(("!!!", "???")):
                    notes.append((chapter, line + "\n" + following))
        if token.type in ("html_block", "html_inline"):
            html.append(token.content)
        for child in token.children or []:
            if child.type == "html_inline":
                html.append(child.content)
            if child.type == "link_open":
                links.append(str(child.attrs.get("href", "")))
    return Structure(headings, notes, closers, html, links)


_ACTIVE_HTML = re.compile(r"<\s*(script|iframe|object|embed|svg|math|meta|base|form|style)\b"
                          r"|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def structure_problems(ctx: Ctx, marker: str = "PWNED") -> list[str]:
    """Every chapter heading and every note box still there; nothing from a payload in them."""
    problems = []
    names = sorted(experiment_names(ctx.root))
    titles = []
    for name in names:
        try:
            titles.append(json.loads(ctx.read(f"build/records/{name}.json") or "{}").get("title", name))
        except ValueError:
            titles.append(name)
    for dialect, relative in (("qiita", "build/qiita/article.md"), ("mkdocs", "site/index.md")):
        text = ctx.read(relative)
        if not text:
            problems.append(f"{relative} missing")
            continue
        found = structure(text, dialect)
        chapters = [h for h in found.headings if re.match(r"\d+\. ", h)]
        for title in titles:
            if not any(h.endswith(f". {title}") for h in chapters):
                problems.append(f"{relative}: chapter heading {title!r} missing (markdown-it headings: {chapters})")
        if len(chapters) != len(titles):
            problems.append(f"{relative}: {len(chapters)} chapter headings for {len(titles)} chapters: {chapters}")
        lines = [line for _, line in found.notes]
        for note in ctx.base.notes[dialect]:
            if note in lines:
                lines.remove(note)
            else:
                problems.append(f"{relative}: note box {note.splitlines()[0]!r} ({note.splitlines()[-1][:40]!r}) "
                                "of the last good article is gone")
        if dialect == "qiita" and found.closers != len(found.notes):
            problems.append(f"{relative}: {len(found.notes)} ':::note' openings but {found.closers} ':::' closings")
        mine = [line for chapter, line in found.notes if ctx.case.name in chapter]
        if len(mine) < ctx.chapter_notes:
            problems.append(f"{relative}: the hostile chapter shows {len(mine)} note boxes, expected "
                            f"{ctx.chapter_notes}")
        for heading in found.headings:
            if marker in heading:
                problems.append(f"{relative}: payload text became a heading: {heading[:80]!r}")
        for _, note in found.notes:  # payloads put the marker on, or first after, the lines they inject
            opening, _, following = note.partition("\n")
            if marker in opening or following.lstrip().startswith(marker):
                problems.append(f"{relative}: payload text became a note box: {note[:80]!r}")
        for raw in found.html:
            if _ACTIVE_HTML.search(raw):
                problems.append(f"{relative}: raw HTML that can run script: {raw[:100]!r}")
        for href in found.links:
            if re.match(r"\s*(javascript|vbscript|data):", href, re.IGNORECASE):
                problems.append(f"{relative}: link to {href[:60]!r}")
        if "\x00" in text:
            problems.append(f"{relative}: holds a NUL byte")
    return problems


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


# execution -------------------------------------------------------------------

@case("execution")
def exec_exception(ctx: Ctx):
    """An exception in cell 3: exit 1 naming the file, the cell and the error; a failure report."""
    ctx.experiment("03_x", failing("Failing", "x = 1", "def f():\n    return 1 / 0\nf()"))
    run = ctx.cli("build")
    ctx.expect_error(run, "experiments/03_x.py, cell 3", "ZeroDivisionError")
    ctx.expect(ctx.path("build/executed/03_x.failure.json").is_file(), "no failure report kept")
    ctx.no_record("03_x")


@case("execution")
def exec_syntax_error(ctx: Ctx):
    fails_in_cell_3(ctx, "SyntaxError", "Syntax", "x = 1", "def broken(:\n    pass")


@case("execution")
def exec_cell_timeout(ctx: Ctx):
    """An infinite loop stops at cell_timeout (2 s here)."""
    ctx.configure(top={"cell_timeout": 2})
    ctx.experiment("03_x", failing("Loop", "x = 1", "while True:\n    pass"))
    run = ctx.cli("build", timeout=60)
    ctx.expect_error(run, "experiments/03_x.py, cell 3", "cell_timeout")
    ctx.expect(run.seconds < 25, f"the build took {run.seconds:.1f}s with a 2s cell timeout")
    ctx.notes.append(f"build {run.seconds:.1f}s")
    ctx.no_record("03_x")


@case("execution")
def exec_experiment_timeout(ctx: Ctx):
    """Three 1.5 s cells under a 3 s experiment limit: stopped at the cell that passes it."""
    ctx.configure(top={"experiment_timeout": 3})
    ctx.experiment("03_x", failing("Slow", "import time\ntime.sleep(1.5)", "time.sleep(1.5)", "time.sleep(1.5)"))
    run = ctx.cli("build", timeout=60)
    ctx.expect_error(run, "experiments/03_x.py, cell", "experiment_timeout")
    ctx.expect(run.seconds < 25, f"the build took {run.seconds:.1f}s with a 3s experiment limit")
    ctx.no_record("03_x")


@case("execution")
def exec_kernel_dies(ctx: Ctx):
    fails_in_cell_3(ctx, "DeadKernelError", "Dies", "import os", "os.kill(os.getpid(), 9)", timeout=90)


@case("execution")
def exec_memory_error(ctx: Ctx):
    fails_in_cell_3(ctx, "MemoryError", "Memory", "x = 1", "big = bytearray(10**13)")


@case("execution")
def exec_memory_limit_kill(ctx: Ctx):
    """The kernel is killed (SIGSEGV) by a real memory limit: its stack rlimit lowered to 1 MiB,
    then a deep recursion in C."""
    fails_in_cell_3(ctx, "DeadKernelError", "Stack limit", "import functools, json, resource, sys",
                    "hard = resource.getrlimit(resource.RLIMIT_STACK)[1]\n"
                    "resource.setrlimit(resource.RLIMIT_STACK, (1 << 20, hard))\n"
                    "sys.setrecursionlimit(10**7)\n"
                    "nested = functools.reduce(lambda a, _: [a], range(10**6), [])\n"
                    "json.dumps(nested)", timeout=90)


@case("execution")
def exec_sys_exit(ctx: Ctx):
    fails_in_cell_3(ctx, "SystemExit", "Exit", "import sys", "sys.exit(3)")


@case("execution")
def exec_unknown_kernel(ctx: Ctx):
    ctx.configure(top={"kernel": "no-such-kernel"})
    run = ctx.cli("build")
    ctx.expect_error(run, "no-such-kernel", "experiments/01_fig.py")


# signals -----------------------------------------------------------------------

SLOW_CELL = """
import pathlib, time
pathlib.Path({marker!r}).write_text("running")
if pathlib.Path({flag!r}).exists():
    time.sleep(120)
"""


def _slow_experiment(ctx: Ctx) -> tuple[Path, Path]:
    marker, flag = ctx.work / "cell-started", ctx.work / "slow.flag"
    flag.write_text("1")
    ctx.experiment("03_slow", failing("Slow", "x = 1", SLOW_CELL.format(marker=str(marker), flag=str(flag))))
    return marker, flag


def _interrupt_while_cell_runs(ctx: Ctx, sig: int, group: bool) -> None:
    marker, _ = _slow_experiment(ctx)
    proc = ctx.start("build", new_session=group)
    ctx.expect(proc.wait_for(r"03_slow: executing", 60), "no progress line for 03_slow on stderr")
    ctx.expect(proc.wait_file(marker, 60), "the slow cell never started")
    proc.send(sig, group=group)
    run = proc.finish(60)
    ctx.expect_rc(run, 130)
    ctx.expect("interrupted" in run.stderr and "unchanged" in run.stderr,
               f"no clear interruption message; stderr ends: {_tail(run.stderr)}")
    ctx.expect(proc.since_signal() < 15, f"took {proc.since_signal():.1f}s to stop after the signal")
    ctx.notes.append(f"stopped {proc.since_signal():.1f}s after the signal")
    ctx.no_record("03_slow")


@case("signals")
def sig_sigint_cell(ctx: Ctx):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while a cell runs."""
    _interrupt_while_cell_runs(ctx, signal.SIGINT, group=True)


@case("signals")
def sig_sigterm_cell(ctx: Ctx):
    _interrupt_while_cell_runs(ctx, signal.SIGTERM, group=False)


@case("signals")
def sig_sigint_llm(ctx: Ctx):
    """Ctrl-C while the LLM pass waits for an endpoint that takes 30 s to answer."""
    from fake_openai import FakeOpenAI, completion

    ctx.configure(llm={"timeout": 60.0, "deadline": 120.0})
    with FakeOpenAI([(200, completion("下書きの説明文です。"))], delay=30) as server:
        proc = ctx.start("build", "--llm", "--llm-base-url", server.base_url)
        ctx.expect(proc.wait_for(r"drafting \d+ sections", 60), "no 'drafting' progress line")
        end = time.monotonic() + 20
        while not server.requests and time.monotonic() < end:
            time.sleep(0.05)
        ctx.expect(server.requests, "the LLM pass never sent a request")
        proc.send(signal.SIGINT)
        run = proc.finish(60)
    ctx.expect_rc(run, 130)
    ctx.expect(proc.since_signal() < 10, f"took {proc.since_signal():.1f}s to stop after Ctrl-C")
    ctx.expect("interrupted" in run.stderr, f"no interruption message; stderr ends: {_tail(run.stderr)}")


@case("signals", mode="rebuilt")
def sig_sigkill_cell(ctx: Ctx):
    """SIGKILL while a cell runs: the outputs stay intact; the next build succeeds, removes the
    killed run's private runtime folder and stops its kernel."""
    marker, flag = _slow_experiment(ctx)
    proc = ctx.start("build")
    ctx.expect(proc.wait_file(marker, 60), "the slow cell never started")
    proc.send(signal.SIGKILL)
    proc.finish(30)
    ctx.checkpoint_intact("after the SIGKILL")
    folders = runtime_folders_of([proc.pid])
    ctx.expect(folders, "no private runtime folder of the killed run found (nothing to check)")
    kernels = [int(p.read_text()) for f in folders for p in [f / "kernel.pid"] if p.is_file()]
    ctx.expect(kernels, "no kernel.pid in the killed run's runtime folder")
    flag.unlink()
    run = ctx.cli("build")
    ctx.expect_ok(run)
    ctx.expect(not runtime_folders_of([proc.pid]),
               "the killed run's runtime folder is still there after the next build")
    alive = [pid for pid in kernels if _alive(pid)]
    ctx.expect(not alive, f"the killed run's kernel {alive} is still running after the next build")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


KILL_AFTER_SWAP = """
import os
if os.environ.get("FAULTS_KILL_AFTER_SWAP") == "1":
    import signal
    import pipeline.storage as storage

    _original = storage._swap_in

    def _swap_in(staged, target):
        _original(staged, target)
        with open(os.environ["FAULTS_SWAP_LOG"], "a") as log:
            log.write(str(target) + "\\n")
        os.kill(os.getpid(), signal.SIGKILL)

    storage._swap_in = _swap_in
"""


@case("signals", mode="rebuilt")
def sig_sigkill_publish(ctx: Ctx):
    """SIGKILL inside the publication step, right after its first swap: the next command
    finishes the publication."""
    hook = ctx.work / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_AFTER_SWAP, encoding="utf-8")
    log = ctx.work / "swaps.log"
    path = ctx.path("experiments/02_table.py")
    path.write_text(path.read_text(encoding="utf-8") + "\n# %% [markdown]\n# Edited note for the kill test.\n",
                    encoding="utf-8")
    run = ctx.cli("build", env={"FAULTS_KILL_AFTER_SWAP": "1", "FAULTS_SWAP_LOG": str(log),
                                "PYTHONPATH": f"{hook}{os.pathsep}{REPO}"})
    run.killed = True
    if not ctx.expect(run.rc == -signal.SIGKILL and log.is_file(),
                      f"the publication step was not reached (exit {run.rc}): {_tail(run.stderr)}"):
        return
    ctx.notes.append(f"killed after swapping {log.read_text().strip()}")
    ctx.expect(ctx.path("build/.publish.json").is_file(), "no publication journal left by the killed command")
    after = ctx.cli("execute")
    ctx.expect_ok(after)
    ctx.expect("finishing the publication" in after.stderr, "the next command did not say it finished the publication")
    ctx.expect("Edited note for the kill test." in ctx.read("build/qiita/article.md")
               and "Edited note for the kill test." in ctx.read("site/index.md"),
               "the interrupted publication was not finished: the article lacks the edit")


# concurrency --------------------------------------------------------------------

@case("concurrency", mode="rebuilt")
def conc_two_builds(ctx: Ctx):
    """Two builds at once, three rounds (each round changes an experiment's code)."""
    for round_ in range(3):
        ctx.experiment("03_c", failing("Concurrent", f"import time\ntime.sleep(1.0)\nprint('round {round_}')"))
        first, second = ctx.start("build"), ctx.start("build")
        runs = [first.finish(180), second.finish(180)]
        for run in runs:
            ctx.expect_rc(run, 0)
            ctx.expect("FileNotFoundError" not in run.output, f"round {round_}: FileNotFoundError: {_tail(run.stderr)}")
        waited = [r for r in runs if "waiting for another command to finish" in r.stderr]
        ctx.expect(len(waited) == 1, f"round {round_}: {len(waited)} builds said they waited (expected 1)")
        for run in waited:
            other = next(r for r in runs if r is not run)
            ctx.expect(f"pid {other.pid}" in run.stderr, f"round {round_}: the waiting build does not name pid "
                                                         f"{other.pid}: {_tail(run.stderr)}")
        ctx.expect(f"round {round_}" in ctx.read("build/qiita/article.md"), f"round {round_}: article not updated")


# corrupt inputs -----------------------------------------------------------------

@case("corrupt", mode="rebuilt")
def corrupt_executed_garbage(ctx: Ctx):
    ctx.path("build/executed/01_fig.ipynb").write_text("not a notebook {{{", encoding="utf-8")
    ctx.expect_ok(ctx.cli("build"))
    ctx.expect(ctx.read("build/qiita/article.md") == read_text(ctx.base.root / "build/qiita/article.md"),
               "the repaired build's article differs from the last good one")


@case("corrupt", mode="rebuilt")
def corrupt_executed_non_utf8(ctx: Ctx):
    ctx.path("build/executed/01_fig.ipynb").write_bytes(b"\xff\xfe\x00{\x80garbage\xc3")
    ctx.expect_ok(ctx.cli("build"))


@case("corrupt")
def corrupt_executed_then_harvest(ctx: Ctx):
    """`harvest` alone cannot repair a garbage executed notebook: a clear error naming it."""
    ctx.path("build/executed/01_fig.ipynb").write_bytes(b"\xff\xfe garbage")
    run = ctx.cli("harvest")
    ctx.expect_error(run, "build/executed/01_fig.ipynb", "execute --force 01_fig")


@case("corrupt")
def corrupt_record_export(ctx: Ctx):
    ctx.damaged.append("build/records/01_fig.json")
    ctx.path("build/records/01_fig.json").write_text('{"name": "01_fig", "cells": [', encoding="utf-8")
    ctx.expect_error(ctx.cli("export"), "build/records/01_fig.json")


@case("corrupt")
def corrupt_record_non_utf8_export(ctx: Ctx):
    ctx.damaged.append("build/records/02_table.json")
    ctx.path("build/records/02_table.json").write_bytes(b"\x89\xff\xfe{}")
    ctx.expect_error(ctx.cli("export"), "build/records/02_table.json")


@case("corrupt")
def corrupt_record_wrong_shape_export(ctx: Ctx):
    """Valid JSON of the wrong shape (a list, then a record with a cell of the wrong type)."""
    ctx.damaged.append("build/records/*.json")
    ctx.path("build/records/01_fig.json").write_text("[1, 2, 3]", encoding="utf-8")
    ctx.expect_error(ctx.cli("export"), "build/records/01_fig.json")
    record = json.loads(read_text(ctx.base.root / "build/records/02_table.json"))
    record["cells"][1]["outputs"] = [{"kind": "image", "path": 7}]
    ctx.path("build/records/01_fig.json").write_text(read_text(ctx.base.root / "build/records/01_fig.json"),
                                                     encoding="utf-8")
    ctx.path("build/records/02_table.json").write_text(json.dumps(record), encoding="utf-8")
    ctx.expect_error(ctx.cli("export"), "build/records/02_table.json")


@case("corrupt")
def corrupt_deleted_figures_export(ctx: Ctx):
    ctx.damaged.append("build/figures/**")
    shutil.rmtree(ctx.path("build/figures"))
    ctx.expect_error(ctx.cli("export"), "01_fig-cell02-1.png", "harvest 01_fig")


@case("corrupt")
def corrupt_experiment_non_utf8(ctx: Ctx):
    ctx.path("experiments/03_x.py").write_bytes(b"# %%\nprint('caf\xe9')\n")
    ctx.expect_error(ctx.cli("build"), "experiments/03_x.py", "UTF-8")


@case("corrupt")
def corrupt_notebook_json(ctx: Ctx):
    ctx.path("experiments/03_nb.ipynb").write_text('{"cells": [', encoding="utf-8")
    ctx.expect_error(ctx.cli("build"), "experiments/03_nb.ipynb")


def _malformed(ctx: Ctx, code: str, needle: str) -> None:
    ctx.experiment("03_x", failing("Malformed", "from IPython.display import display", code))
    run = ctx.cli("build")
    ctx.expect_error(run, "03_x", "cell 3", needle)
    ctx.no_record("03_x")


@case("corrupt")
def corrupt_png_not_base64(ctx: Ctx):
    _malformed(ctx, 'display({"image/png": "this is not base64!!", "text/plain": "<Figure>"}, raw=True)', "base64")


@case("corrupt")
def corrupt_glue_without_name(ctx: Ctx):
    _malformed(ctx, 'display({"application/vnd.pipeline.glue+json": {"value": 1}}, raw=True)', "name")


@case("corrupt")
def corrupt_model_payload(ctx: Ctx):
    _malformed(ctx, 'display({"application/vnd.pipeline.model+json": {"id": "x"}}, raw=True)', "model")


@case("corrupt", mode="rebuilt")
def corrupt_cache_entry(ctx: Ctx):
    """A garbage cache entry is reported and the experiment executed again."""
    entry = next(ctx.path("build/cache/01_fig").glob("*.ipynb"))
    entry.write_text('{"cells": 5, "metadata": ', encoding="utf-8")
    run = ctx.cli("build")
    ctx.expect_ok(run)
    ctx.expect("01_fig: executing" in run.stderr, "the experiment with the corrupt cache entry was not executed again")
    ctx.expect("unreadable" in run.stderr, "the corrupt cache entry was not reported")


@case("corrupt", mode="rebuilt")
def corrupt_failure_report(ctx: Ctx):
    """A garbage failure report next to a good notebook: harvest ignores it, build removes it."""
    report = ctx.path("build/executed/02_table.failure.json")
    report.write_bytes(b'{"source": 1, \xff')
    ctx.expect_ok(ctx.cli("harvest"))
    ctx.expect_ok(ctx.cli("build"))
    ctx.expect(not report.exists(), "the corrupt failure report was kept")


@case("corrupt")
def corrupt_template(ctx: Ctx):
    path = ctx.path("templates/article.md.j2")
    path.write_text(path.read_text(encoding="utf-8") + "\n{% if %}\n", encoding="utf-8")
    ctx.expect_error(ctx.cli("build"), "templates/article.md.j2, line")


@case("corrupt")
def corrupt_toml(ctx: Ctx):
    ctx.path("pyproject.toml").write_text("[tool.pipeline\ncell_timeout = = 3\n", encoding="utf-8")
    ctx.expect_error(ctx.cli("build"), "pyproject.toml", "TOML")


@case("corrupt")
def corrupt_unknown_config_key(ctx: Ctx):
    ctx.configure(top={"cell_timout": 5})
    ctx.expect_error(ctx.cli("build"), "cell_timout", "cell_timeout")


# paths ---------------------------------------------------------------------------

@case("paths")
def path_empty_experiments(ctx: Ctx):
    for path in ctx.path("experiments").iterdir():
        path.unlink()
    ctx.expect_error(ctx.cli("build"), "experiments: no experiments")


@case("paths")
def path_missing_experiments(ctx: Ctx):
    shutil.rmtree(ctx.path("experiments"))
    ctx.expect_error(ctx.cli("build"), "experiments: experiments folder not found")


@case("paths")
def path_export_dir_outside(ctx: Ctx):
    outside = ctx.work / "outside"
    ctx.configure(article={"export_dir": "../outside"})
    ctx.expect_error(ctx.cli("build"), "export_dir")
    ctx.expect(not outside.exists(), "the build wrote outside the project")


@case("paths")
def path_site_symlink_outside(ctx: Ctx):
    """site/ replaced by a symlink to a folder outside the project."""
    outside = ctx.work / "outside-site"
    outside.mkdir()
    ctx.damaged.append("site/**")
    shutil.rmtree(ctx.path("site"))
    ctx.path("site").symlink_to(outside, target_is_directory=True)
    run = ctx.cli("build")
    ctx.expect_error(run, "site")
    ctx.expect(not any(outside.iterdir()), f"the build wrote outside the project: {sorted(outside.iterdir())}")


def _user_folder(ctx: Ctx, files: dict[str, str]) -> dict[Path, bytes]:
    folder = ctx.path("mydocs")
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _user_files_untouched(ctx: Ctx, before: dict[Path, bytes]) -> None:
    after = {p: p.read_bytes() for p in ctx.path("mydocs").rglob("*") if p.is_file()}
    changed = sorted(str(p.relative_to(ctx.root)) for p, data in before.items() if after.get(p) != data)
    ctx.expect(not changed, f"the user's files changed or vanished: {changed}")
    extra = sorted(str(p.relative_to(ctx.root)) for p in after if p not in before)
    ctx.expect(not extra, f"the build wrote into the user's folder: {extra}")


@case("paths")
def path_export_dir_user_files(ctx: Ctx):
    """export_dir names a folder of the user's holding an article.md of their own."""
    before = _user_folder(ctx, {"article.md": "# my own notes\n", "notes.txt": "keep me\n"})
    ctx.configure(article={"export_dir": "mydocs"})
    ctx.expect_error(ctx.cli("build"), "mydocs")
    _user_files_untouched(ctx, before)


@case("paths")
def path_export_dir_user_folder(ctx: Ctx):
    """export_dir names an existing folder of the user's (no name in common with the outputs,
    but a dotfile ending in .tmp and a subfolder): refused, the user's files untouched."""
    before = _user_folder(ctx, {"notes.txt": "keep me\n", ".editor.tmp": "my editor's state\n",
                                "drafts/.idea.old": "an old idea\n", "drafts/plan.md": "plan\n"})
    ctx.configure(article={"export_dir": "mydocs"})
    ctx.expect_error(ctx.cli("build"), "mydocs")
    _user_files_untouched(ctx, before)


@case("paths")
def path_user_dotfiles_in_site(ctx: Ctx):
    """The MkDocs docs_dir (site/) holds the user's own files besides the pipeline's, some of them
    dotfiles whose names end in .tmp/.old/.new (editor state): a build leaves them alone."""
    mine = {"site/extra/.notes.tmp": "editor state\n", "site/.theme.old": "old theme notes\n",
            "site/extra/page.md": "# My page\n", "site/javascripts/.custom.js.new": "// work in progress\n"}
    for relative, text in mine.items():
        ctx.path(relative).parent.mkdir(parents=True, exist_ok=True)
        ctx.path(relative).write_text(text, encoding="utf-8")
    ctx.user_files |= set(mine)
    ctx.expect_ok(ctx.cli("build"))
    gone = [relative for relative, text in mine.items() if ctx.read(relative) != text]
    ctx.expect(not gone, f"the build deleted or changed the user's files in site/: {gone}")


@case("paths")
def path_foreign_site_index(ctx: Ctx):
    """The site folder holds an index.md the pipeline did not write."""
    ctx.path("docs").mkdir()
    mine = "# The user's own home page\n"
    ctx.path("docs/index.md").write_text(mine, encoding="utf-8")
    ctx.configure(top={"site_dir": "docs"})
    ctx.expect_error(ctx.cli("build"), "index.md")
    ctx.expect(ctx.read("docs/index.md") == mine, "the user's docs/index.md was changed")


@case("paths", mode="rebuilt")
def path_deleted_experiment(ctx: Ctx):
    ctx.path("experiments/02_table.py").unlink()
    ctx.expect_ok(ctx.cli("build"))
    for leftover in ("build/records/02_table.json", "build/executed/02_table.ipynb", "build/cache/02_table",
                     "build/figures/02_table"):
        ctx.expect(not ctx.path(leftover).exists(), f"{leftover} not pruned")
    ctx.expect("Table chapter" not in ctx.read("build/qiita/article.md"), "the deleted chapter is still in the article")


@case("paths")
def path_stale_leftovers(ctx: Ctx):
    """Staging leftovers of a killed command are cleaned by the next one. Their names are the ones
    the pipeline makes: ".NAME.<8 random characters>.new|.tmp" (mkstemp/mkdtemp), ".NAME.<pid>.old"."""
    leftovers = ["build/records/.01_fig.json.k3j9x1ab.new", "build/qiita/.article.md.a1b2c3d4.new",
                 "site/.index.md.q9w8e7r6.tmp", "build/cache/01_fig/.abc.ipynb.x1y2z3w4.tmp",
                 "build/.figures.4242.old/01_fig/x.png", "site/.figures.zz11yy22.new/01_fig/y.png"]
    for relative in leftovers:
        ctx.path(relative).parent.mkdir(parents=True, exist_ok=True)
        ctx.path(relative).write_text("stale", encoding="utf-8")
    ctx.expect_ok(ctx.cli("build"))
    for relative in leftovers:
        top = relative.split("/")
        first = next(i for i, part in enumerate(top) if part.startswith("."))
        ctx.expect(not ctx.path("/".join(top[: first + 1])).exists(), f"{relative} not cleaned")


@case("paths")
def path_unknown_experiment_name(ctx: Ctx):
    ctx.expect_error(ctx.cli("execute", "no_such_experiment"), "no_such_experiment", "01_fig")


# hostile outputs ------------------------------------------------------------------

def flag(ctx: Ctx) -> str:
    return f"window.__pwned_{ctx.case.name}=1"


def payload(ctx: Ctx) -> str:
    f = flag(ctx)
    return (f"<script>{f}</script><img src=x onerror=\"{f}\"><svg onload=\"{f}\"></svg>"
            f"<iframe srcdoc=\"<script>top.__pwned_{ctx.case.name}=1</script>\"></iframe>PWNED")


def hostile_experiment(ctx: Ctx, *cells: str, observation: str = "") -> None:
    """Chapter 2 of three (01h_ sorts between 01_fig and 02_table), so that output escaping
    its chapter would swallow the next one. A cell starting with a "# %%" line keeps it."""
    parts = [f"# %% [markdown]\n# # Hostile {ctx.case.name}\n"]
    parts += [c.strip() + "\n" if c.startswith("# %%") else f"# %%\n{textwrap.dedent(c).strip()}\n" for c in cells]
    if observation:
        parts.append("# %% [markdown]\n" + "\n".join(f"# {line}".rstrip() for line in observation.splitlines()) + "\n")
        ctx.chapter_notes = 1
    ctx.experiment(f"01h_{ctx.case.name}", "\n".join(parts))


def hostile_build(ctx: Ctx, *args: str, rc: int = 0, env: dict | None = None) -> Run:
    run = ctx.cli("build", *args, env=env)
    ctx.expect_rc(run, rc)
    return run


@case("hostile", mode="rebuilt", hostile=True)
def h_script_stdout(ctx: Ctx):
    """A script printed; and, in a long folded (hide-output) output, lines that close the fold."""
    folded = "\n".join(["</details>", ":::", "</div>", "```", "PWNED " + payload(ctx)] * 12)
    hostile_experiment(ctx, f"print({payload(ctx)!r})", f"# %% tags=[\"hide-output\"]\nprint({folded!r})")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_script_markdown(ctx: Ctx):
    text = (payload(ctx) + "\n\n# PWNED heading\n\n<details><summary>PWNED</summary>\n\n:::note alert\nPWNED\n:::\n\n"
            "</details>\n\n:::\n\n</div>\n\n!!! danger \"PWNED\"\n    body\n\n???+ note \"PWNED\"\n    body\n")
    hostile_experiment(ctx, f"from IPython.display import Markdown, display\ndisplay(Markdown({text!r}))")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_script_html(ctx: Ctx):
    f = flag(ctx)
    text = (payload(ctx) + f"<a href=\"javascript:{f}\">click</a><div onmouseover=\"{f}\">hover</div>"
            f"<object data=\"javascript:{f}\"></object><embed src=\"javascript:{f}\">"
            f"<math><mtext><table><mglyph><style><img src=x onerror=\"{f}\"></style></mglyph></table></mtext></math>"
            f"<form action=\"javascript:{f}\"><button>go</button></form>"
            f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{f}\">")
    hostile_experiment(ctx, f"from IPython.display import HTML, display\ndisplay(HTML({text!r}))")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_javascript_link(ctx: Ctx):
    f = flag(ctx)
    text = (f"[click](javascript:{f}) [again](JaVaScRiPt:{f}) [tab](java\tscript:{f}) "
            f"[ent](&#106;avascript:{f}) <javascript:{f}> [ref][r] ![img](javascript:{f})\n\n[r]: javascript:{f}\n\n"
            f"[attr](https://example.com){{: onclick=\"{f}\" }}\n")
    hostile_experiment(ctx, f"from IPython.display import Markdown, display\ndisplay(Markdown({text!r}))")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_glue_script(ctx: Ctx):
    hostile_experiment(ctx, f"from pipeline.glue import glue\nglue('evil', {payload(ctx)!r})",
                       observation="## 考察\n\nThe value is {{ evil }}.")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_glue_note_fence(ctx: Ctx):
    value = ":::note alert\nPWNED note\n:::\n```\nPWNED fence\n!!! danger \"PWNED\"\n# PWNED heading\n"
    hostile_experiment(ctx, f"from pipeline.glue import glue\nglue('evil', {value!r})",
                       observation="## 考察\n\nThe value is {{ evil }} and more.\n\n- again: {{ evil }}")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_model_id_script(ctx: Ctx):
    fields = {"id": payload(ctx) + "\n:::note alert\nPWNED\n# PWNED", "source": "<script>" + flag(ctx) + "</script>",
              "dtype": "float32", "quantization": "none", "device": "cpu`<img src=x onerror=\"" + flag(ctx) + "\">`",
              "parameters": 1}
    hostile_experiment(ctx, f"from pipeline.glue import MODEL_MIME, publish\npublish(MODEL_MIME, {fields!r})")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_exception_tagged(ctx: Ctx):
    """An exception message with a script, in a cell tagged raises-exception."""
    name = f"X{payload(ctx)}"
    hostile_experiment(ctx, f"# %% tags=[\"raises-exception\"]\nraise ValueError({payload(ctx)!r})",
                       f"# %% tags=[\"raises-exception\"]\nraise type({name!r}, (Exception,), {{}})('PWNED ename')")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_exception_keep_going(ctx: Ctx):
    """The same message as the failure note of a chapter built with --keep-going (exit 1, published)."""
    message = payload(ctx) + "\n:::note alert\nPWNED note\n```\n</details>\n:::"
    hostile_experiment(ctx, "x = 1", f"raise ValueError({message!r})")
    ctx.chapter_notes = 1  # the failure note
    run = hostile_build(ctx, "--keep-going", rc=1)
    record = ctx.read(f"build/records/01h_{ctx.case.name}.json")
    ctx.expect('"failure": {' in record or '"failure":{' in record, "the failed chapter's record carries no failure")
    ctx.expect(f"01h_{ctx.case.name}" in run.stderr, "the summary does not name the failed experiment")


def _svg(ctx: Ctx) -> str:
    f = flag(ctx)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" '
            f'height="20" onload="{f}"><script>{f}</script><script xlink:href="data:text/javascript,{f}"/>'
            f'<a xlink:href="javascript:{f}"><rect width="10" height="10"/></a>'
            f'<a href="javascript:{f}"><text y="15">x</text></a>'
            f'<animate attributeName="onload" to="{f}"/><set attributeName="href" to="javascript:{f}"/>'
            f'<foreignObject width="10" height="10"><iframe xmlns="http://www.w3.org/1999/xhtml" '
            f'srcdoc="&lt;script&gt;top.__pwned_{ctx.case.name}=1&lt;/script&gt;"></iframe></foreignObject>'
            f'<image href="x" onerror="{f}"/><rect width="5" height="5" fill="red"/></svg>')


@case("hostile", mode="rebuilt", hostile=True)
def h_svg_display(ctx: Ctx):
    hostile_experiment(ctx, f"from IPython.display import SVG, display\ndisplay(SVG({_svg(ctx)!r}))")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_svg_raw(ctx: Ctx):
    hostile_experiment(ctx, "from IPython.display import display\n"
                            f"display({{'image/svg+xml': {_svg(ctx)!r}}}, raw=True)")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_unbalanced_fence(ctx: Ctx):
    hostile_experiment(ctx, "from IPython.display import Markdown, display\n"
                            "display(Markdown('```python\\nx'))\ndisplay(Markdown('~~~\\n<details>\\n$$\\nPWNED'))\n"
                            "print('````\\nPWNED open fence')",
                       observation="## 考察\n\nAfter the open fences.")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_control_bytes(ctx: Ctx):
    hostile_experiment(ctx, "import sys\n"
                            "print('nul\\x00bell\\x07bs\\x08esc\\x1b[31mred\\x1b[0m ff\\x0c vt\\x0b del\\x7f "
                            "rlo\\u202eCBA bom\\ufeff lsep\\u2028 end')\n"
                            "sys.stderr.write('\\x00\\x01\\x02\\r\\n')\n"
                            "from IPython.display import Markdown, display\n"
                            "display(Markdown('a\\x00b\\x1b]0;PWNED\\x07'))",
                       observation="## 考察\n\nControls above.")
    hostile_build(ctx)
    for relative in ("build/qiita/article.md", "site/index.md"):
        text = ctx.read(relative)
        bad = sorted({repr(ch) for ch in text if (ord(ch) < 32 and ch not in "\n\t") or ord(ch) == 127})
        ctx.expect(not bad, f"{relative} holds raw control characters {bad}")


@case("hostile", mode="rebuilt", hostile=True)
def h_figure_alt(ctx: Ctx):
    """A figure whose alt text (cell metadata) tries to close the image syntax and add markup."""
    alt = f"x](javascript:{flag(ctx)}) <img src=x onerror='{flag(ctx)}'> [PWNED"
    png = base64.b64encode(_png()).decode()
    hostile_experiment(ctx, f"# %% Figure alt=\"{alt}\"\nfrom IPython.display import display\n"
                            f"display({{'image/png': {png!r}}}, raw=True)")
    hostile_build(ctx)
    ctx.expect(list(ctx.path(f"build/figures/01h_{ctx.case.name}").glob("*.png")), "the figure was not harvested")


def _png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * 4 for _ in range(3))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@case("hostile", mode="rebuilt", hostile=True)
def h_huge_line(ctx: Ctx):
    """print("A" * 10_000_000): finishes in seconds, cut with a marker."""
    hostile_experiment(ctx, "print('A' * 10_000_000)")
    run = hostile_build(ctx)
    ctx.notes.append(f"build {run.seconds:.1f}s")
    ctx.expect(run.seconds < 30, f"the build took {run.seconds:.1f}s")
    article = ctx.read("build/qiita/article.md")
    ctx.expect(len(article) < 1_000_000, f"the article is {len(article):,} characters long")
    ctx.expect("output cut" in article, "no cut marker in the article")
    size = ctx.path(f"build/executed/01h_{ctx.case.name}.ipynb").stat().st_size
    ctx.expect(size < 2_000_000, f"the executed notebook is {size:,} bytes")


HOSTILE_PROSE = (
    "結果の表を見ると、値の並び方には一定の規則があることが分かります。図の線は右に行くほど上がっており、"
    "入力が大きくなるほど出力も大きくなる様子がよく見えます。ここで大切なのは、数字そのものよりも変化の向きです。"
    "同じ条件で何度か試すと、ばらつきは小さく、結果は安定していました。条件を変えたときの違いにも注目してください。"
    "細かな差は誤差の範囲に収まっており、全体の傾向を読み取るには十分な精度があります。"
    "次の章では、別の見方から同じ現象を確かめます。記録の読み方に慣れると、実験の設計も楽になります。\n\n"
    "この実験では小さなモデルの出力を確かめ、結果の読み方を丁寧に説明します。記録された値の意味を順番に見ていきましょう。"
    "表と図を見比べると、傾向がはっきりと分かります。\n\n{payload}\n\n:::note alert\nPWNED 注意書きの偽物です\n:::\n\n"
    "!!! danger \"PWNED\"\n    偽の警告です\n\n~~~\n閉じないフェンスです PWNED\n\n<details><summary>PWNED</summary>\n\n"
    "PWNED 見出し\n=====\n\n[リンク](javascript:{flag}) と <a href=\"javascript:{flag}\">もう一つ</a>\n\n"
    "```\nコードのフェンス\n"
)


@case("hostile", mode="rebuilt", hostile=True)
def h_llm_prose(ctx: Ctx):
    """LLM-drafted prose with a script, ::: lines, !!! lines, open fences and headings."""
    from fake_openai import FakeOpenAI, completion

    hostile_experiment(ctx, "print('hello')")
    text = HOSTILE_PROSE.format(payload=payload(ctx), flag=flag(ctx))
    ctx.configure(llm={"max_unsupported_share": 1.0})  # the fact check is not what this case tests
    with FakeOpenAI([(200, completion(text))]) as server:
        hostile_build(ctx, "--llm", "--llm-base-url", server.base_url)
    ctx.expect("丁寧に説明します" in ctx.read("build/qiita/article.md"),
               "the drafted prose was not published (the case exercises nothing)")


@case("hostile", mode="rebuilt", hostile=True)
def h_dataframe_html(ctx: Ctx):
    """A table whose cells hold markup, shown by pandas (escaped) and by to_html(escape=False)."""
    hostile_experiment(ctx, f"import pandas as pd\nfrom IPython.display import HTML, display\n"
                            f"df = pd.DataFrame({{'a': [{payload(ctx)!r}, '| PWNED | cell |']}})\ndisplay(df)\n"
                            f"display(HTML(df.to_html(escape=False)))")
    hostile_build(ctx)


# secrets ---------------------------------------------------------------------------

@case("secrets", mode="rebuilt")
def secret_env_printed(ctx: Ctx):
    """An experiment prints os.environ and each credential; nothing may show them."""
    names = list(SECRETS)
    ctx.experiment("03_env", failing("Environment", "import os\nprint(dict(os.environ))",
                                     f"for name in {names!r}:\n    print(name, os.environ.get(name))",
                                     "import sys\nsys.stderr.write(repr(os.environ))",
                                     "from pipeline.glue import glue\nglue('env', dict(os.environ))"))
    ctx.expect_ok(ctx.cli("build"))
    ctx.expect("MY_SERVICE_SECRET" in ctx.read("build/qiita/article.md"),
               "the experiment's output is not in the article")


@case("secrets", mode="rebuilt")
def secret_allowed_token_redacted(ctx: Ctx):
    """kernel_env_allow = ["HF_TOKEN"]: the kernel sees it, no output shows it."""
    ctx.configure(top={"kernel_env_allow": ["HF_TOKEN"]})
    ctx.experiment("03_env", failing("Allowed token", "import os\ntoken = os.environ.get('HF_TOKEN', '')\n"
                                     "print('length', len(token))\nprint(token)",
                                     "import sys\nsys.stderr.write(token)",
                                     "from IPython.display import Markdown, HTML, display\n"
                                     "display(Markdown('token: ' + token))\ndisplay(HTML('<b>' + token + '</b>'))",
                                     "from pipeline.glue import glue\nglue('token', token)\ntoken",
                                     "import warnings\nwarnings.warn('token ' + token)"))
    path = ctx.path("experiments/03_env.py")
    path.write_text(path.read_text(encoding="utf-8") + '\n# %% tags=["raises-exception"]\nraise RuntimeError(token)\n',
                    encoding="utf-8")
    ctx.expect_ok(ctx.cli("build"))
    ctx.expect(f"length {len(SECRETS['HF_TOKEN'])}" in ctx.read("build/qiita/article.md"),
               "the kernel did not see HF_TOKEN although kernel_env_allow lists it")


@case("secrets", mode="rebuilt")
def secret_llm_url_password(ctx: Ctx):
    """--llm-base-url with user:password (a working endpoint): the password is never printed or written."""
    from fake_openai import FakeOpenAI, completion

    with FakeOpenAI([(200, completion("この実験の結果を丁寧に説明します。図と表から傾向が読み取れます。"))]) as server:
        url = server.base_url.replace("http://", f"http://user:{URL_PASSWORD}@")
        ctx.expect_ok(ctx.cli("build", "--llm", "--llm-base-url", url))


@case("secrets", mode="rebuilt")
def secret_llm_url_password_unreachable(ctx: Ctx):
    """The same with an endpoint that refuses connections (error messages often quote URLs)."""
    url = f"http://user:{URL_PASSWORD}@127.0.0.1:{_closed_port()}/v1"
    ctx.configure(llm={"max_retries": 0})
    ctx.expect_ok(ctx.cli("build", "--llm", "--llm-base-url", url))
    run = ctx.cli("build", "--llm=required", "--llm-base-url", url)
    ctx.expect_error(run)


@case("secrets", mode="rebuilt")
def secret_llm_url_password_in_config(ctx: Ctx):
    """llm.base_url with user:password in pyproject.toml: `config` and the build never print it."""
    from fake_openai import FakeOpenAI

    with FakeOpenAI([(500, {"error": {"message": "boom"}})]) as server:
        url = server.base_url.replace("http://", f"http://user:{URL_PASSWORD}@")
        ctx.configure(llm={"base_url": url, "max_retries": 0})
        ctx.secret_files.add("pyproject.toml")
        ctx.expect_ok(ctx.cli("config"))
        ctx.expect_ok(ctx.cli("build", "--llm"))


# LLM endpoint faults -----------------------------------------------------------------

def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _author_text_kept(ctx: Ctx, run: Run) -> None:
    ctx.expect_ok(run)
    ctx.expect("The answer is 42." in ctx.read("build/qiita/article.md"), "the author's observation is gone")
    ctx.expect("author's text is used" in run.stderr or "without drafted prose" in run.stderr,
               f"no warning that the author's text is used; stderr ends: {_tail(run.stderr)}")


@case("llm", mode="rebuilt")
def llm_unreachable(ctx: Ctx):
    ctx.configure(llm={"max_retries": 0})
    run = ctx.cli("build", "--llm", "--llm-base-url", f"http://127.0.0.1:{_closed_port()}/v1")
    _author_text_kept(ctx, run)
    ctx.expect(run.seconds < 20, f"took {run.seconds:.1f}s against a closed port")


@case("llm", mode="rebuilt")
def llm_server_errors(ctx: Ctx):
    from fake_openai import FakeOpenAI

    with FakeOpenAI([(500, {"error": {"message": "boom"}})]) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    _author_text_kept(ctx, run)
    ctx.expect(run.seconds < 30, f"took {run.seconds:.1f}s against a failing endpoint")


@case("llm", mode="rebuilt")
def llm_deadline(ctx: Ctx):
    """An endpoint that answers after 30 s, per-request timeout 20 s, deadline 3 s: the whole
    pass ends within the deadline."""
    from fake_openai import FakeOpenAI, completion

    ctx.configure(llm={"timeout": 20.0, "deadline": 3.0, "max_retries": 0})
    with FakeOpenAI([(200, completion("遅い答えです。"))], delay=30) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    _author_text_kept(ctx, run)
    started = re.search(r"drafting \d+ sections", run.stderr)
    ctx.notes.append(f"build {run.seconds:.1f}s")
    ctx.expect(run.seconds < 3.0 + 6, f"the build took {run.seconds:.1f}s with a 3s LLM deadline")
    ctx.expect(started, "no 'drafting' line")


@case("llm", mode="rebuilt")
def llm_timeouts(ctx: Ctx):
    """Every request times out (1 s): the pass gives up on the endpoint quickly."""
    from fake_openai import FakeOpenAI, completion

    ctx.configure(llm={"timeout": 1.0, "deadline": 60.0, "max_retries": 0})
    with FakeOpenAI([(200, completion("遅い答えです。"))], delay=10) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    _author_text_kept(ctx, run)
    ctx.expect(run.seconds < 15, f"took {run.seconds:.1f}s with 1s timeouts")


@case("llm", mode="rebuilt")
def llm_malformed_json(ctx: Ctx):
    from fake_openai import FakeOpenAI

    with FakeOpenAI([(200, "this is not json {")]) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    _author_text_kept(ctx, run)


@case("llm", mode="rebuilt")
def llm_empty_answers(ctx: Ctx):
    """Empty answers fall back to the author's text, and a rebuild asks nothing again."""
    from fake_openai import FakeOpenAI, completion

    with FakeOpenAI([(200, completion(""))]) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
        asked = len(server.requests)
        again = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
        ctx.expect(len(server.requests) == asked, f"the rebuild made {len(server.requests) - asked} requests")
    _author_text_kept(ctx, run)
    ctx.expect_ok(again)
    ctx.expect(asked > 0, "no request was made")


@case("llm")
def llm_required_unreachable(ctx: Ctx):
    """--llm=required with an unreachable endpoint: a clear error, nothing published."""
    ctx.configure(llm={"max_retries": 0})
    run = ctx.cli("build", "--llm=required", "--llm-base-url", f"http://127.0.0.1:{_closed_port()}/v1")
    ctx.expect_error(run, "--llm")


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
    notes: list[str] = field(default_factory=list)
    root: Path | None = None
    hostile: bool = False

    def __repr__(self) -> str:
        return f"Result({self.name}, {'ok' if self.ok else 'FAILED'})"

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return len(self.lost), len(self.leaked), len(self.scripts or []), len(self.tracebacks)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.leaked or self.scripts or self.tracebacks or self.problems)

    def report(self) -> str:
        lines = [f"{self.name}: {'ok' if self.ok else 'FAILED'} ({self.seconds:.1f}s, exit {self.rc})"]
        if not self.ok and self.root is not None:
            lines.append(f"  command outputs: {self.root.parent / 'logs'}")
        for label, items in (("lost", self.lost), ("leaked", self.leaked), ("scripts run", self.scripts or []),
                             ("raw tracebacks", self.tracebacks), ("expectation", self.problems),
                             ("note", self.notes)):
            lines += [f"  {label}: {item}" for item in items]
        return "\n".join(lines)


def run_case(case: Case, base: Base, workdir: Path) -> Result:
    work = Path(workdir) / case.name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    root = work / "proj"
    shutil.copytree(base.root, root, symlinks=True)
    ctx = Ctx(case, root, work, cli_env(work / "home"), base)
    started = time.monotonic()
    try:
        case.func(ctx)
    except Exception as exc:  # noqa: BLE001 - a harness failure is reported with the case, never hidden
        ctx.problems.append(f"the case itself raised {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}")
    finally:
        for proc in ctx.procs:
            if proc.popen.poll() is None:
                ctx.problems.append(f"`{' '.join(proc.args)}` still running at the end of the case; killed")
                proc.popen.kill()
                proc.finish(30)
    seconds = time.monotonic() - started
    result = Result(case.name, case.group, seconds, ctx.runs[-1].rc if ctx.runs else None, root=root,
                    hostile=case.hostile)
    result.lost = list(ctx.lost)
    result.lost += intact_problems(ctx) if ctx.mode == "intact" else consistency_problems(root, ctx.user_files)
    result.leaked = leak_findings(ctx)
    result.tracebacks = traceback_findings(ctx)
    result.problems = list(ctx.problems) + leftover_findings(ctx)
    if ctx.mode == "intact":
        result.problems += staging_problems(root, ctx.user_files)
    if case.hostile:
        result.problems += structure_problems(ctx)
    result.notes = ctx.notes
    return result


# ---------------------------------------------------------------------------
# The browser: every hostile case's MkDocs page, its Qiita Markdown and its SVG files
# ---------------------------------------------------------------------------

def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_problem() -> str | None:
    import importlib.util

    if not chromium():
        return "needs Debian's chromium (apt-get install chromium)"
    for module in ("playwright", "mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            return f"needs {module}: run `.setup/install test`"
    return None


_PROBE = """async () => {
  const dangerous = /^\\s*(javascript|vbscript|data):/i;
  for (const a of document.querySelectorAll('a, area')) {
    const href = a.getAttribute('href') || a.getAttribute('xlink:href')
      || a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '';
    if (dangerous.test(href)) {
      try { a.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); } catch (e) {}
    }
  }
  for (const el of document.querySelectorAll('*')) {
    for (const attr of Array.from(el.attributes)) {
      if (/^on/i.test(attr.name)) {
        try { el.dispatchEvent(new Event(attr.name.slice(2).toLowerCase())); } catch (e) {}
      }
    }
  }
  for (const form of document.querySelectorAll('form')) { try { form.requestSubmit(); } catch (e) {} }
  await new Promise(r => setTimeout(r, 250));
  let flags = Object.keys(window).filter(k => k.startsWith('__pwned'));
  for (const frame of document.querySelectorAll('iframe')) {
    try { flags = flags.concat(Object.keys(frame.contentWindow).filter(k => k.startsWith('__pwned'))); } catch (e) {}
  }
  return {flags: flags, title: document.title || ''};
}"""


def browser_check(results: list[Result], workdir: Path) -> str | None:
    """Load every hostile case's outputs in chromium and count the injected scripts that ran.
    Returns why it could not run, or None."""
    problem = browser_problem()
    if problem:
        return problem
    hostile = [r for r in results if r.hostile and r.root is not None]
    if not hostile:
        return None
    batch = Path(workdir) / "browser"
    if batch.exists():
        shutil.rmtree(batch)
    docs = batch / "docs"
    (docs / "javascripts").mkdir(parents=True)
    for script in (REPO / "site" / "javascripts").glob("*"):
        if script.is_file():
            shutil.copy(script, docs / "javascripts" / script.name)
    links = "".join(f"- [{r.name}]({r.name}/index.md)\n" for r in hostile)
    (docs / "index.md").write_text("# Hostile outputs\n\n" + links, encoding="utf-8")
    pages: dict[str, list[str]] = {}
    from markdown_it import MarkdownIt

    qiita_html = MarkdownIt("commonmark", {"html": True}).enable("table")
    for result in hostile:
        site = result.root / "site"
        target = docs / result.name
        pages[result.name] = []
        if (site / "index.md").is_file():
            target.mkdir()
            shutil.copy(site / "index.md", target / "index.md")
            if (site / "figures").is_dir():
                shutil.copytree(site / "figures", target / "figures")
            pages[result.name].append(f"html/{result.name}/")
        article = read_text(result.root / "build/qiita/article.md")
        if article:
            page = batch / "qiita" / f"{result.name}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text("<!doctype html><meta charset=utf-8><title>qiita</title><body>"
                            + qiita_html.render(article) + "</body>", encoding="utf-8")
            pages[result.name].append(f"qiita/{result.name}.html")
        svgs = sorted({p for folder in ("build/figures", "site/figures", "build/qiita/figures")
                       for p in (result.root / folder).rglob("*.svg")})
        for number, svg in enumerate(svgs):
            copy = batch / "svg" / result.name / f"{number}.svg"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(svg, copy)
            pages[result.name].append(f"svg/{result.name}/{number}.svg")
        result.scripts = []
    control = batch / "control"
    control.mkdir()
    (control / "index.html").write_text(CONTROL_HTML, encoding="utf-8")
    (control / "0.svg").write_text(CONTROL_SVG, encoding="utf-8")
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    config = re.sub(r"(?m)^docs_dir:.*$", "docs_dir: docs", config)
    config = re.sub(r"(?m)^site_dir:.*$", "site_dir: html", config)
    (batch / "mkdocs.yml").write_text(config, encoding="utf-8")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    for name in SECRETS:
        env.pop(name, None)
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=batch, env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    if built.returncode != 0:
        for result in hostile:
            result.problems.append(f"mkdocs build of the hostile pages failed: {_tail(built.stderr)}")
    started = time.monotonic()
    control_result = Result("control", "browser", 0.0, None, scripts=[])
    _load_pages(batch, {**pages, "control": ["control/index.html", "control/0.svg"]},
                {**{r.name: r for r in hostile}, "control": control_result})
    seen = {item.split(": ", 1)[1] for item in control_result.scripts or []}
    missing = sorted(set(CONTROL_FLAGS) - {s.split(" ", 1)[0] for s in seen})
    for result in hostile:
        result.notes.append(f"browser: {len(pages[result.name])} pages checked")
        if missing or control_result.problems:
            result.problems.append(f"the browser probe missed scripts on its control pages ({missing}, "
                                   f"{control_result.problems}): its zero cannot be trusted")
    hostile[0].notes.append(f"browser check of all hostile pages took {time.monotonic() - started:.1f}s")
    return None


#: a control page and SVG whose scripts must be seen, so that a zero means something
CONTROL_FLAGS = ("window.__pwned_control_script", "window.__pwned_control_img", "window.__pwned_control_link",
                 "window.__pwned_control_svg")
CONTROL_HTML = ("<!doctype html><meta charset=utf-8><title>control</title>"
                "<script>window.__pwned_control_script=1</script><img src=x onerror=\"window.__pwned_control_img=1\">"
                "<a href=\"javascript:window.__pwned_control_link=1\">x</a>")
CONTROL_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="window.__pwned_control_svg=1">'
               '<rect width="5" height="5"/></svg>')


def _load_pages(batch: Path, pages: dict[str, list[str]], results: dict[str, Result]) -> None:
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_QuietHandler, directory=str(batch))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_port}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            try:
                context = browser.new_context()
                context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(origin)
                              else route.abort())
                for name, urls in pages.items():
                    for url in urls:
                        page = context.new_page()
                        page.on("dialog", lambda dialog: dialog.dismiss())
                        try:
                            response = page.goto(origin + url, wait_until="load", timeout=30_000)
                            if response is None or response.status != 200:
                                results[name].problems.append(f"browser: {url}: HTTP "
                                                              f"{response.status if response else 'no response'}")
                                continue
                            page.wait_for_timeout(150)
                            seen = page.evaluate(_PROBE)
                        except Exception as exc:  # noqa: BLE001 - playwright raises many error types; reported
                            results[name].problems.append(f"browser: {url}: {type(exc).__name__}: {exc}")
                            continue
                        finally:
                            page.close()
                        results[name].scripts += [f"{url}: window.{flag} set" for flag in sorted(set(seen["flags"]))]
                        if "PWNED" in seen["title"]:
                            results[name].scripts.append(f"{url}: document.title changed to {seen['title'][:60]!r}")
                context.close()
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# ---------------------------------------------------------------------------
# Everything at once (the benchmark)
# ---------------------------------------------------------------------------

def select(names: list[str] | None = None) -> list[Case]:
    if not names:
        return list(CASES)
    chosen = [c for c in CASES if any(fnmatch.fnmatch(c.name, n) for n in names)]
    if not chosen:
        raise SystemExit(f"no case matches {names}; known: {', '.join(c.name for c in CASES)}")
    return chosen


def run_all(cases: list[Case], workdir: Path, base: Base | None = None,
            on_result: Callable[[Result], None] | None = None) -> tuple[list[Result], str | None]:
    base = base or make_base(workdir)
    results = []
    for item in cases:
        result = run_case(item, base, workdir)
        results.append(result)
        if on_result and not item.hostile:
            on_result(result)
    why = browser_check(results, workdir)
    if on_result:
        for result in results:
            if result.hostile:
                on_result(result)
    return results, why
