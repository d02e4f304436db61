"""Progress on the terminal: one live line per running cell on a TTY, plain log lines otherwise.

Stages report through a ``Progress``; it also collects warnings so the final
summary can repeat them.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, live: bool | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.quiet = quiet
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._running: tuple[str, float] | None = None

    # messages ----------------------------------------------------------
    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(message + "\n")

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self._write(f"warning: {message}\n")

    def experiment_started(self, position: int, total: int, name: str, cells: int) -> None:
        self.info(f"[{position}/{total}] {name}: executing {cells} code cell{'s' if cells != 1 else ''}")

    def experiment_cached(self, position: int, total: int, name: str) -> None:
        self.info(f"[{position}/{total}] {name}: cached (unchanged since the last run)")

    def experiment_stored(self, position: int, total: int, name: str) -> None:
        self.info(f"[{position}/{total}] {name}: stored outputs (published as the notebook holds them, not run here)")

    def experiment_finished(self, name: str, seconds: float, ok: bool) -> None:
        self.info(f"      {name}: {'done' if ok else 'FAILED'} in {seconds:.1f}s")

    # cells -------------------------------------------------------------
    def cell_started(self, cell: int, position: int, total: int, label: str) -> None:
        """*cell*: the cell's number in the notebook (as errors name it); *position* of *total* code cells."""
        text = f"      cell {cell} [{position}/{total}] {label}"
        with self._lock:
            self._running = (text, time.monotonic())
        if self.live and not self.quiet:
            self._redraw()
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()

    def cell_finished(self, status: str = "ok") -> None:
        with self._lock:
            running, self._running = self._running, None
        if running is None or self.quiet:
            return
        text, started = running
        line = f"{text}  {time.monotonic() - started:.1f}s{'' if status == 'ok' else '  ' + status}"
        self._write(("\r\x1b[K" if self.live else "") + line + "\n")

    def _tick(self) -> None:
        while True:
            time.sleep(0.5)
            if self._running is not None:
                self._redraw()

    def _redraw(self) -> None:
        with self._lock:
            if self._running is None:
                return
            text, started = self._running
            self.stream.write(f"\r\x1b[K{text}  {time.monotonic() - started:.0f}s")
            self.stream.flush()

    def _write(self, text: str) -> None:
        with self._lock:
            if self.live and self._running is not None:
                text = "\r\x1b[K" + text
            self.stream.write(text)
            self.stream.flush()
