"""The thread budget of parallel runs (``pipeline.run.threads``): the cores follow the work.

On real kernels: a running kernel's math libraries get the cores another experiment frees, seen
from inside the kernel between its cells; the shares themselves; and the kernel side
(``kernel_extension.ThreadLimits``) leaving alone a limit a cell set itself."""

import pytest
from helpers import masked_record, wait_for

from pipeline.article.harvest import harvest
from pipeline.run.execute import execute
from pipeline.run.threads import THREAD_VARIABLES, MachineLoad, ThreadBudget, sets_own_threads

LONG = """
# %%
import os
import time
from pathlib import Path

import numpy
from threadpoolctl import threadpool_info


def blas():
    return sorted({{i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}})


print("first cell", blas(), os.environ["OMP_NUM_THREADS"])
_ = Path({marker!r}).write_text("long has started")

# %%
share = os.environ["PIPELINE_THREADS_FILE"]  # the other experiment ends: the run gives this kernel its core
deadline = time.monotonic() + 60
while Path(share).read_text() != "2" and time.monotonic() < deadline:
    time.sleep(0.02)
print("share", Path(share).read_text())

# %%
print("next cell", blas())
"""

SHORT = """
# %%
import time
from pathlib import Path

deadline = time.monotonic() + 60  # ends only once the long one runs its first cell
while not Path({marker!r}).exists() and time.monotonic() < deadline:
    time.sleep(0.02)
print("short done")
"""


@pytest.fixture
def two_cores(monkeypatch):
    """Two cores, and no other program keeping them busy (the machine's load is not this test's to set)."""
    import pipeline.run.execute as execute_module

    monkeypatch.setattr(execute_module, "cores", lambda: 2)
    monkeypatch.setattr(MachineLoad, "others", lambda self: 0.0)
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _outputs(config, quiet, name):
    record = next(r for r in harvest(config, [name], progress=quiet) if r.name == name)
    return [out.text.strip() for cell in record.cells for out in cell.outputs if out.text]


def test_a_running_kernel_gets_the_cores_another_experiment_frees(project, quiet, two_cores):
    """--jobs 2 on two cores: each kernel starts with one BLAS thread; once the short experiment ends
    (and none waits to start), the long one's next cell runs with two."""
    marker = str(project.root / "long-started")
    project.add("01_long", LONG.format(marker=marker))
    project.add("02_short", SHORT.format(marker=marker))
    config = project.config()
    execute(config, progress=quiet, jobs=2)
    assert _outputs(config, quiet, "01_long") == ["first cell [1] 1", "share 2", "next cell [2]"]
    assert _outputs(config, quiet, "02_short") == ["short done"]


ALONE = """
# %%
import os
import time
from pathlib import Path

import numpy
from threadpoolctl import threadpool_info
{own}
share = Path(os.environ["PIPELINE_THREADS_FILE"])
deadline = time.monotonic() + {wait}  # alone in the run: its share is every core
while not (share.exists() and share.read_text() == "2") and time.monotonic() < deadline:
    time.sleep(0.02)

# %%
print(sorted({{i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}}), share.exists())
"""


def test_an_experiment_that_sets_its_threads_keeps_them(project, quiet, two_cores):
    """Alone under --jobs 2 an experiment gets both cores; one whose cell sets its limit itself gets
    no share at all, and keeps its own limit."""
    project.add("01_alone", ALONE.format(own="", wait=60))
    execute(project.config(), progress=quiet, jobs=2)
    assert _outputs(project.config(), quiet, "01_alone") == ["[2] True"]
    project.add("01_alone", ALONE.format(own="from threadpoolctl import threadpool_limits\nthreadpool_limits(1)", wait=0))
    execute(project.config(), progress=quiet, jobs=2)
    assert _outputs(project.config(), quiet, "01_alone") == ["[1] False"]


def test_records_are_those_of_a_serial_run(project, quiet, two_cores):
    """Limits change only between cells and print nothing: the records of --jobs 2 equal --jobs 1's."""
    for name, rows in (("01_a", 300), ("02_b", 40), ("03_c", 5)):
        project.add(name, f"# %%\nimport numpy as np\nrng = np.random.default_rng(0)\na = rng.normal(size=({rows}, {rows}))\n"
                          "# %%\nprint(round(float(np.linalg.eigvalsh(a @ a.T)[-1]), 6))\n# %%\nprint((a @ a).shape)\n")
    config = project.config()
    execute(config, progress=quiet, jobs=1)
    serial = [masked_record(r) for r in harvest(config, progress=quiet)]
    execute(config, force=True, progress=quiet, jobs=2)
    assert [masked_record(r) for r in harvest(config, progress=quiet)] == serial


def test_the_shares_follow_the_work(tmp_path):
    """Cores go to the experiments running and those ready to start; an ending experiment's cores go
    to the others only when none waits to take them; the remainder goes to those started first."""
    budget = ThreadBudget(cores=2, jobs=2)
    files = {name: tmp_path / name for name in ("a", "b", "c")}

    def written():
        return {name: int(path.read_text()) for name, path in files.items() if path.exists()}

    assert budget.start_share() == 1
    budget.update(["a", "b"], 1)
    budget.attach("a", files["a"])
    budget.attach("b", files["b"])
    assert written() == {"a": 1, "b": 1}
    budget.update(["a"], 1)  # b ended, c is ready: a keeps one thread, c takes the other core
    assert written() == {"a": 1, "b": 1}
    budget.detach("b")
    budget.update(["a", "c"], 0)
    budget.attach("c", files["c"])
    assert written() == {"a": 1, "b": 1, "c": 1}
    budget.update(["a"], 0)  # nothing left to start: a gets both cores
    assert written()["a"] == 2
    budget.update(["a", "c"], 0)  # another starts after all (an `after` chain): back to one each
    assert written()["a"] == 1

    wide = ThreadBudget(cores=4, jobs=3)
    wide.update(["x", "y", "z"], 0)
    assert wide.shares() == {"x": 2, "y": 1, "z": 1} and wide.start_share() == 1
    wide.update(["y"], 0)
    assert wide.shares() == {"y": 4}
    assert ThreadBudget(cores=2, jobs=4).start_share() == 1


def test_cores_other_programs_keep_busy_are_not_given(tmp_path):
    """Another program keeps a core busy: the experiment left alone keeps one thread, and gets the
    second core once that program stops."""

    class Load:
        busy = 1.0

        def others(self):
            return self.busy

    load = Load()
    budget = ThreadBudget(cores=2, jobs=2, load=load)
    budget.update(["a"], 0)
    budget.attach("a", tmp_path / "a")
    assert (tmp_path / "a").read_text() == "1"
    load.busy = 0.6  # more than 0.3 of a core: still not free
    budget.refresh()
    assert (tmp_path / "a").read_text() == "1"
    load.busy = 0.1
    budget.refresh()
    assert (tmp_path / "a").read_text() == "2"


def test_the_machine_load_counts_this_process_and_its_kernels_as_ours():
    """What a child process (a kernel) spends is ours, whether it still runs or has ended; the
    machine's busy time includes it. Measured in CPU seconds, so other programs cannot upset it."""
    import subprocess
    import sys

    import psutil

    from pipeline.run.threads import _busy, _ours

    me = psutil.Process()
    ours, busy = _ours(psutil, me), _busy(psutil, None)
    spin = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.5:\n    pass\n"
    child = subprocess.Popen([sys.executable, "-c", spin + "input()"], stdin=subprocess.PIPE)
    assert wait_for(lambda: _ours(psutil, me) - ours >= 0.5, timeout=60), "a running child's CPU time is ours"
    child.communicate(b"\n")  # it ends, and this process waits for it
    assert _ours(psutil, me) - ours >= 0.5, "an ended child's CPU time is still ours"
    assert _busy(psutil, None) - busy >= 0.5

    load = MachineLoad()
    load.samples.extend([(0.0, 10.0, 4.0), (1.0, 11.5, 4.5), (2.0, 13.0, 5.0)])
    assert load.others() == pytest.approx(1.0)  # 3 busy seconds in 2, 1 of them ours


def test_which_experiments_set_their_own_threads():
    from pathlib import Path

    import nbformat

    from pipeline.records import Experiment

    def experiment(source):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        return Experiment(name="x", path=Path("/x/x.py"), source="experiments/x.py", notebook=nb, title="x",
                          parameters={}, after=())

    for source in ('os.environ["OMP_NUM_THREADS"] = "4"', "torch.set_num_threads(2)", "with threadpool_limits(1):\n    f()",
                   'os.environ.update({"MKL_NUM_THREADS": "1"})', 'os.putenv("OPENBLAS_NUM_THREADS", "1")'):
        assert sets_own_threads(experiment(source)), source
    for source in ('print(os.environ["OMP_NUM_THREADS"])', "torch.get_num_threads()", "import threadpoolctl"):
        assert not sets_own_threads(experiment(source)), source


def test_the_kernel_side_leaves_a_limit_a_cell_set_alone(tmp_path, monkeypatch):
    """``ThreadLimits`` (run here, in this process, on NumPy's OpenBLAS): the share is applied; once a
    cell has set the limit itself, later shares leave it where the cell put it."""
    import numpy  # noqa: F401  (loads OpenBLAS)
    from threadpoolctl import threadpool_info, threadpool_limits

    from pipeline.kernel_extension import ThreadLimits

    def blas():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    share = tmp_path / "threads"
    with threadpool_limits(1):  # this process's limits come back afterwards
        limits = ThreadLimits(str(share))
        limits()  # no file yet: nothing happens
        assert blas() == {1}
        share.write_text("2")
        limits()
        assert blas() == {2}
        share.write_text("1")
        limits()
        assert blas() == {1}
        threadpool_limits(3)  # what a cell might do
        share.write_text("2")
        limits()
        assert blas() == {3}


def test_what_a_kernel_environment_gets(tmp_path):
    """The start share where the user set nothing; under a budget, the share file."""
    from pipeline.run.threads import kernel_variables

    share = tmp_path / "threads"
    assert kernel_variables(None, None, {}) == {}
    assert kernel_variables(2, None, {"OMP_NUM_THREADS": "3"}) == {"OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    assert kernel_variables(1, share, {}) == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                                              "PIPELINE_THREADS_FILE": str(share)}
