"""Stage 1: execute each experiment in a fresh Jupyter kernel, or take it from the cache.

Reads top to bottom as the stage does: discover -> key -> cached? merge : run
-> save. A run that fails keeps its report (``build/executed/NAME.failure.json``)
and partial notebook (``build/failed/NAME.ipynb``) and never touches the last
good executed notebook or cache entry.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .cache import Cache, cache_key, environment_parts, kernel_settings, merge_outputs
from .config import Config
from .errors import ExecutionFailed
from .experiments import cell_label, discover
from .progress import Progress
from .records import Experiment, Failure, decode_failure, encode
from .storage import atomic_write_text
from .text import clean_traceback

KERNEL_EXTENSION = "pipeline.kernel"


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "executed" | "cached" | "failed"
    seconds: float
    failure: Failure | None = None


@dataclass(frozen=True)
class ExecuteSummary:
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def __repr__(self) -> str:
        return f"ExecuteSummary(executed={self.count('executed')}, cached={self.count('cached')}, failed={self.count('failed')})"


def executed_path(config: Config, name: str) -> Path:
    return config.executed_dir / f"{name}.ipynb"


def failure_path(config: Config, name: str) -> Path:
    return config.executed_dir / f"{name}.failure.json"


def read_failure(config: Config, name: str) -> Failure | None:
    path = failure_path(config, name)
    if not path.is_file():
        return None
    try:
        return decode_failure(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError):
        return None


def execute(
    config: Config,
    names: list[str] | None = None,
    force: bool = False,
    fail_fast: bool = False,
    progress: Progress | None = None,
) -> ExecuteSummary:
    """Execute (or take from the cache) the named experiments, all by default.

    Raises ``ExecutionFailed`` listing every failure after the others have run
    (or at the first one with *fail_fast*).
    """
    progress = progress or Progress()
    experiments = discover(config, names)
    cache = Cache(config.cache_dir, warn=progress.warn)
    environment = environment_parts(config)
    outcomes: list[Outcome] = []
    for position, experiment in enumerate(experiments, 1):
        outcome = _execute_one(experiment, config, environment, cache, force, progress, position, len(experiments))
        outcomes.append(outcome)
        if outcome.failure and fail_fast:
            break
    summary = ExecuteSummary(tuple(outcomes))
    failures = [o.failure for o in outcomes if o.failure]
    if failures:
        raise ExecutionFailed(failures, summary)
    return summary


def _execute_one(experiment, config, environment, cache, force, progress, position, total) -> Outcome:
    import nbformat

    started = time.monotonic()
    key = cache_key(experiment, config, environment)
    cached = None if force else cache.lookup(experiment.name, key)
    if cached is not None:
        progress.experiment_cached(position, total, experiment.name)
        merged = merge_outputs(experiment.notebook, cached)
        _write_if_changed(executed_path(config, experiment.name), nbformat.writes(merged))
        failure_path(config, experiment.name).unlink(missing_ok=True)
        return Outcome(experiment.name, "cached", time.monotonic() - started)

    code_cells = sum(1 for c in experiment.notebook.cells if c.cell_type == "code")
    progress.experiment_started(position, total, experiment.name, code_cells)
    nb, failure = run_notebook(experiment, config, progress)
    seconds = time.monotonic() - started
    nb.metadata["pipeline"] = {
        "cache_key": key,
        "executed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration": round(seconds, 3),
        "parameters": experiment.parameters,
        "python": environment["python"],
        "packages": environment["packages"],
    }
    if failure is not None:
        atomic_write_text(config.build_dir / "failed" / f"{experiment.name}.ipynb", nbformat.writes(nb))
        atomic_write_text(failure_path(config, experiment.name), json.dumps(encode(failure), ensure_ascii=False, indent=1))
        progress.experiment_finished(experiment.name, seconds, ok=False)
        return Outcome(experiment.name, "failed", seconds, failure)
    cache.store(experiment.name, key, nb)
    atomic_write_text(executed_path(config, experiment.name), nbformat.writes(nb))
    failure_path(config, experiment.name).unlink(missing_ok=True)
    progress.experiment_finished(experiment.name, seconds, ok=True)
    return Outcome(experiment.name, "executed", seconds)


def run_notebook(experiment: Experiment, config: Config, progress: Progress):
    """Run every code cell of a copy of the experiment's notebook in a fresh kernel.

    Returns ``(notebook, failure)``; failure is None when every cell ran.
    """
    import copy

    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = copy.deepcopy(experiment.notebook)
    client = NotebookClient(
        nb,
        kernel_name=config.kernel,
        timeout=config.cell_timeout,
        startup_timeout=config.startup_timeout,
        record_timing=True,
        coalesce_streams=True,
        resources={"metadata": {"path": str(experiment.path.parent)}},
        extra_arguments=[f"--IPKernelApp.extensions={KERNEL_EXTENSION}"],
    )
    # Local IPC sockets instead of TCP ports: nothing listens on the network, and
    # ipykernel 7 has no unencrypted-TCP warning to print.
    sockets = Path(tempfile.mkdtemp(prefix="pipeline-kernel-"))
    km = client.create_kernel_manager()
    km.transport, km.ip = "ipc", str(sockets / "k")
    env = dict(os.environ)
    env["PIPELINE_SETTINGS"] = json.dumps(kernel_settings(config))
    env["PIPELINE_ROOT"] = str(config.root)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env.setdefault("PYTHONHASHSEED", "0")
    for name in ("OPENAI_API_KEY",):  # experiments never need the drafting key
        env.pop(name, None)

    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    began = time.monotonic()
    failure = None
    try:
        with client.setup_kernel(env=env):
            for number, index in enumerate(code, 1):
                cell = nb.cells[index]
                remaining = config.experiment_timeout - (time.monotonic() - began)
                if remaining <= 0:
                    failure = _failure(experiment, index, "ExperimentTimeout",
                                       f"the experiment ran past its {config.experiment_timeout}s limit before this cell; "
                                       "raise tool.pipeline.experiment_timeout or make the experiment faster")
                    break
                client.timeout = max(1, int(min(config.cell_timeout, remaining)))
                progress.cell_started(number, len(code), cell_label(cell))
                t0 = time.monotonic()
                try:
                    client.execute_cell(cell, index, execution_count=number)
                except CellTimeoutError:
                    limit = client.timeout
                    which = "tool.pipeline.cell_timeout" if limit == config.cell_timeout else "tool.pipeline.experiment_timeout"
                    failure = _failure(experiment, index, "CellTimeoutError",
                                       f"cell did not finish within {limit}s ({which}); raise the limit or make the cell faster")
                except DeadKernelError:
                    failure = _failure(experiment, index, "DeadKernelError",
                                       "the kernel died while running this cell (killed, crashed or out of memory); "
                                       "reduce the memory the cell needs or run on a larger machine")
                except CellExecutionError:
                    error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
                    failure = _failure(experiment, index, error.ename if error else "CellExecutionError",
                                       error.evalue if error else "the cell raised an error",
                                       clean_traceback(error.traceback) if error else "")
                finally:
                    cell.metadata.setdefault("pipeline", {})["duration"] = round(time.monotonic() - t0, 3)
                    skipped = client.skip_cells_with_tag in cell.metadata.get("tags", [])
                    progress.cell_finished("failed" if failure else "skipped" if skipped else "ok")
                if failure is not None:
                    break
    except NoSuchKernel:
        failure = _failure(experiment, None, "NoSuchKernel",
                           f"no Jupyter kernel named {config.kernel!r} is installed; set tool.pipeline.kernel "
                           "or install it (python -m ipykernel install --user)")
    except RuntimeError as exc:  # kernel failed to start in time
        if "Kernel didn't respond" not in str(exc):
            raise
        failure = _failure(experiment, None, "KernelStartError",
                           f"{exc}; raise tool.pipeline.startup_timeout or check the kernel")
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    return nb, failure


def _failure(experiment: Experiment, index: int | None, ename: str, evalue: str, traceback: str = "") -> Failure:
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




def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    atomic_write_text(path, text)

