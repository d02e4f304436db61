"""The battery's project: the fake credentials every command runs with, the two small
experiments built once as the last good article (``make_base``), and the environment of
every command."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import run_pipeline

from .structure import structure

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# ---------------------------------------------------------------------------
# Credentials: distinctive fake values, set for every command the battery runs
# ---------------------------------------------------------------------------

SECRETS = {
    "OPENAI_API_KEY": "sk-LEAK-openai-7f3a9c1e5b2d4680",
    "HF_TOKEN": "hf_LEAKhuggingface9b8c7d6e5f4a",
    "MY_SERVICE_SECRET": "LEAK-service-secret-31d4e5f6a7b8",
    "DATABASE_URL": "postgresql://dbuser:LEAKPASS-db-5e6f7a8b@db.example.com:5432/app",
    "JUPYTER_GATEWAY_AUTH_TOKEN": "LEAK-gateway-token-c0ffee123456",
}
#: an LLM endpoint's password, given on the command line or in pyproject.toml
URL_PASSWORD = "LEAKPASS-llm-9d8c7b6a"
#: what must never appear: every value, and the passwords inside URLs on their own
LEAK_VALUES = sorted({*SECRETS.values(), "LEAKPASS-db-5e6f7a8b", URL_PASSWORD}, key=len, reverse=True)

TRACEBACK = re.compile(r"^Traceback \(most recent call last\):", re.MULTILINE)
GOOD_EXIT = (0, 1, 130)
STAGING = re.compile(r"^\..+\.(new|old|tmp)$")
KEEP_GOING_NOTE = "failed"

# ---------------------------------------------------------------------------
# The last good project
# ---------------------------------------------------------------------------

CONFIG = {
    "top": {"cell_timeout": 60, "experiment_timeout": 120},
    "article": {"title": "Fault battery", "slug": "faults", "tags": ["Python"]},
    "llm": {"model": "fake-model", "timeout": 5.0, "max_retries": 1, "deadline": 60.0},
}

BASE_EXPERIMENTS = {
    "01_fig": '''
        # %% [markdown]
        # # Figure chapter
        #
        # A line plot and a glued value.

        # %% Plot alt="a rising line"
        import matplotlib.pyplot as plt
        from pipeline.glue import glue
        plt.figure(figsize=(2, 1.5))
        plt.plot([1, 2, 3])
        plt.show()
        glue("answer", 42)

        # %% [markdown]
        # ## 考察
        #
        # The answer is {{ answer }}.
        ''',
    "02_table": '''
        # %% [markdown]
        # # Table chapter

        # %%
        import pandas as pd
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        ''',
}

#: the last good outputs a case must leave alone (mode "intact"), relative to the project
GOOD_OUTPUTS = ("build/qiita/article.md", "build/qiita/public/*.md", "build/qiita/figures/**", "site/index.md",
                "site/figures/**", "build/records/*.json", "build/figures/**", "build/cache/**")


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def render_config(top: dict, article: dict, llm: dict) -> str:
    lines = ["[tool.pipeline]"] + [f"{k} = {toml_value(v)}" for k, v in top.items()]
    lines += ["", "[tool.pipeline.article]"] + [f"{k} = {toml_value(v)}" for k, v in article.items()]
    lines += ["", "[tool.pipeline.llm]"] + [f"{k} = {toml_value(v)}" for k, v in llm.items()]
    return "\n".join(lines) + "\n"


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "PIPELINE_", "PYTEST_", "FAULTS_")) and k not in SECRETS}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_PLATFORM_DIRS="1",
               PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", NO_MKDOCS_2_WARNING="1", **SECRETS)
    return env


def file_hashes(root: Path, patterns=GOOD_OUTPUTS) -> dict[str, str]:
    found = {}
    for pattern in patterns:
        for path in root.glob(pattern):
            if path.is_file():
                found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@dataclass
class Base:
    root: Path
    snapshot: dict[str, str]
    notes: dict[str, list[str]]  # dialect -> structural note lines of the last good article
    seconds: float

    def __repr__(self) -> str:
        return f"Base({self.root}, files={len(self.snapshot)})"


def make_base(workdir: Path) -> Base:
    """Write the small experiments and build them once (the last good article)."""
    root = Path(workdir) / "base"
    (root / "experiments").mkdir(parents=True)
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "pyproject.toml").write_text(render_config(**CONFIG), encoding="utf-8")
    for name, text in BASE_EXPERIMENTS.items():
        (root / "experiments" / f"{name}.py").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    env = cli_env(Path(workdir) / "home")
    started = time.monotonic()
    done = run_pipeline("build", cwd=root, env=env)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"the last good build failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    snapshot = file_hashes(root)
    notes = {d: [line for _, line in structure(read_text(root / p), d).notes]
             for d, p in (("qiita", "build/qiita/article.md"), ("mkdocs", "site/index.md"))}
    return Base(root, snapshot, notes, seconds)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
