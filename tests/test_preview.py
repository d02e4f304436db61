"""`pipeline preview`: warm kernels re-run from the first changed cell (and restart when they must),
the watcher rebuilds on a real edit, failures show on the page, Ctrl-C stops cleanly."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import REPO, interruptible

from pipeline.progress import Progress
from pipeline.run.execute import execute
from pipeline.run.kernel_env import runtime_base
from pipeline.run.warm import WarmKernels

EXPERIMENT = """
# %% [markdown]
# # Warm

# %% Setup
import os
pid = os.getpid()
setup_runs = globals().get("setup_runs", 0) + 1

# %% Middle
total = sum(range(10))

# %% Last
print("pid", pid, "setup", setup_runs, "total", total, "{last}")
"""


class Counting(Progress):
    def __init__(self):
        super().__init__(quiet=True, live=False)
        self.cells = 0

    def cell_started(self, *args):
        self.cells += 1


def _run(config, warm, progress=None):
    progress = progress or Counting()
    layout = config.layout.for_preview()
    execute(config, keep_going=True, progress=progress, layout=layout, runner=warm.run)
    text = layout.executed_notebook("01_warm").read_text(encoding="utf-8")
    return re.search(r"pid (\d+) setup (\d+) total (\d+) (\w+)", text).groups(), progress.cells


@pytest.fixture
def warm_project(project):
    path = project.add("01_warm", EXPERIMENT.replace("{last}", "v1"))
    config = project.config()
    warm = WarmKernels(config, [], max_kernels=2)
    yield project, path, config, warm
    warm.close()


def test_an_edit_in_the_last_cell_reruns_only_that_cell_in_the_same_kernel(warm_project):
    project, path, config, warm = warm_project
    (pid, setup, _, last), cells = _run(config, warm)
    assert (setup, last, cells) == ("1", "v1", 3)
    path.write_text(path.read_text().replace("v1", "v2"))
    (pid2, setup2, _, last2), cells2 = _run(config, warm)
    assert (pid2, setup2, last2, cells2) == (pid, "1", "v2", 1)  # same kernel, the setup cell did not run again
    record = config.layout.for_preview().executed_notebook("01_warm").read_text(encoding="utf-8")
    assert '"mode": "warm"' in record
    assert not list(config.layout.cache.glob("*/*.ipynb"))  # warm results never reach build's cache


def test_a_markdown_only_edit_runs_nothing(warm_project):
    project, path, config, warm = warm_project
    first, _ = _run(config, warm)
    path.write_text(path.read_text().replace("# # Warm", "# # Warm, retitled"))
    again, cells = _run(config, warm)
    assert again == first and cells == 0


@pytest.mark.parametrize("change", ["first cell", "config", "data file", "kernel died"])
def test_these_changes_restart_the_kernel(warm_project, change):
    project, path, config, warm = warm_project
    data = project.root / "experiments" / "words.txt"
    data.write_text("a\n")
    path.write_text("# ---\n# jupyter:\n#   pipeline:\n#     data: [words.txt]\n# ---\n" + path.read_text())
    (pid, *_), _ = _run(config, warm)
    if change == "first cell":
        path.write_text(path.read_text().replace("import os\n", "import os  # edited\n"))
    elif change == "config":
        project.write_config('[tool.pipeline.model]\nseed = 7\n')
        config = warm.config = project.config()
    elif change == "data file":
        data.write_text("a\nb\n")
    else:
        os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.5)
    path.write_text(path.read_text().replace("v1", "v2"))
    (pid2, setup2, _, last2), cells = _run(config, warm)
    assert pid2 != pid and setup2 == "1" and last2 == "v2" and cells == 3


def test_at_most_max_kernels_stay_alive_least_recently_used_first(project):
    for name in ("01_warm", "02_warm", "03_warm"):
        project.add(name, EXPERIMENT.replace("{last}", name))
    config = project.config()
    warm = WarmKernels(config, [], max_kernels=2)
    try:
        execute(config, keep_going=True, progress=Progress(quiet=True, live=False),
                layout=config.layout.for_preview(), runner=warm.run)
        assert sorted(warm.kernels) == ["02_warm", "03_warm"]
        assert warm.restarts == 3
    finally:
        warm.close()
    assert not warm.kernels


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url, predicate, timeout=90, proc=None):
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the preview exited ({proc.returncode}):\n{proc.log.name}")
        try:
            text = urllib.request.urlopen(url, timeout=2).read().decode("utf-8", "replace")
            if predicate(text):
                return text
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the page never showed what was expected; last page:\n{text[-2000:]}")


def _kernels_of(pid):
    result = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if "ipykernel" in line and f" {pid} " in f" {line} "]


@pytest.mark.slow
def test_preview_serves_rebuilds_on_edit_shows_failures_and_stops_cleanly(project):
    import shutil

    shutil.copy(REPO / "mkdocs.yml", project.root / "mkdocs.yml")
    shutil.copytree(REPO / "site" / "javascripts", project.root / "site" / "javascripts")
    path = project.add("01_warm", EXPERIMENT.replace("{last}", "FIRST-VERSION"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}
    log = open(project.root / "preview.log", "w+", encoding="utf-8")  # a file: a full pipe would block the server
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "preview", "--port", str(port)], cwd=project.root,
                            env=env, stdout=log, stderr=subprocess.STDOUT, text=True, preexec_fn=interruptible)
    proc.log = log
    try:
        _wait(url, lambda t: "FIRST-VERSION" in t, timeout=180, proc=proc)
        path.write_text(path.read_text().replace("FIRST-VERSION", "SECOND-VERSION"), encoding="utf-8")
        page = _wait(url, lambda t: "SECOND-VERSION" in t)
        assert "プレビュー" in page  # a warm kernel produced it: the page says it is not a clean run

        path.write_text(path.read_text() + "\n# %% Broken\nraise ValueError('broken on purpose')\n", encoding="utf-8")
        page = _wait(url, lambda t: "broken on purpose" in t)
        assert "experiments/01_warm.py" in page and "SECOND-VERSION" in page  # the error and the last good outputs

        (project.root / "pyproject.toml").write_text("[tool.pipeline\nbroken toml", encoding="utf-8")
        page = _wait(url, lambda t: "preview: the last rebuild failed" in t)
        assert "not valid TOML" in page and "SECOND-VERSION" in page
        kernels = _kernels_of(proc.pid)
        assert kernels  # the warm kernel is alive while the preview runs
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            log.seek(0)
            output = log.read()
            log.close()
    assert proc.returncode in (0, 130), output
    assert "preview: stopped" in output
    assert not re.search(r"Traceback \(most recent call last\):\n  File", output)  # no raw Python traceback
    time.sleep(0.5)
    assert _kernels_of(proc.pid) == []  # no orphan kernels
    assert not [p for p in runtime_base().iterdir() if p.name.startswith(f"{proc.pid}-")]
    leftovers = [p for p in (project.root / "build").rglob(".*") if p.name.endswith((".new", ".old", ".tmp"))]
    assert leftovers == []
