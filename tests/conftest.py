"""Shared fixtures: every test works in its own project folder under tmp_path,
never reads the real home folder and never sees an API key."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.progress import Progress

REPO = Path(__file__).resolve().parents[1]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _llama_problem() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "needs llama-cpp-python[server]: run `.setup/install test`"
    probe = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    info = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    if "AMX" in info or "AVX512 = 1" in info:
        return ("llama-cpp-python was built with AMX/AVX-512, which crashes on this kind of machine: "
                "run `.setup/install test` to rebuild it with portable flags")
    return None


def _engine_problem(name: str) -> str | None:
    from pipeline.publish.site import installed

    return None if installed(name) else (f"needs the site engine {name}: run `.setup/install test` (the site extra; "
                                         "Zensical needs Python 3.11 or later)")


def _qiita_cli_problem() -> str | None:
    if shutil.which("node") is None:
        return "needs Node.js for qiita-cli's own code (apt-get install nodejs npm), then `.setup/install test`"
    if not (REPO / ".setup/npm/node_modules/@qiita/qiita-cli/package.json").is_file():
        return "needs @qiita/qiita-cli in .setup/npm: run `.setup/install test` (it runs npm ci there)"
    return None


#: what each `@pytest.mark.requires(NAME)` checks; None means available
REQUIREMENTS = {
    "qiita_cli": _qiita_cli_problem,
    "chromium": lambda: None if CHROMIUM else "needs Debian's chromium (apt-get install chromium); .ci/run installs it",
    "llama_cpp": _llama_problem,
    "mkdocs": lambda: _engine_problem("mkdocs"),
    "zensical": lambda: _engine_problem("zensical"),
}


def pytest_runtest_setup(item):
    """A test marked ``requires(NAME)`` skips with the reason where NAME is missing, except in CI
    (CI set, as .ci/run does), where everything is installed and a missing tool is a failure."""
    for mark in item.iter_markers("requires"):
        problem = REQUIREMENTS[mark.args[0]]()
        if problem:
            if os.environ.get("CI"):
                pytest.fail(f"CI: {problem}", pytrace=False)
            pytest.skip(problem)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PIPELINE_DEBUG"):
        monkeypatch.delenv(name, raising=False)


class Project:
    """A throwaway project: pyproject.toml with [tool.pipeline] and experiments/."""

    def __init__(self, root: Path):
        self.root = root
        (root / "experiments").mkdir(parents=True, exist_ok=True)
        self.settings = "cell_timeout = 60\nexperiment_timeout = 120\n"
        self.write_config()

    def write_config(self, extra: str = "") -> None:
        (self.root / "pyproject.toml").write_text(f"[tool.pipeline]\n{self.settings}{extra}", encoding="utf-8")

    def add(self, name: str, text: str) -> Path:
        path = self.root / "experiments" / f"{name}.py"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def config(self, **overrides):
        return load_config(self.root, overrides)

    @property
    def build(self) -> Path:
        return self.root / "build"


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path / "proj")


@pytest.fixture
def quiet() -> Progress:
    return Progress(quiet=True, live=False)


@contextlib.contextmanager
def one_math_thread():
    """Kernels started inside run their math libraries (torch) on one thread. A serial build gives
    a kernel every core, and on the two cores this suite shares with other work two spinning OpenMP
    threads took 58 s to generate 20 tokens with the embedded model, one thread 2.7 s. What the
    model tests check (glue values, repeated sampling, cold against warm records) does not depend
    on the thread count; the thread budget has tests of its own (test_threads.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        yield


@pytest.fixture
def one_thread():
    with one_math_thread():
        yield


@pytest.fixture(scope="session")
def converted_models(tmp_path_factory) -> Path:
    """A model cache holding the embedded model converted once for the session, by pipeline.lab's
    own conversion: the tests that load the model share it; the tests of the conversion itself
    (a cold run, two builds converting at once) start from an empty folder. Under pytest-xdist the
    workers share one folder of the run: the model cache's own lock lets one convert while the
    others wait for it, as two builds on one machine do."""
    import json

    from pipeline import lab

    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's base folder lies in the run's own
        folder = tmp_path_factory.getbasetemp().parent / "models"
        folder.mkdir(exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("models")
    settings = {"model": {"id": "embedded", "device": "cpu", "quantization": "auto", "dtype": "auto", "seed": 0},
                "models_dir": str(folder)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIPELINE_SETTINGS", json.dumps(settings))
        lab.load_model(publish_info=False)
    assert [p.name for p in folder.iterdir() if p.name.startswith("smollm2-")], "load_model() converted nothing"
    return folder
