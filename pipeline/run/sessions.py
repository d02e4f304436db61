"""A started kernel that runs an experiment's cells: ``KernelSession``.

Observes, does not own, nbclient's cell loop: nbclient executes each cell; the
session maps its exceptions to ``Failure`` records naming the file, cell and
lines (in an experiment that allows errors, nbclient's ``allow_errors``, an error is an
output and the next cell runs), normalizes outputs as they come (linear time, size-capped), removes
credential values from them, and keeps the experiment's time limit. The same
session serves a clean run (``run_clean``: start, run every cell, stop) and the
warm kernels of ``pipeline preview`` (kept alive between runs).

Local kernels talk over IPC sockets in a private runtime folder, where the
connection file (it holds the kernel's key) also lives; it is removed when the
session closes, and by the next run when a kill prevented that.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline.config import Config
from pipeline.experiments import cell_label
from pipeline.lab import kernel_settings
from pipeline.progress import Progress
from pipeline.records import Experiment, Failure
from pipeline.run.kernel_env import (
    PROBE,
    clean_stale_runtimes,
    imported_modules,
    kernel_environment,
    redact,
    redact_outputs,
    remember_kernel,
    runtime_base,
)
from pipeline.run.outputs import normalize_outputs
from pipeline.run.threads import kernel_variables
from pipeline.text import clean_traceback

KERNEL_EXTENSION = "pipeline.kernel_extension"



class KernelStartFailed(Exception):
    """The kernel could not be started; ``failure`` says why and what to do."""

    def __init__(self, failure: Failure):
        super().__init__(failure.evalue)
        self.failure = failure


class KernelSession:
    """One kernel, started for an experiment, running the cells it is given."""

    where = "local"

    def __init__(self, experiment: Experiment | None, config: Config, secrets: list[str]):
        self.experiment = experiment  # None for a kernel started before its experiment is known
        #: the kernel's working folder (the experiment's); a prestarted kernel serves experiments there only
        self.folder = experiment.path.parent if experiment is not None else config.experiments_dir
        self.config = config
        self.secrets = secrets
        self.client = None
        self._private: Path | None = None
        self._log = None
        #: called once the kernel runs (``execute`` registers the session for --fail-fast there)
        self.on_start = None
        #: threads the kernel's math libraries start with (None: their default, every core); set when
        #: several experiments run at once, so that they do not fight over the cores
        self.threads: int | None = None
        #: whether the kernel's limits follow its share of a ``ThreadBudget`` (read from ``share_file``)
        self.follows_budget = False

    # lifecycle ---------------------------------------------------------------
    def start(self, nb) -> None:
        """Start the kernel and connect to it; a session prepared by ``launch`` (``pipeline.run.prestart``)
        only connects."""
        if self.launched:
            self._starting(self.client.start_new_kernel_client)
        else:
            self.client = self._client(nb)
            self._starting(self._start_kernel)
        if self.on_start is not None:
            self.on_start()

    @property
    def launched(self) -> bool:
        """Its kernel's process has been started (``launch``), whether or not anything is connected to it."""
        return self.client is not None and self.client.km is not None

    def launch(self) -> None:
        """Start the kernel process only (a local kernel started ahead of its experiment); ``start``
        connects to it later, from any thread."""
        self._starting(self._launch)

    def _starting(self, action) -> None:
        """Run a step of starting the kernel; a failure becomes ``KernelStartFailed`` saying what to do."""
        from jupyter_client.kernelspec import NoSuchKernel

        try:
            action()
        except NoSuchKernel:
            self.close()
            raise KernelStartFailed(failure(self.experiment, None, "NoSuchKernel",
                                            f"no Jupyter kernel named {self.config.kernel!r} is installed; set "
                                            "tool.pipeline.kernel or install it (python -m ipykernel install --user)")) from None
        except (RuntimeError, OSError) as exc:  # no answer in time, or its program cannot start
            last = self.last_words()
            self.close()
            raise KernelStartFailed(failure(self.experiment, None, "KernelStartError",
                                            f"the kernel {self.config.kernel!r} did not start ({type(exc).__name__}: {exc})"
                                            + (f"; it said: {last}" if last else "")
                                            + "; check the kernelspec (jupyter kernelspec list) or raise "
                                            "tool.pipeline.startup_timeout")) from None
        except BaseException:  # anything else (Ctrl-C, a gateway error): leave nothing behind
            self.close()
            raise

    def _client(self, nb, **options):
        from nbclient import NotebookClient

        return NotebookClient(
            nb,
            kernel_name=self.config.kernel,
            timeout=self.config.cell_timeout,
            startup_timeout=self.config.startup_timeout,
            record_timing=True,
            coalesce_streams=False,  # quadratic on long lines; normalize_outputs does it in linear time
            **options,
        )

    def _start_kernel(self) -> None:
        self._launch()
        self.client.start_new_kernel_client()

    def _launch(self) -> None:
        """Start the kernel process with jupyter_client alone, as nbclient's ``start_new_kernel`` would
        (the experiment's folder, history in memory), then hand it to a notebook client: a kernel started
        ahead does not wait the 0.1-0.2 s nbformat and nbclient take to import."""
        import tempfile

        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        clean_stale_runtimes()
        self._private = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=runtime_base()))
        km = AsyncKernelManager(kernel_name=self.config.kernel)
        km.client = _quickly_ready(km.client)
        _promptly_reaped(km)
        km.transport, km.ip = "ipc", str(self._private / "k")
        km.connection_file = str(self._private / "kernel.json")
        # the kernel's own stderr (not the cells' outputs, which come as messages) goes to a log
        # file, so its shutdown chatter stays off the terminal and a crash can be explained
        self._log = open(self._private / "kernel.log", "wb")
        arguments = [f"--IPKernelApp.extensions={KERNEL_EXTENSION}"] + (["--HistoryManager.hist_file=:memory:"] * km.ipykernel)
        if self.client is not None:
            self.client.km = km  # from here on close() shuts it down, whatever happens next
        try:
            run_sync(km.start_kernel)(extra_arguments=arguments, cwd=str(self.folder), env=self.environment(),
                                      stdout=self._log, stderr=subprocess.STDOUT)
            remember_kernel(self._private, getattr(km.provisioner, "pid", None))
            if self.client is None:  # started ahead: a placeholder notebook until the experiment's
                import nbformat

                self.client = self._client(nbformat.v4.new_notebook())
                self.client.km = km
        except BaseException:
            if self.client is None:  # close() has no client to shut it down with
                with contextlib.suppress(Exception):  # a kernel that never started cannot be stopped either
                    run_sync(km.shutdown_kernel)(now=True)
            raise

    @property
    def share_file(self) -> Path | None:
        """Where the kernel reads its share of the cores before each cell (``pipeline.run.threads``)."""
        return self._private / "threads" if self.follows_budget and self._private is not None else None

    def environment(self) -> dict[str, str]:
        return kernel_environment(dict(os.environ), self.config.kernel_env_allow, {
            "PIPELINE_SETTINGS": json.dumps(kernel_settings(self.config)),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"),
            **kernel_variables(self.threads, self.share_file),
        })

    def alive(self) -> bool:
        from nbclient.util import run_sync

        try:
            return self.launched and bool(run_sync(self.client.km.is_alive)())
        except Exception:  # a kernel manager that cannot even answer is not alive (many error types)
            return False

    def kill(self) -> None:
        """End the kernel process now, from any thread; the session's own thread then sees it die
        and closes the session (``close``)."""
        import signal

        client = self.client
        pid = getattr(getattr(getattr(client, "km", None), "provisioner", None), "pid", None)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        import shutil

        client, self.client = self.client, None
        if client is not None and client.km is not None:
            try:
                client._cleanup_kernel()
            except Exception:  # shutting down a dead or half-started kernel may fail in many ways
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None

    # running -----------------------------------------------------------------
    def run(self, nb, indices: list[int], progress: Progress, began: float) -> Failure | None:
        """Run the code cells *indices* of *nb* (in place); returns the first failure, or None."""
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        config, experiment, client = self.config, self.experiment, self.client
        client.nb = nb
        client.allow_errors = experiment.allow_errors
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        for index in indices:
            cell = nb.cells[index]
            number = code.index(index) + 1
            remaining = config.experiment_timeout - (time.monotonic() - began)
            if remaining <= 0:
                cell.outputs = []  # it never ran: an .ipynb's stored outputs are not this run's
                return failure(experiment, index, "ExperimentTimeout",
                               f"the experiment ran past its {config.experiment_timeout}s limit before this cell; "
                               "raise tool.pipeline.experiment_timeout or make the experiment faster")
            client.timeout = max(1, int(min(config.cell_timeout, remaining)))
            progress.cell_started(index + 1, number, len(code), cell_label(cell))
            t0 = time.monotonic()
            problem = None
            try:
                client.execute_cell(cell, index, execution_count=number)
            except CellTimeoutError:
                limit = client.timeout
                which = "tool.pipeline.cell_timeout" if limit == config.cell_timeout else "tool.pipeline.experiment_timeout"
                problem = failure(experiment, index, "CellTimeoutError",
                                  f"cell did not finish within {limit}s ({which}); raise the limit or make the cell faster")
            except DeadKernelError:
                problem = failure(experiment, index, "DeadKernelError", self.died())
            except CellExecutionError:
                error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
                problem = failure(experiment, index, error.ename if error else "CellExecutionError",
                                  error.evalue if error else "the cell raised an error",
                                  clean_traceback(error.traceback) if error else "")
            finally:
                cell.outputs = normalize_outputs(cell.get("outputs", []), config.max_output_chars)
                redact_outputs(cell, self.secrets)
                cell.metadata.setdefault("pipeline", {})["duration"] = round(time.monotonic() - t0, 3)
                skipped = client.skip_cells_with_tag in cell.metadata.get("tags", [])
                progress.cell_finished("failed" if problem else "skipped" if skipped else "ok")
            if problem is not None:  # an allowed credential the error message repeats is redacted too
                return dataclasses.replace(problem, evalue=redact(problem.evalue, self.secrets),
                                           traceback=redact(problem.traceback, self.secrets))
        if time.monotonic() - began > config.experiment_timeout:
            return failure(experiment, indices[-1] if indices else None, "ExperimentTimeout",
                           f"the experiment and the handling of its outputs ran past its {config.experiment_timeout}s "
                           "limit; raise tool.pipeline.experiment_timeout or print less")
        return None

    def died(self) -> str:
        message = ("the kernel died while running this cell (killed, crashed or out of memory); "
                   "reduce the memory the cell needs or run on a larger machine")
        last = redact(self.last_words(), self.secrets)
        return f"{message}. The kernel's last words: {last}" if last else message

    def last_words(self, limit: int = 600) -> str:
        """The end of the kernel's own log (what it printed outside any cell), if it said anything."""
        try:
            text = (self._private / "kernel.log").read_bytes()[-4000:].decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""
        lines = [line for line in text.splitlines() if line.strip() and "KeyboardInterrupt caught" not in line]
        return " / ".join(lines)[-limit:]

    def probe(self, sources: list[str]) -> dict:
        """Ask the kernel, silently (no output, no history), for its Python version and the
        versions of the packages the code imports."""
        import ast

        names = imported_modules(sources)
        try:
            msg_id = self.client.kc.execute(PROBE, silent=True, store_history=False, stop_on_error=False,
                                            user_expressions={"probe": f"_pipeline_probe({names!r})"})
            reply = self.client.wait_for_reply(msg_id)
            text = reply["content"]["user_expressions"]["probe"]["data"]["text/plain"]
            return json.loads(ast.literal_eval(text))
        except Exception:  # informative only: a kernel that cannot answer leaves it empty (many error types)
            return {}


def _promptly_reaped(km) -> None:
    """*km* sees its kernel's process end within 10 ms of it, not at jupyter_client's next 0.1 s poll
    (``finish_shutdown``): every experiment's closing waits for it, and the run's last one ends the run."""
    finish = km._async_finish_shutdown

    async def finish_shutdown(waittime=None, pollinterval=0.1, restart=False):
        return await finish(waittime, min(pollinterval, 0.01), restart)

    km._async_finish_shutdown = finish_shutdown


def _quickly_ready(make_client):
    """*make_client* (a kernel manager's ``client``), whose clients' ``wait_for_ready`` does not wait
    0.2 s for IOPub to fall silent (jupyter_client's; paid for each experiment, the first cell waits on
    it): ask for kernel_info until the reply comes and an IOPub message shows the subscription is up (a
    new subscriber misses what was sent before it connected), then take what is queued, without waiting."""
    from queue import Empty

    def make(**options):
        kc = make_client(**options)

        async def wait_for_ready(timeout: float | None = None) -> None:
            deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
            while True:
                kc.kernel_info()
                try:
                    reply = await kc.shell_channel.get_msg(timeout=0.5)
                    if reply["msg_type"] == "kernel_info_reply":
                        await kc.iopub_channel.get_msg(timeout=0.02)
                        kc._handle_kernel_info_reply(reply)
                        break
                except Empty:
                    pass
                if not await kc._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
            while await kc.iopub_channel.msg_ready():
                await kc.iopub_channel.get_msg(timeout=0)

        kc.wait_for_ready = wait_for_ready
        return kc

    return make


def run_clean(session: KernelSession, experiment: Experiment, progress: Progress, close=None):
    """Every code cell of a copy of the experiment's notebook, in the session's fresh kernel.

    Returns ``(notebook, failure, probe)``: failure is None when every cell ran; probe
    holds the kernel's Python version and the versions of the packages the experiment imported.
    *close* (default ``session.close``) ends the session once its outputs are in."""
    nb = copy.deepcopy(experiment.notebook)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    began = time.monotonic()
    try:
        session.start(nb)
    except KernelStartFailed as exc:
        return nb, exc.failure, {}
    try:
        problem = session.run(nb, code, progress, began)
        probe = session.probe([nb.cells[i].source for i in code]) if problem is None else {}
    finally:
        close(session) if close is not None else session.close()
    return nb, problem, probe


def failure(experiment: Experiment, index: int | None, ename: str, evalue: str, traceback: str = "") -> Failure:
    lines = None
    source = ""
    if index is not None:
        cell = experiment.notebook.cells[index]
        raw = cell.metadata.get("pipeline", {}).get("lines")
        lines = tuple(raw) if raw else None
        source = cell.source
    return Failure(
        source=experiment.source,
        cell_index=index,
        lines=lines,
        ename=ename,
        evalue=evalue,
        traceback=traceback,
        cell_source=source,
        failed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
