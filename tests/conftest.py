"""Shared fixtures: every test works in its own project folder under tmp_path,
never reads the real home folder and never sees an API key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.progress import Progress

REPO = Path(__file__).resolve().parents[1]


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
