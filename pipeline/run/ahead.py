"""Each cell's request sent to the kernel while the cell before it still runs.

nbclient sends a cell's ``execute_request`` once the previous cell's reply and its outputs are in;
meanwhile the kernel waits: about 4 ms a cell here, 0.6 s over a notebook of 150 short cells (the
same for nbconvert). ``SendAhead`` lets the kernel find the next request already queued:

- when nbclient sends cell *i*, the request of the next cell the run will execute goes too, with
  the same options nbclient will give it (``store_history``, ``stop_on_error``); when nbclient
  then "sends" that cell, it gets the request already sent, and waits for its messages as before;
- the kernel runs requests one at a time, in order, and tags every message with its request, so
  outputs, replies and timestamps stay each cell's own;
- a cell that fails stops the one queued behind it as before: an IPython kernel aborts the requests
  queued behind an error when ``stop_on_error`` is set (it is, unless the cell may fail); a cell
  that may fail (``allow_errors``, the ``raises-exception`` tag) lets the next one run, as nbclient
  would. Where a time limit stops the run, the kernel is interrupted: the cell running (the late one,
  or the one sent ahead) fails and the rest is aborted. Either way the session waits for the
  kernel's answer to the request sent ahead before it shuts the kernel down. (The one case where a
  cell sent ahead has begun: the experiment's time ran out in the second a cell is given at least,
  and it ended past the limit; the next cell, already started, is interrupted at once and, as
  before, reported as not run, without outputs.)
- only a cell nbclient itself would send goes ahead (code, not blank, not tagged to be skipped):
  the next such cell of those the run was given; nothing goes ahead of a run's last cell;
- a kernel that dies after a cell answered, while the cell sent ahead was running, is reported at
  that cell (``queued_index``): the death can come before nbclient has the first cell's last
  message, which it would otherwise blame.

Local kernels only (``KernelSession.send_ahead``): a gateway's kernels answer as before.
"""

from __future__ import annotations


class SendAhead:
    """Wraps the ``execute`` of nbclient's kernel client *client.kc* for one run. ``next(cells)``
    gives the cells the run will go through after the one nbclient is given next."""

    def __init__(self, client):
        self.client = client
        self.kc = client.kc
        self.send = client.kc.execute
        self.queued: tuple[tuple, str, int] | None = None  # (what was sent, its msg_id, the cell's index)
        self.upcoming: tuple[tuple, int] | None = None
        client.kc.execute = self.execute

    def next(self, cells) -> None:
        """*cells*: ``(index, cell)`` of the cells after the one nbclient is given next."""
        index, cell = next(((i, c) for i, c in cells if self._sent_by_nbclient(c)), (None, None))
        self.upcoming = (self._request(cell), index) if cell is not None else None

    @property
    def queued_index(self) -> int | None:
        """The index of the cell whose request went ahead and waits in the kernel, if any."""
        return self.queued[2] if self.queued is not None else None

    def execute(self, code, silent=False, store_history=True, user_expressions=None, allow_stdin=None,
                stop_on_error=True, **options):
        request = (code, silent, store_history, user_expressions, allow_stdin, stop_on_error, tuple(sorted(options.items())))
        if self.queued is not None and self.queued[0] == request:
            msg_id = self.queued[1]
        else:
            msg_id = self._send(request)
        self.queued = None
        if self.upcoming is not None:
            upcoming, index = self.upcoming
            self.queued = (upcoming, self._send(upcoming), index)
            self.upcoming = None
        return msg_id

    def close(self) -> str | None:
        """The client's own ``execute`` again (the version probe and anything after the run); returns
        the message id of a request sent ahead and never taken (the run stopped before that cell)."""
        self.kc.execute = self.send
        left, self.queued, self.upcoming = self.queued, None, None
        return left[1] if left is not None else None

    def wait_for(self, msg_id: str, seconds: float = 10.0) -> None:
        """Until the kernel has answered *msg_id* (aborted, as a cell behind a failure is): an interrupt
        that came while the kernel was still aborting it (a shutdown interrupts first) could let it run."""
        import time
        from queue import Empty

        from nbclient.util import run_sync

        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = run_sync(self.kc.shell_channel.get_msg)(timeout=left)
            except Empty:
                return
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return

    def _send(self, request: tuple) -> str:
        code, silent, store_history, user_expressions, allow_stdin, stop_on_error, options = request
        return self.send(code, silent=silent, store_history=store_history, user_expressions=user_expressions,
                         allow_stdin=allow_stdin, stop_on_error=stop_on_error, **dict(options))

    def _sent_by_nbclient(self, cell) -> bool:
        return (cell.cell_type == "code" and bool(cell.source.strip())
                and self.client.skip_cells_with_tag not in cell.metadata.get("tags", []))

    def _request(self, cell) -> tuple:
        """What nbclient's ``execute_cell`` will send for *cell*: its source, history kept, and
        ``stop_on_error`` unless the cell may fail."""
        may_fail = not self.client.force_raise_errors and (
            self.client.allow_errors or "raises-exception" in cell.metadata.get("tags", []))
        return (cell.source, False, True, None, None, not may_fail, ())
