"""`pipeline preview`: warm kernels re-run from the first changed cell (and restart when they must),
the watcher rebuilds on a real edit, failures show on the page, Ctrl-C stops cleanly."""

import contextlib
import os
import re
import signal
import uuid
from pathlib import Path

import pytest
from conftest import CHROMIUM, REPO
from helpers import Preview, alive, wait_for

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
    execute(config, keep_going=True, progress=progress, layout=layout, engine=warm)
    text = layout.executed_notebook("01_warm").read_text(encoding="utf-8")
    return re.search(r"pid (\d+) setup (\d+) total (\d+) (\w+)", text).groups(), progress.cells


#: set in the environment of every process a test starts; kernels inherit it (it names no credential)
MARK = "PIPELINE_TEST_KERNEL_MARK"


def _marked(mark: str) -> list[tuple[int, str]]:
    """Live processes started with ``MARK=mark`` in their environment, found through /proc, so
    that a kernel re-parented to init (an orphan) is found as well as one still a child."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours
            continue
        if needle in environ and alive(int(entry.name)):
            found.append((int(entry.name), command))
    return found


def _kernels(mark: str) -> list[tuple[int, str]]:
    return [(pid, command) for pid, command in _marked(mark) if "ipykernel" in command]


@pytest.fixture
def mark(monkeypatch) -> str:
    """A value of MARK unique to this test, in the environment the kernels inherit."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARK, value)
    return value


@pytest.fixture
def warm_project(project, mark):
    path = project.add("01_warm", EXPERIMENT.replace("{last}", "v1"))
    config = project.config()
    warm = WarmKernels(config, [], max_kernels=2)
    yield project, path, config, warm
    warm.close()
    assert wait_for(lambda: not _marked(mark), timeout=10), f"left running after close(): {_marked(mark)}"


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
        assert wait_for(lambda: not alive(int(pid)), timeout=30), f"kernel {pid} still alive after SIGKILL"
        # and the kernel's manager has seen it die (what the warm kernels ask before reusing it)
        [kept] = warm.kernels.values()
        assert wait_for(lambda: not kept.session.alive(), timeout=30), f"the manager still reports kernel {pid} alive"
    path.write_text(path.read_text().replace("v1", "v2"))
    (pid2, setup2, _, last2), cells = _run(config, warm)
    assert pid2 != pid and setup2 == "1" and last2 == "v2" and cells == 3


def test_at_most_max_kernels_stay_alive_least_recently_used_first(project, mark):
    for name in ("01_warm", "02_warm", "03_warm"):
        project.add(name, EXPERIMENT.replace("{last}", name))
    config = project.config()
    warm = WarmKernels(config, [], max_kernels=2)
    try:
        execute(config, keep_going=True, progress=Progress(quiet=True, live=False),
                layout=config.layout.for_preview(), engine=warm)
        assert sorted(warm.kernels) == ["02_warm", "03_warm"]
        assert warm.restarts == 3
        assert len(_kernels(mark)) == 2  # the evicted kernel was stopped, not only forgotten
    finally:
        warm.close()
    assert not warm.kernels
    assert wait_for(lambda: not _kernels(mark), timeout=10), f"kernels left running: {_kernels(mark)}"


def _wait(preview, predicate, timeout=90):
    """The page *preview* serves once *predicate* holds for it (the preview has rebuilt)."""
    last = [""]

    def shown():
        page = preview.page()
        if page is None:
            return None
        last[0] = page
        return page if predicate(page) else None

    page = wait_for(shown, timeout, interval=0.2)
    assert page, f"the page never showed what was expected; last page:\n{last[0][-2000:]}"
    return page


@contextlib.contextmanager
def _open_page(url):
    """The page open in chromium while the block runs; yields a function that waits until the page,
    never navigated again by the test, shows a text (None without chromium: nothing to check)."""
    if not CHROMIUM:
        yield lambda text: True
        return
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(url, wait_until="load")

            def has(text):
                try:
                    return text in page.evaluate("() => document.body.innerText")
                except PlaywrightError:  # the page is reloading
                    return False
            yield lambda text: wait_for(lambda: has(text), timeout=90, interval=0.3)
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.parametrize("engine", [pytest.param(e, marks=pytest.mark.requires(e)) for e in ("mkdocs", "zensical")])
def test_preview_serves_rebuilds_on_edit_shows_failures_and_stops_cleanly(project, mark, engine):
    """With either site engine: an open page reloads itself after an edit (live reload, in chromium
    where it is installed), the server is stopped with the preview."""
    import shutil

    project.write_config(f'\n[tool.pipeline.site]\nengine = "{engine}"\n')
    shutil.copy(REPO / "mkdocs.yml", project.root / "mkdocs.yml")
    path = project.add("01_warm", EXPERIMENT.replace("{last}", "FIRST-VERSION"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}
    preview = Preview(project.root, env, project.root / "preview.log")
    try:
        _wait(preview, lambda t: "FIRST-VERSION" in t, timeout=180)
        with _open_page(preview.url) as reloaded:  # served: the port is the preview's now
            path.write_text(path.read_text().replace("FIRST-VERSION", "SECOND-VERSION"), encoding="utf-8")
            page = _wait(preview, lambda t: "SECOND-VERSION" in t)
            assert reloaded("SECOND-VERSION"), f"{engine}: the open page did not reload itself"
        assert ('content="zensical-' in page) == (engine == "zensical")  # the engine asked for serves it
        assert "プレビュー" in page  # a warm kernel produced it: the page says it is not a clean run

        path.write_text(path.read_text() + "\n# %% Broken\nraise ValueError('broken on purpose')\n", encoding="utf-8")
        page = _wait(preview, lambda t: "broken on purpose" in t)
        assert "experiments/01_warm.py" in page and "SECOND-VERSION" in page  # the error and the last good outputs

        (project.root / "pyproject.toml").write_text("[tool.pipeline\nbroken toml", encoding="utf-8")
        page = _wait(preview, lambda t: "preview: the last rebuild failed" in t)
        assert "not valid TOML" in page and "SECOND-VERSION" in page
        assert _kernels(mark)  # the warm kernel is alive while the preview runs (and the finder sees it)
    finally:
        output = preview.stop()
    proc = preview.proc
    assert proc.returncode in (0, 130), output
    assert "preview: stopped" in output and f"with {engine};" in output
    assert not re.search(r"Traceback \(most recent call last\):\n  File", output)  # no raw Python traceback
    # no process of the preview's left: kernels re-parented to init (orphans) are found too
    assert wait_for(lambda: not _marked(mark), timeout=10), f"left running: {_marked(mark)}"
    assert not [p for p in runtime_base().iterdir() if p.name.startswith(f"{proc.pid}-")]
    leftovers = [p for p in (project.root / "build").rglob(".*") if p.name.endswith((".new", ".old", ".tmp"))]
    assert leftovers == []
