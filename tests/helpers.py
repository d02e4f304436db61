"""Small helpers the tests, the fault battery and the benchmarks share (no pytest, no fixtures).

- ``free_port``: a local TCP port nothing listens on (a server to start there, or a
  closed endpoint to point a client at).
- ``masked_record``: a harvested record as JSON data, its volatile fields blanked, so
  that two runs of the same experiment compare equal.
- ``png``: the bytes of a small valid RGB PNG of one colour.
- ``raw_notebook``: a notebook written as JSON text, however malformed its cells.
- ``wait_for``: poll a condition until it holds or a deadline passes (wait for the event
  itself, never for a fixed time).
- ``stop``: stop a command (a preview) with Ctrl-C and read what it printed.
- ``served``: a folder on a local HTTP server, for the page tests' browser.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import socket
import struct
import threading
import time
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
