"""Small helpers the tests, the fault battery and the benchmarks share (no pytest, no fixtures).

- ``free_port``: a local TCP port nothing listens on (a server to start there, or a
  closed endpoint to point a client at).
- ``masked_record``: a harvested record as JSON data, its volatile fields blanked, so
  that two runs of the same experiment compare equal; ``masked_records``: a project's records
  harvested and masked.
- ``publish``: the export stage inside a ``Publication``, as ``build`` runs it.
- ``png``: the bytes of a small valid RGB PNG of one colour.
- ``raw_notebook``: a notebook written as JSON text, however malformed its cells.
- ``wait_for``: poll a condition until it holds or a deadline passes (wait for the event
  itself, never for a fixed time).
- ``stop``: stop a command (a preview) with Ctrl-C and read what it printed.
- ``Preview``: ``python -m pipeline preview`` on a free port, started again on another one when
  something took the port before the preview bound it.
- ``served``: a folder on a local HTTP server, for the page tests' browser.
- ``run_pipeline`` / ``pipeline_command`` / ``pipeline_env``: ``python -m pipeline ...`` as a user runs
  it, in a child process, with this checkout first on PYTHONPATH (the one CLI runner of the tests).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

#: what differs between two runs of the same experiment: when it ran and how long it took
VOLATILE_EXECUTION = ("executed_at", "duration")


def free_port() -> int:
    """A local TCP port that was free a moment ago; nothing listens on it once this returns."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def masked_record(record: Any, *also: str, keep_only: Iterable[str] | None = None,
                  environment: bool = True) -> dict:
    """*record* (an ExperimentRecord, its JSON text, or the path of its JSON file) as JSON data
    with the volatile fields set to None: ``execution.executed_at``, ``execution.duration``,
    every cell's ``execution_time``, and the further ``execution`` fields named in *also*
    (e.g. "cache_key"). ``keep_only`` keeps only those ``execution`` fields instead (e.g.
    ("mode",) to compare runs on different hosts); ``environment=False`` blanks the
    environment (Python and package versions) too."""
    if hasattr(record, "to_json"):
        text = record.to_json()
    elif isinstance(record, Path):
        text = record.read_text(encoding="utf-8")
    else:
        text = record
    data = json.loads(text)
    execution = data["execution"]
    if keep_only is not None:
        data["execution"] = {key: execution[key] for key in keep_only}
    else:
        for key in (*VOLATILE_EXECUTION, *also):
            if key not in execution:
                raise KeyError(f"the record's execution has no field {key!r}: {sorted(execution)}")
            execution[key] = None
    if not environment:
        data["environment"] = None
    for cell in data["cells"]:
        cell["execution_time"] = None
    return data


def masked_records(config: Any, progress: Any, names: list[str] | None = None) -> list[dict]:
    """The records of *names* (default: every experiment) harvested, each masked as ``masked_record`` does."""
    from pipeline.article.harvest import harvest

    return [masked_record(record) for record in harvest(config, names, progress=progress)]


def publish(records: Any, config: Any, progress: Any, **options: Any) -> Any:
    """*records* exported (``pipeline.publish.export.export``, with *options* such as ``drafts``) inside
    one ``Publication``, as ``build`` runs the export stage."""
    from pipeline.publish.export import export
    from pipeline.storage import Publication

    with Publication(config.layout.journal) as publication:
        return export(records, config, progress, publication, **options)


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (0x80, 0x80, 0x80)) -> bytes:
    """A valid RGB PNG of the given size, every pixel of colour *rgb* (grey by default)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def raw_notebook(path: Path, cells: list[dict]) -> Path:
    """A notebook written as JSON text, however malformed its cells (``{"cell_type": ..., "source": ...}``;
    a lone surrogate in a source is written as its \\udXXX escape, as a broken editor leaves it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "cells": [{"metadata": {}, **c, **({"outputs": [], "execution_count": None} if c["cell_type"] == "code"
                                           else {})} for c in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    return path


def alive(pid: int) -> bool:
    """Whether process *pid* runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition: Callable[[], Any], timeout: float = 30, interval: float = 0.05) -> Any:
    """Call *condition* until it returns something true, and return that; after *timeout*
    seconds return its last (false) answer, for the caller to assert on with a message."""
    deadline = time.monotonic() + timeout
    while True:
        answer = condition()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(interval)


def stop(proc, log) -> str:
    """Stop *proc* as Ctrl-C does and return what it wrote to *log* (an open file it writes to);
    a process that does not stop within a minute is killed, and the test fails."""
    import signal
    import subprocess

    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        log.seek(0)
        output = log.read()
        log.close()
    return output


def interruptible() -> None:
    """preexec_fn for a command a test interrupts: a shell that started the test run in the
    background made SIGINT ignored, and children inherit that; give the command Ctrl-C back."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Preview:
    """``python -m pipeline preview ARGS`` in *cwd* on a port free a moment before, its output in
    *log_path*. The preview binds the port only after its first build, and another program (another
    test run on this machine) can take it in between: the preview then exits saying so, and
    ``page`` starts it again on another port (*tries* times in all). Any other exit fails the test."""

    TAKEN = re.compile(r"cannot serve on|address already in use", re.IGNORECASE)

    def __init__(self, cwd: Path, env: dict[str, str], log_path: Path, *args: Any, tries: int = 3):
        self.cwd, self.env, self.log_path, self.args, self.tries = cwd, env, log_path, args, tries
        self._start()

    def _start(self) -> None:
        self.tries -= 1
        self.url = f"http://127.0.0.1:{free_port()}/"
        self.log = open(self.log_path, "w+", encoding="utf-8")  # a file: a full pipe would block the server
        self.proc = subprocess.Popen(pipeline_command("preview", "--port", self.url.rsplit(":", 1)[1].strip("/"), *self.args),
                                     cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=interruptible)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def page(self) -> str | None:
        """The page served now, None while there is none."""
        if self.proc.poll() is not None:
            output = self.output()
            if self.TAKEN.search(output) and self.tries > 0:
                self.log.close()
                self._start()
                return None
            raise AssertionError(f"the preview exited ({self.proc.returncode}):\n{output[-3000:]}")
        try:
            return urllib.request.urlopen(self.url, timeout=2).read().decode("utf-8", "replace")
        except OSError:
            return None

    def stop(self) -> str:
        """Stop it with Ctrl-C; what it printed."""
        return stop(self.proc, self.log)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def served(folder: Path):
    """Serve *folder* on a free local port while the block runs; yields the origin
    (``http://127.0.0.1:PORT/``). The server is shut down and its thread joined afterwards."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def zenn_slug(config) -> str:
    """The Zenn slug the build gives the article (derived from the title it chooses when none is set)."""
    from pipeline.article.title import titled_project

    return titled_project(config).zenn.slug


#: the repository this test suite belongs to
REPO = Path(__file__).resolve().parents[1]


def pipeline_command(*args: Any) -> list[str]:
    """The command line of ``python -m pipeline ARGS`` in this interpreter."""
    return [sys.executable, "-m", "pipeline", *map(str, args)]


def pipeline_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """*base* (default: this environment) with this checkout first on PYTHONPATH, and *extra* set."""
    import os

    base = dict(os.environ if base is None else base)
    path = os.pathsep.join(p for p in (str(REPO), base.get("PYTHONPATH", "")) if p)
    return {**base, "PYTHONPATH": path, **extra}


def run_pipeline(*args: Any, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300,
                 check: bool = False) -> subprocess.CompletedProcess:
    """``python -m pipeline ARGS`` in *cwd*, its output captured as text; *env* is the whole environment
    (default ``pipeline_env()``). With *check*, a non-zero exit is an AssertionError showing the output."""
    done = subprocess.run(pipeline_command(*args), cwd=cwd, env=pipeline_env() if env is None else env,
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"pipeline {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done
