"""Stage 1: execute each experiment in a fresh Jupyter kernel, or take it from the cache.

Reads top to bottom as the stage does: discover -> key -> stored? cached? run
-> save. What a run produced is written as ``build/executed/NAME.ipynb`` with an
``ExecutionInfo`` in its metadata (``pipeline_run``). A run that fails keeps its
report (``build/executed/NAME.failure.json``) and partial notebook
(``build/failed/NAME.ipynb``: the outputs up to the failing cell, which a failed chapter
shows) and never touches the last good executed notebook or cache entry. Notebooks marked
to publish their stored outputs are never run: their outputs are taken as they are (see
``use_stored``).
"""

from __future__ import annotations

import copy
import json
import platform
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipeline.codec import encode
from pipeline.config import Config
from pipeline.errors import ExecutionFailed, ExperimentNotFound
from pipeline.experiments import discover, experiment_names
from pipeline.layout import Layout
from pipeline.model_cache import location as model_cache_location
from pipeline.progress import Progress
from pipeline.records import RUN_METADATA, ExecutionInfo, Experiment, Failure, StoredRun
from pipeline.run.cache import Cache, cache_key, environment_parts, merge_outputs, stored_key
from pipeline.run.engines import Engine, LocalKernels
from pipeline.run.kernel_env import redact_outputs, secret_values
from pipeline.run.outputs import normalize_outputs
from pipeline.run.prestart import Prestarter, cores, free_memory
from pipeline.run.schedule import Stop, auto_jobs, check_order, longest_first, not_run, run_all
from pipeline.run.threads import MachineLoad, ThreadBudget, user_set_threads
from pipeline.storage import atomic_write_text, write_if_changed
from pipeline.summary import counts_line


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "executed" | "cached" | "stored" | "failed"
    seconds: float
    failure: Failure | None = None


@dataclass(frozen=True)
class ExecuteSummary:
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)
    #: the data files the experiments declare (inputs the no-change check watches)
    data_files: tuple[Path, ...] = ()

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failures(self) -> list[Failure]:
        return [o.failure for o in self.outcomes if o.failure]

    @property
    def statuses(self) -> dict[str, str]:
        """Experiment name -> status, in order (what ``BuildSummary.outcomes`` keeps)."""
        return {o.name: o.status for o in self.outcomes}

    def __repr__(self) -> str:
        return f"ExecuteSummary({counts_line(self.statuses.values())})"


def execute(
    config: Config,
    names: list[str] | None = None,
    force: bool = False,
    fail_fast: bool = False,
    keep_going: bool = False,
    progress: Progress | None = None,
    layout: Layout | None = None,
    engine: Engine | None = None,
    jobs: int | str | None = None,
    experiments: list[Experiment] | None = None,
) -> ExecuteSummary:
    """Execute (or take from the cache) the named experiments, all by default.

    Raises ``ExecutionFailed`` listing every failure after the others have run
    (or at the first one with *fail_fast*); with *keep_going* the failures are
    only reported in the summary. *jobs* experiments run at once (default:
    ``config.jobs``; see ``pipeline.run.schedule``). The kernels come from *engine*
    (``pipeline.run.engines``; default: the one the config asks for, closed at the end); one
    that is not clean (the warm kernels of ``pipeline preview``) reads the cache but never writes to it.
    *experiments*, when the caller already listed them (``build``), are used instead of *names*.
    """
    progress = progress or Progress()
    layout = layout or config.layout
    jobs = requested_jobs(config, jobs)
    if engine is not None and engine.max_jobs:  # preview's warm kernels: one experiment at a time
        jobs = engine.max_jobs if jobs == "auto" else min(jobs, engine.max_jobs)
    owned = engine is None
    engine = engine or engine_for(config, secret_values(), jobs)
    try:
        if owned and force and experiments is None:
            engine.spare()  # the first kernel starts before the experiments are read
        return _execute(config, names, force, fail_fast, keep_going, progress, layout, engine, jobs, experiments)
    finally:
        if owned:
            engine.close()


def _execute(config: Config, names: list[str] | None, force: bool, fail_fast: bool, keep_going: bool,
             progress: Progress, layout: Layout, engine: Engine, jobs: int | str,
             experiments: list[Experiment] | None) -> ExecuteSummary:
    listed = experiments is not None  # by the caller (build): every experiment, read once
    experiments = experiments if listed else discover(config, names, warn=progress.warn)
    if not experiments:
        raise ExperimentNotFound(f"{config.experiments_dir}: no experiments (.py percent scripts or .ipynb notebooks) "
                                 "to run; add one, or fix tool.pipeline.experiments_dir")
    check_order(experiments, {e.name for e in experiments} if listed else experiment_names(config))
    warning = model_cache_location(config)[1]
    if warning:
        progress.warn(warning)
    cache = Cache(config.layout.cache, warn=progress.warn)  # the clean build's cache, whatever the layout
    environment = environment_parts(config)
    if engine.remote:  # what its kernels run, not what this machine has
        environment = engine.environment(environment, progress)
    keys = {e.name: cache_key(e, config, environment) for e in experiments if not e.stored}
    stop = Stop()
    order = longest_first(experiments, cache.durations()) if jobs == "auto" or jobs > 1 else list(experiments)
    to_run = [e for e in order if e.name in keys and (force or not cache.has(e.name, keys[e.name]))]
    if jobs == "auto":
        jobs = _auto(config, to_run, progress)
    progress.parallel = jobs > 1 and len(experiments) > 1
    engine.begin(experiments, to_run, jobs, stop)

    def work(experiment: Experiment, position: int) -> Outcome:
        try:
            return _execute_one(experiment, config, layout, keys.get(experiment.name, ""), cache, force, progress,
                                position, len(experiments), engine)
        finally:
            engine.finished(experiment.name)

    def report_not_run(experiment: Experiment, problem: Failure) -> Outcome:
        """An experiment that never ran (its predecessor failed, or --fail-fast stopped the run):
        its report says so, so that its chapter is marked and its old outputs are not passed off as current;
        a partial notebook from an earlier failure no longer goes with the report."""
        layout.failed_notebook(experiment.name).unlink(missing_ok=True)
        atomic_write_text(layout.failure_report(experiment.name), json.dumps(encode(problem), ensure_ascii=False, indent=1))
        return Outcome(experiment.name, "failed", 0.0, problem)

    try:
        outcomes = run_all(experiments, jobs, work, fail_fast, stop, report_not_run, order, engine.upcoming,
                           engine.changed)
    finally:
        progress.parallel = False
    if keep_going and len(outcomes) < len(experiments):
        ran = {o.name for o in outcomes}
        first = next(o.name for o in outcomes if o.failure)
        by_name = {o.name: o for o in outcomes}
        for experiment in experiments:
            if experiment.name not in ran:
                by_name[experiment.name] = report_not_run(
                    experiment, not_run(experiment, f"--fail-fast stopped the run after {first} failed"))
        outcomes = [by_name[e.name] for e in experiments]
    summary = ExecuteSummary(tuple(outcomes), tuple(sorted({p for e in experiments for p in e.data_files})))
    if summary.failures and not keep_going:
        raise ExecutionFailed(summary.failures, summary)
    return summary


def _execute_one(experiment: Experiment, config: Config, layout: Layout, key: str, cache: Cache,
                 force: bool, progress: Progress, position: int, total: int, engine: Engine) -> Outcome:
    import nbformat

    started = time.monotonic()
    if experiment.stored:
        progress.experiment_stored(position, total, experiment.name)
        _settle(layout, experiment.name, nbformat.writes(use_stored(experiment, config, engine.secrets)))
        return Outcome(experiment.name, "stored", time.monotonic() - started)

    cached = None if force else cache.lookup(experiment.name, key)
    if cached is not None:
        progress.experiment_cached(position, total, experiment.name)
        _settle(layout, experiment.name, nbformat.writes(merge_outputs(experiment.notebook, cached)))
        return Outcome(experiment.name, "cached", time.monotonic() - started)

    code_cells = sum(1 for c in experiment.notebook.cells if c.cell_type == "code")
    progress.experiment_started(position, total, experiment.name, code_cells, where=engine.where)
    run = engine.run(experiment, progress)
    nb, failure, probe = run.notebook, run.failure, run.probe
    seconds = time.monotonic() - started
    nb.metadata[RUN_METADATA] = ExecutionInfo(
        mode=run.mode,
        cache_key=key,
        executed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        duration=round(seconds, 3),
        parameters=experiment.parameters,
        python=probe.get("python") or platform.python_version(),
        packages=dict(probe.get("packages") or {}),
        kernel=config.kernel,
        host=engine.host,
        partial=failure is not None,
    ).to_metadata()
    if failure is not None:
        atomic_write_text(layout.failed_notebook(experiment.name), nbformat.writes(_partial(nb, failure)))
        atomic_write_text(layout.failure_report(experiment.name), json.dumps(encode(failure), ensure_ascii=False, indent=1))
        progress.experiment_finished(experiment.name, seconds, ok=False)
        return Outcome(experiment.name, "failed", seconds, failure)
    if engine.clean and run.mode == "executed":
        cache.store(experiment.name, key, nb)
    _settle(layout, experiment.name, nbformat.writes(merge_outputs(experiment.notebook, nb)))
    progress.experiment_finished(experiment.name, seconds, ok=True)
    return Outcome(experiment.name, "executed", seconds)


def _partial(nb, failure: Failure):
    """A failed run's notebook as a failed chapter shows it: no outputs after the failing cell (a
    notebook experiment's stored ones would pass for this run's)."""
    if failure.cell_index is None:
        return nb
    nb = copy.deepcopy(nb)
    for cell in nb.cells[failure.cell_index + 1:]:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _settle(layout: Layout, name: str, notebook: str) -> None:
    """The experiment has a good notebook: write it (unless unchanged) and drop the failure it had."""
    write_if_changed(layout.executed_notebook(name), notebook)
    layout.failure_report(name).unlink(missing_ok=True)
    layout.failed_notebook(name).unlink(missing_ok=True)


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


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
        if isinstance(timing, dict):
            dates += [str(v) for k, v in timing.items() if k.startswith(("iopub.", "shell.")) and _TIMESTAMP.fullmatch(str(v))]
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


def requested_jobs(config: Config, jobs: int | str | None) -> int | str:
    """How many experiments run at once: a number, or "auto" (decided by ``_auto`` once the
    experiments to run are known)."""
    jobs = config.jobs if jobs is None else jobs
    return "auto" if jobs == "auto" else max(1, int(jobs))


def _auto(config: Config, to_run: list[Experiment], progress: Progress) -> int:
    """``--jobs auto``: ``gateway_jobs`` on a gateway; here, from the cores, the memory available and
    the experiments' ``after`` chains (``schedule.auto_jobs``). Says what it picked."""
    if config.gateway_url:
        jobs, why = config.gateway_jobs, f"--jobs auto: {config.gateway_jobs} at once (tool.pipeline.gateway_jobs)"
    else:
        jobs, why = auto_jobs(to_run, cores(), free_memory())
    if to_run:
        progress.info(why)
    return jobs


def engine_for(config: Config, secrets: list[str], jobs: int | str) -> Engine:
    """The engine (``pipeline.run.engines``) the config asks for: a gateway's kernels, else local ones,
    started ahead unless ``prestart = "off"``, their math threads following the budget (``_threads``)."""
    if config.gateway_url:
        from pipeline.run.gateway import GatewayKernels

        return GatewayKernels(config, secrets)
    budget, threads = _threads(jobs)
    if config.prestart == "off":
        return LocalKernels(config, secrets, threads, budget)
    return Prestarter(config, secrets, cores() if jobs == "auto" else jobs, threads, budget)


def _threads(jobs: int | str) -> tuple[ThreadBudget | None, int | None]:
    """The budget local kernels' math threads follow (``pipeline.run.threads``), and the threads a kernel
    starts with when there is none: under several jobs (``auto`` never takes more than the cores); a
    thread variable the user set holds, the others get a fixed share."""
    planned = cores() if jobs == "auto" else jobs
    if planned <= 1:
        return None, None
    if user_set_threads():
        return None, max(1, cores() // planned)
    budget = ThreadBudget(cores(), planned, MachineLoad())
    return budget, budget.start_share()
