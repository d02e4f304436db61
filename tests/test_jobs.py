"""Several experiments at once (--jobs): same results as a serial run, `after` order holds,
a failure corrupts nothing else, --fail-fast stops the others (real kernels)."""

import time

import pytest
from helpers import masked_records

from pipeline.article.harvest import harvest
from pipeline.errors import ExecutionFailed, ExperimentFormatError
from pipeline.progress import Progress
from pipeline.run.execute import execute

WORK = """
# %% [markdown]
# # {name}

# %% Work
import time, os
started = time.time()
open({starts!r}, "a").write("{name}\\n")
if os.path.exists({together!r}):  # the overlap as an event: wait (60 s at most) until another experiment started
    while len(open({starts!r}).read().split()) < 2 and time.time() < started + 60:
        time.sleep(0.02)
print("{name}", sum(range(200_000)))
time.sleep({sleep})
open(os.path.join({log!r}), "a").write("{name} %f %f\\n" % (started, time.time()))
"""


def _add(project, name, sleep=0.5, after=None):
    header = f"# ---\n# jupyter:\n#   pipeline:\n#     after: [{', '.join(after)}]\n# ---\n" if after else ""
    log, starts, together = (str(project.root / n) for n in ("order.log", "starts.log", "together"))
    return project.add(name, header + WORK.format(name=name, sleep=sleep, log=log, starts=starts, together=together))


def _spans(project):
    spans = {}
    for line in (project.root / "order.log").read_text().splitlines():
        name, start, end = line.split()
        spans[name] = (float(start), float(end))
    return spans



def test_two_jobs_give_the_same_records_as_one_and_overlap(project, quiet):
    for name in ("01_a", "02_b", "03_c", "04_d"):
        _add(project, name)
    config = project.config()
    execute(config, progress=quiet, jobs=1)
    serial = masked_records(config, quiet)
    (project.root / "order.log").unlink()
    (project.root / "starts.log").unlink()
    (project.root / "together").touch()  # from now on the first experiments wait for each other
    summary = execute(config, force=True, progress=quiet, jobs=2)
    assert [o.name for o in summary.outcomes] == ["01_a", "02_b", "03_c", "04_d"]
    assert masked_records(config, quiet) == serial
    spans = sorted(_spans(project).values())
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))  # some experiments really ran at the same time


def test_after_order_holds_in_parallel(project, quiet):
    _add(project, "01_slow_setup", sleep=1.5)
    _add(project, "02_uses_setup", sleep=0.1, after=["01_slow_setup"])
    _add(project, "03_independent", sleep=0.1)
    execute(project.config(), progress=quiet, jobs=3)
    spans = _spans(project)
    assert spans["02_uses_setup"][0] >= spans["01_slow_setup"][1]
    assert spans["03_independent"][0] < spans["01_slow_setup"][1]  # it did not wait


def test_a_failure_leaves_the_others_intact_and_blocks_its_followers(project, quiet):
    _add(project, "01_ok")
    bad = _add(project, "02_bad")
    _add(project, "03_after_bad", after=["02_bad"])
    config = project.config()
    execute(config, progress=quiet, jobs=2)
    good = masked_records(config, quiet, ["01_ok"])
    bad.write_text(bad.read_text() + "\n# %%\nraise RuntimeError('boom')\n")
    with pytest.raises(ExecutionFailed) as info:
        execute(config, force=True, progress=quiet, jobs=2)
    outcomes = {o.name: o for o in info.value.summary.outcomes}
    assert outcomes["01_ok"].status == "executed" and outcomes["02_bad"].failure.ename == "RuntimeError"
    assert outcomes["03_after_bad"].failure.ename == "NotRun"
    assert "runs after 02_bad, which failed" in outcomes["03_after_bad"].failure.evalue
    assert masked_records(config, quiet, ["01_ok"]) == good  # re-run next to the failure, same results as before


def test_fail_fast_stops_the_running_kernels(project, quiet):
    project.add("01_fails", "# %%\nraise RuntimeError('first')\n")
    _add(project, "02_long", sleep=30)
    _add(project, "03_never")
    started = time.monotonic()
    with pytest.raises(ExecutionFailed) as info:
        execute(project.config(), fail_fast=True, progress=quiet, jobs=2)
    assert time.monotonic() - started < 20  # 02_long was stopped, not waited for
    outcomes = {o.name: o for o in info.value.summary.outcomes}
    assert outcomes["01_fails"].failure.ename == "RuntimeError"
    assert outcomes["02_long"].failure.ename == "Stopped"
    assert "03_never" not in outcomes


def test_after_names_must_exist_and_make_no_cycle(project, quiet):
    _add(project, "01_a", after=["02_b"])
    _add(project, "02_b", after=["01_a"])
    with pytest.raises(ExperimentFormatError, match="'after' makes a cycle"):
        execute(project.config(), progress=quiet)
    _add(project, "02_b", after=["nope"])
    with pytest.raises(ExperimentFormatError, match="runs after 'nope', which is no experiment"):
        execute(project.config(), progress=quiet)


def test_parallel_progress_is_one_line_per_experiment(project):
    import io

    for name in ("01_a", "02_b"):
        _add(project, name, sleep=0.2)
    stream = io.StringIO()
    execute(project.config(), progress=Progress(stream=stream, live=False), jobs=2)
    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted([l for l in lines if l.startswith(("[1/2]", "[2/2]", "      01_a: done", "      02_b: done"))])
    assert len(lines) == 4 and not any("cell 2" in line for line in lines)


class _Started(Progress):
    """Progress that also notes the order experiments start in."""

    def __init__(self):
        super().__init__(quiet=True, live=False)
        self.started = []

    def experiment_started(self, position, total, name, cells, where=""):
        self.started.append(name)
        super().experiment_started(position, total, name, cells, where)


def test_longest_first_follows_the_durations_the_cache_recorded(project, quiet):
    import json

    _add(project, "01_short", sleep=0.1)
    _add(project, "02_short", sleep=0.1)
    _add(project, "03_long", sleep=1.5)
    config = project.config()
    execute(config, progress=quiet, jobs=1)
    durations = json.loads((config.layout.cache / "durations.json").read_text())
    assert set(durations) == {"01_short", "02_short", "03_long"}
    assert durations["03_long"] > durations["02_short"]  # not 01_short: the first one also waited for its kernel

    progress = _Started()
    execute(config, force=True, progress=progress, jobs=2)
    assert progress.started[0] == "03_long" or progress.started[1] == "03_long"  # in the first wave
    assert progress.started[2] in ("01_short", "02_short")

    durations = {"01_short": 5.0, "02_short": 0.1, "03_long": 0.2}  # recorded times decide, not names
    (config.layout.cache / "durations.json").write_text(json.dumps(durations))
    progress = _Started()
    execute(config, force=True, progress=progress, jobs=2)
    assert "01_short" in progress.started[:2] and progress.started[2] == "02_short"


def test_longest_first_counts_the_chain_after_an_experiment():
    from pathlib import Path

    import nbformat

    from pipeline.records import Experiment
    from pipeline.run.schedule import longest_first

    def experiment(name, cells, after=()):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1") for _ in range(cells)])
        return Experiment(name=name, path=Path(f"/x/{name}.py"), source=f"experiments/{name}.py", notebook=nb,
                          title=name, parameters={}, after=tuple(after))

    a, b, c, d = experiment("a", 1), experiment("b", 2), experiment("c", 3), experiment("d", 1, after=["a"])
    names = lambda order: [e.name for e in order]  # noqa: E731
    assert names(longest_first([a, b, c, d], {"a": 1.0, "b": 2.0, "c": 2.5, "d": 2.0})) == ["a", "c", "b", "d"]
    assert names(longest_first([a, b, c, d], {})) == ["c", "a", "b", "d"]  # nothing recorded: code cells
    # some recorded: the others are estimated at the median seconds per code cell (10 here)
    assert names(longest_first([a, b, c, d], {"a": 10.0, "c": 0.3})) == ["a", "b", "d", "c"]


def test_parallel_kernels_share_the_cores_between_their_math_libraries(project, quiet, monkeypatch):
    """N kernels each running every core's worth of BLAS/OpenMP threads wait on each other: with
    --jobs N each gets cores // N (a value set in the environment wins); one job keeps the default."""
    import pipeline.run.execute as execute_module

    monkeypatch.setattr(execute_module, "cores", lambda: 4)
    for name in ("01_a", "02_b"):
        project.add(name, "# %%\nimport os\nprint(os.environ.get('OMP_NUM_THREADS'), os.environ.get('OPENBLAS_NUM_THREADS'))\n")
    config = project.config()

    def printed():
        return {r.name: r.cells[0].outputs[0].text.strip() for r in harvest(config, progress=quiet)}

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    execute(config, force=True, progress=quiet, jobs=2)
    assert printed() == {"01_a": "2 2", "02_b": "2 2"}
    execute(config, force=True, progress=quiet, jobs=1)
    assert printed() == {"01_a": "None None", "02_b": "None None"}
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    execute(config, force=True, progress=quiet, jobs=2)
    assert printed() == {"01_a": "3 2", "02_b": "3 2"}


def test_never_run_experiments_are_estimated_from_the_timings_their_notebooks_carry():
    """No duration recorded here: the cell timings a notebook was saved with (nbclient/JupyterLab,
    papermill, Colab) count, and a %timeit is known to take seconds; plain cells count alike."""
    from pathlib import Path

    import nbformat

    from pipeline.records import Experiment
    from pipeline.run.schedule import cell_seconds, estimates

    def experiment(name, cells):
        nb = nbformat.v4.new_notebook(cells=cells)
        return Experiment(name=name, path=Path(f"/x/{name}.ipynb"), source=f"experiments/{name}.ipynb", notebook=nb,
                          title=name, parameters={}, after=())

    cell = nbformat.v4.new_code_cell
    lab = cell("train()", metadata={"execution": {"iopub.execute_input": "2024-05-01T10:00:00.000000Z",
                                                  "shell.execute_reply": "2024-05-01T10:00:30.500000Z"}})
    colab = cell("fit()", metadata={"executionInfo": {"elapsed": 12000, "status": "ok"}})
    papermill = cell("run()", metadata={"papermill": {"duration": 7.25}})
    broken = cell("x", metadata={"execution": {"iopub.execute_input": "yesterday", "shell.execute_reply": "now"}})
    huge = cell("z", metadata={"executionInfo": {"elapsed": 10 ** 400}, "papermill": {"duration": 10 ** 400}})
    assert [cell_seconds(c) for c in (lab, colab, papermill, broken, huge, cell("y"))] == [30.5, 12.0, 7.25, None, None, None]

    many = experiment("many", [cell(str(i)) for i in range(60)])
    timed = experiment("timed", [cell("big = list(range(10**6))"), cell("%timeit sum(big)"), cell("%%timeit\nsorted(big)")])
    saved = experiment("saved", [colab])
    guesses = estimates([many, timed, saved], {})
    assert guesses["saved"] == 12.0 and guesses["saved"] > guesses["many"] > guesses["timed"] > 4.0
    assert estimates([many, timed], {"many": 1.2})["timed"] > 4.0  # 1.2 s over 60 cells: 0.02 s a cell


def test_width_is_the_most_experiments_that_can_run_at_once():
    from pathlib import Path

    import nbformat

    from pipeline.records import Experiment
    from pipeline.run.schedule import width

    def experiment(name, after=()):
        return Experiment(name=name, path=Path(f"/x/{name}.py"), source=f"experiments/{name}.py",
                          notebook=nbformat.v4.new_notebook(), title=name, parameters={}, after=tuple(after))

    a, b, c = experiment("a"), experiment("b", ["a"]), experiment("c", ["b"])
    assert width([a, b, c]) == 1  # one chain
    assert width([a, b, c, experiment("d"), experiment("e", ["a"])]) == 3  # {b or c, d, e}
    # two chains that join: a -> b -> d, c -> d; and f after everything
    joined = [a, experiment("b", ["a"]), experiment("c"), experiment("d", ["b", "c"]), experiment("f", ["d"])]
    assert width(joined) == 2
    assert width([experiment("b", ["a"])]) == 1  # a predecessor outside the run does not count
    assert width([]) == 0


def test_jobs_auto_picks_from_cores_memory_and_chains_and_says_so(project, monkeypatch):
    """--jobs auto: as many kernels as cores, no more than the experiments can run at once (an
    `after` chain runs one by one) nor than the memory holds; the run says what it picked."""
    import io

    import pipeline.run.execute as execute_module

    _add(project, "01_a", sleep=0.1)
    _add(project, "02_b", sleep=0.1, after=["01_a"])
    _add(project, "03_c", sleep=0.1)
    config = project.config()

    def picked():
        stream = io.StringIO()
        execute(config, force=True, progress=Progress(stream=stream, live=False), jobs="auto")
        return next(line for line in stream.getvalue().splitlines() if line.startswith("--jobs auto"))

    monkeypatch.setattr(execute_module, "cores", lambda: 8)
    monkeypatch.setattr(execute_module, "free_memory", lambda: 64 << 30)
    assert picked().startswith("--jobs auto: 2 at once (8 cores; 2 of 3 experiments can run at once; 64.0 GiB")
    monkeypatch.setattr(execute_module, "free_memory", lambda: 3 << 30)
    assert picked().startswith("--jobs auto: 1 at once (8 cores; 2 of 3 experiments can run at once; 3.0 GiB available "
                               "holds 1 at 2 GiB each)")
    monkeypatch.setattr(execute_module, "cores", lambda: 1)
    monkeypatch.setattr(execute_module, "free_memory", lambda: None)
    assert picked() == "--jobs auto: 1 at once (1 core; 2 of 3 experiments can run at once)"
