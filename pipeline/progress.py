"""Progress on the terminal: a live status on a TTY, plain log lines otherwise.

One experiment at a time: a line per cell (live, with a running clock, on a TTY).
Several at once (``--jobs``): a line when each experiment starts and ends, and on a
TTY one live status line naming each running experiment and its current cell.
Stages report through a ``Progress``; it also collects warnings so the final
summary can repeat them. It is safe to call from several threads. Every message
passes ``text.terminal_text``: nothing from a notebook moves the cursor or recolours.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from pipeline.text import terminal_text


class Progress:
    def __init__(self, stream: TextIO | None = None, live: bool | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.quiet = quiet
        self.warnings: list[str] = []
        #: True while several experiments run at once (set by ``execute``)
        self.parallel = False
        self._lock = threading.RLock()
        self._ticker: threading.Thread | None = None
        self._running: dict[int, tuple[str, str, float]] = {}  # thread -> (experiment, cell text, started)
        self._names = threading.local()

    # messages ----------------------------------------------------------
    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(terminal_text(message) + "\n")

    def warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)
        self._write(f"warning: {terminal_text(message)}\n")

    def experiment_started(self, position: int, total: int, name: str, cells: int, where: str = "") -> None:
        self._names.name = name
        self.info(f"[{position}/{total}] {name}: executing {cells} code cell{'s' if cells != 1 else ''}"
                  + (f" on {where}" if where and where != "local" else ""))

    def experiment_cached(self, position: int, total: int, name: str) -> None:
        self.info(f"[{position}/{total}] {name}: cached (unchanged since the last run)")

    def experiment_stored(self, position: int, total: int, name: str) -> None:
        self.info(f"[{position}/{total}] {name}: stored outputs (published as the notebook holds them, not run here)")

    def experiment_finished(self, name: str, seconds: float, ok: bool) -> None:
        self.info(f"      {name}: {'done' if ok else 'FAILED'} in {seconds:.1f}s")

    # cells -------------------------------------------------------------
    def cell_started(self, cell: int, position: int, total: int, label: str) -> None:
        """*cell*: the cell's number in the notebook (as errors name it); *position* of *total* code cells."""
        text = terminal_text(f"cell {cell} [{position}/{total}] {label}")
        with self._lock:
            self._running[threading.get_ident()] = (getattr(self._names, "name", ""), text, time.monotonic())
        if self.live and not self.quiet:
            self._redraw()
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()

    def cell_finished(self, status: str = "ok") -> None:
        with self._lock:
            running = self._running.pop(threading.get_ident(), None)
        if running is None or self.quiet or self.parallel:
            if self.live and self.parallel:
                self._redraw()
            return
        _, text, started = running
        line = f"      {text}  {time.monotonic() - started:.1f}s{'' if status == 'ok' else '  ' + status}"
        self._write(("\r\x1b[K" if self.live else "") + line + "\n")

    def _tick(self) -> None:
        while True:
            time.sleep(0.5)
            if self._running:
                self._redraw()

    def _status(self) -> str:
        now = time.monotonic()
        if self.parallel:
            parts = [f"{name} {text.split(' ', 2)[1]} {now - started:.0f}s" for name, text, started in self._running.values()]
            return "      running: " + " | ".join(parts)
        _, text, started = next(iter(self._running.values()))
        return f"      {text}  {now - started:.0f}s"

    def _redraw(self) -> None:
        with self._lock:
            if not self._running:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                return
            self.stream.write("\r\x1b[K" + self._status()[:200])
            self.stream.flush()

    def _write(self, text: str) -> None:
        with self._lock:
            if self.live and self._running:
                text = "\r\x1b[K" + text
            self.stream.write(text)
            self.stream.flush()
            if self.live and self._running and self.parallel:
                self.stream.write(self._status()[:200])
                self.stream.flush()
