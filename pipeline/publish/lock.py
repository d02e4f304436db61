"""One command at a time per build folder: ``BuildLock``.

The lock (``build/.lock``, an exclusive ``flock``) is held for a whole command; a
second command waits for it and says which process it waits for (its pid, command
and start time are written into the lock file), or with ``wait=False`` stops with
``BuildLocked``. The kernel releases the lock when the holder dies, even by SIGKILL.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


class BuildLock:
    """An exclusive lock on the build folder (``build/.lock``), held for a whole command.

    A second command waits for it, saying which process holds it."""

    def __init__(self, path: Path, command: str = "", wait: bool = True,
                 notify: Callable[[str], None] = print):
        self.path = Path(path)
        self.command = command
        self.wait = wait
        self.notify = notify
        self._handle = None

    def __enter__(self) -> "BuildLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            if not self.wait:
                handle.close()
                from pipeline.errors import BuildLocked

                raise BuildLocked(f"{self.path}: another command holds the build folder ({holder}); "
                                  "wait for it to finish") from None
            self.notify(f"waiting for another command to finish: {holder}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "command": self.command,
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        handle.flush()
        self._handle = handle
        return self

    def holder(self) -> str:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            info = {}
        if not info:
            return "unknown process"
        return f"pid {info.get('pid')} ({info.get('command') or 'a pipeline command'}, since {info.get('since')})"

    def __exit__(self, *exc) -> None:
        import fcntl

        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


@contextmanager
def locked(layout, command: str, progress) -> Iterator[None]:
    """Hold the build folder's lock for *command*, first finishing any publication an
    interrupted command left half-done and removing its staging leftovers. Before that (before
    anything is written, the lock file included), every path the command may write is resolved
    (``layout.check_writable``): a symbolic link leading out of the project or into .git stops it."""
    from pipeline.layout import check_writable, published_outside_build, write_problems
    from pipeline.storage import recover

    check_writable(layout.write_targets(), layout)
    with BuildLock(layout.lock, command=f"python -m pipeline {command}", notify=progress.info):
        beside = [p for p in published_outside_build(layout) if not write_problems([p], layout)]
        recover(layout.journal, layout.output_folders(), warn=progress.warn, beside=beside)
        yield
