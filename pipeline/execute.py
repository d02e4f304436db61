"""Stage 1: execute each experiment in a fresh Jupyter kernel, or take it from the cache.

Reads top to bottom as the stage does: discover -> key -> stored? cached? run
-> save. What a run produced is written as ``build/executed/NAME.ipynb`` with an
``ExecutionInfo`` in its metadata (``pipeline_run``). A run that fails keeps its
report (``build/executed/NAME.failure.json``) and partial notebook
(``build/failed/NAME.ipynb``) and never touches the last good executed notebook
or cache entry. Notebooks marked to publish their stored outputs are never run:
their outputs are taken as they are (see ``use_stored``).
"""

from __future__ import annotations

import copy
import json
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .cache import Cache, cache_key, environment_parts, kernel_settings, merge_outputs, stored_key
from .config import Config
from .errors import ExecutionFailed, ExperimentNotFound
from .experiments import cell_label, discover
from .kernels import imported_modules, kernel_environment, redact_outputs, remember_kernel, runtime_dir, secret_values
from .layout import Layout
from .outputs import normalize_outputs
from .progress import Progress
from .records import RUN_METADATA, ExecutionInfo, Experiment, Failure, StoredRun, encode
from .storage import atomic_write_text, write_if_changed
from .text import clean_traceback

KERNEL_EXTENSION = "pipeline.kernel"


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "executed" | "cached" | "stored" | "failed"
    seconds: float
    failure: Failure | None = None


@dataclass(frozen=True)
class ExecuteSummary:
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failures(self) -> list[Failure]:
        return [o.failure for o in self.outcomes if o.failure]

    def __repr__(self) -> str:
        return (f"ExecuteSummary(executed={self.count('executed')}, cached={self.count('cached')}, "
                f"stored={self.count('stored')}, failed={self.count('failed')})")


def execute(
    config: Config,
    names: list[str] | None = None,
    force: bool = False,
    fail_fast: bool = False,
    keep_going: bool = False,
    progress: Progress | None = None,
    layout: Layout | None = None,
) -> ExecuteSummary:
    """Execute (or take from the cache) the named experiments, all by default.

    Raises ``ExecutionFailed`` listing every failure after the others have run
    (or at the first one with *fail_fast*); with *keep_going* the failures are
    only reported in the summary.
    """
    progress = progress or Progress()
    layout = layout or config.layout
    experiments = discover(config, names, warn=progress.warn)
    if not experiments:
        raise ExperimentNotFound(f"{config.experiments_dir}: no experiments (.py percent scripts or .ipynb notebooks) "
                                 "to run; add one, or fix tool.pipeline.experiments_dir")
    cache = Cache(layout.cache, warn=progress.warn)
    environment = environment_parts(config)
    secrets = secret_values()
    outcomes: list[Outcome] = []
    for position, experiment in enumerate(experiments, 1):
        outcome = _execute_one(experiment, config, layout, environment, cache, force, progress, secrets,
                               position, len(experiments))
        outcomes.append(outcome)
        if outcome.failure and fail_fast:
            break
    summary = ExecuteSummary(tuple(outcomes))
    if summary.failures and not keep_going:
        raise ExecutionFailed(summary.failures, summary)
    return summary


def _execute_one(experiment: Experiment, config: Config, layout: Layout, environment: dict, cache: Cache,
                 force: bool, progress: Progress, secrets: list[str], position: int, total: int) -> Outcome:
    import nbformat

    started = time.monotonic()
    if experiment.stored:
        progress.experiment_stored(position, total, experiment.name)
        nb = use_stored(experiment, config, secrets)
        write_if_changed(layout.executed_notebook(experiment.name), nbformat.writes(nb))
        layout.failure_report(experiment.name).unlink(missing_ok=True)
        return Outcome(experiment.name, "stored", time.monotonic() - started)

    key = cache_key(experiment, config, environment)
    cached = None if force else cache.lookup(experiment.name, key)
    if cached is not None:
        progress.experiment_cached(position, total, experiment.name)
        write_if_changed(layout.executed_notebook(experiment.name), nbformat.writes(merge_outputs(experiment.notebook, cached)))
        layout.failure_report(experiment.name).unlink(missing_ok=True)
        return Outcome(experiment.name, "cached", time.monotonic() - started)

    code_cells = sum(1 for c in experiment.notebook.cells if c.cell_type == "code")
    progress.experiment_started(position, total, experiment.name, code_cells)
    nb, failure, probe = run_notebook(experiment, config, progress, secrets)
    seconds = time.monotonic() - started
    nb.metadata[RUN_METADATA] = ExecutionInfo(
        mode="executed",
        cache_key=key,
        executed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        duration=round(seconds, 3),
        parameters=experiment.parameters,
        python=probe.get("python") or platform.python_version(),
        packages=dict(probe.get("packages") or {}),
        kernel=config.kernel,
    ).to_metadata()
    if failure is not None:
        atomic_write_text(layout.failed_notebook(experiment.name), nbformat.writes(nb))
        atomic_write_text(layout.failure_report(experiment.name), json.dumps(encode(failure), ensure_ascii=False, indent=1))
        progress.experiment_finished(experiment.name, seconds, ok=False)
        return Outcome(experiment.name, "failed", seconds, failure)
    cache.store(experiment.name, key, nb)
    write_if_changed(layout.executed_notebook(experiment.name), nbformat.writes(merge_outputs(experiment.notebook, nb)))
    layout.failure_report(experiment.name).unlink(missing_ok=True)
    layout.failed_notebook(experiment.name).unlink(missing_ok=True)
    progress.experiment_finished(experiment.name, seconds, ok=True)
    return Outcome(experiment.name, "executed", seconds)


def use_stored(experiment: Experiment, config: Config, secrets: list[str]):
    """The notebook with the outputs it stored, normalized like fresh ones, and what it says about its run."""
    nb = copy.deepcopy(experiment.notebook)
    dates: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = normalize_outputs(cell.get("outputs", []), config.max_output_chars)
        redact_outputs(cell, secrets)
        timing = cell.metadata.get("execution", {})
        dates += [str(v) for k, v in timing.items() if k.startswith(("iopub.", "shell.")) and v]
    meta = nb.metadata
    language = meta.get("language_info", {}) or {}
    kernel = (meta.get("kernelspec", {}) or {}).get("display_name") or (meta.get("kernelspec", {}) or {}).get("name", "")
    why = "notebook metadata" if (meta.get("pipeline") or {}).get("execute") is False else "execution_excludes"
    stored = StoredRun(
        kernel=str(kernel),
        language=" ".join(str(x) for x in (language.get("name", "").capitalize(), language.get("version", "")) if x),
        first_executed=min(dates) if dates else "",
        last_executed=max(dates) if dates else "",
        why=why,
    )
    nb.metadata[RUN_METADATA] = ExecutionInfo(
        mode="stored",
        cache_key=stored_key(nb),
        executed_at=stored.last_executed,
        python=str(language.get("version", "")),
        kernel=stored.kernel,
        host="stored notebook",
        stored=stored,
    ).to_metadata()
    return nb


def run_notebook(experiment: Experiment, config: Config, progress: Progress, secrets: list[str]):
    """Run every code cell of a copy of the experiment's notebook in a fresh kernel.

    Returns ``(notebook, failure, probe)``: failure is None when every cell ran;
    probe holds the kernel's Python version and the versions of the packages the
    experiment imported.
    """
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
        coalesce_streams=False,  # quadratic on long lines; normalize_outputs does it in linear time
        resources={"metadata": {"path": str(experiment.path.parent)}},
        extra_arguments=[f"--IPKernelApp.extensions={KERNEL_EXTENSION}"],
    )
    env = kernel_environment(dict(os.environ), config.kernel_env_allow, {
        "PIPELINE_SETTINGS": json.dumps(kernel_settings(config)),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"),
    })
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    began = time.monotonic()
    failure = None
    probe: dict = {}
    with runtime_dir() as private:
        # Local IPC sockets instead of TCP ports, and the connection file (it holds the
        # kernel's key) in a private folder that is removed afterwards.
        km = client.create_kernel_manager()
        km.transport, km.ip = "ipc", str(private / "k")
        km.connection_file = str(private / "kernel.json")
        try:
            with client.setup_kernel(env=env):
                remember_kernel(private, getattr(km.provisioner, "pid", None))
                for number, index in enumerate(code, 1):
                    cell = nb.cells[index]
                    remaining = config.experiment_timeout - (time.monotonic() - began)
                    if remaining <= 0:
                        failure = _failure(experiment, index, "ExperimentTimeout",
                                           f"the experiment ran past its {config.experiment_timeout}s limit before this cell; "
                                           "raise tool.pipeline.experiment_timeout or make the experiment faster")
                        break
                    client.timeout = max(1, int(min(config.cell_timeout, remaining)))
                    progress.cell_started(index + 1, number, len(code), cell_label(cell))
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
                        cell.outputs = normalize_outputs(cell.get("outputs", []), config.max_output_chars)
                        redact_outputs(cell, secrets)
                        cell.metadata.setdefault("pipeline", {})["duration"] = round(time.monotonic() - t0, 3)
                        skipped = client.skip_cells_with_tag in cell.metadata.get("tags", [])
                        progress.cell_finished("failed" if failure else "skipped" if skipped else "ok")
                    if failure is not None:
                        break
                if failure is None:
                    probe = _probe(client, [nb.cells[i].source for i in code])
        except NoSuchKernel:
            failure = _failure(experiment, None, "NoSuchKernel",
                               f"no Jupyter kernel named {config.kernel!r} is installed; set tool.pipeline.kernel "
                               "or install it (python -m ipykernel install --user)")
        except RuntimeError as exc:  # kernel failed to start in time
            if "Kernel didn't respond" not in str(exc):
                raise
            failure = _failure(experiment, None, "KernelStartError",
                               f"{exc}; raise tool.pipeline.startup_timeout or check the kernel")
    if failure is None and time.monotonic() - began > config.experiment_timeout:
        failure = _failure(experiment, code[-1] if code else None, "ExperimentTimeout",
                           f"the experiment and the handling of its outputs ran past its {config.experiment_timeout}s "
                           "limit; raise tool.pipeline.experiment_timeout or print less")
    return nb, failure, probe


_PROBE = """
def _pipeline_probe(names):
    import importlib.metadata as m, json, platform, sys
    if "pipeline" in names and "transformers" in sys.modules:
        names = names + [n for n in ("torch", "transformers", "bitsandbytes", "accelerate") if n in sys.modules]
    found, dists = {}, m.packages_distributions()
    for name in names:
        for dist in dists.get(name, []):
            if dist != "ml-article-pipeline":
                try:
                    found[dist] = m.version(dist)
                except Exception:
                    pass
    return json.dumps({"python": platform.python_version(), "packages": found})
"""


def _probe(client, sources: list[str]) -> dict:
    """Ask the kernel, silently (no output, no history), for its Python version and the
    versions of the packages the code imports."""
    import ast

    names = imported_modules(sources)
    try:
        msg_id = client.kc.execute(_PROBE, silent=True, store_history=False, stop_on_error=False,
                                   user_expressions={"probe": f"_pipeline_probe({names!r})"})
        reply = client.wait_for_reply(msg_id)
        text = reply["content"]["user_expressions"]["probe"]["data"]["text/plain"]
        return json.loads(ast.literal_eval(text))
    except Exception:  # informative only: a kernel that cannot answer leaves it empty (many error types)
        return {}


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
