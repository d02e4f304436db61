"""Several articles in one repository: find their projects, build them all.

A writer keeps many articles in one git repository, the way qiita-cli and zenn-cli expect:
each article is a project of its own (a folder whose pyproject.toml has ``[tool.pipeline]``,
as ``python -m pipeline init`` makes it), and all of them export into the same qiita-cli
folder and zenn-cli root. ``python -m pipeline build --all`` at the repository root finds
the projects (``find_projects``) and builds each in turn, with a summary per article
(``Outcome``); one failing article does not stop the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.summary import BuildSummary

#: folders never searched for projects (besides hidden ones and virtual environments)
SKIPPED = frozenset({"node_modules", "__pycache__", "site-packages"})


@dataclass(frozen=True)
class Outcome:
    """One article of ``build --all``: its project folder and its summary, or the error that stopped it."""

    project: Path
    summary: BuildSummary | None = None
    error: str = ""
    config: Config | None = None

    @property
    def ok(self) -> bool:
        return self.summary is not None and not self.summary.failures and not self.summary.exports.refused

    def line(self, root: Path) -> str:
        name = os.path.relpath(self.project, root)
        if self.summary is None:
            return f"  {name}: FAILED: {_gist(self.error)}"
        s = self.summary
        state = ("up to date" if s.up_to_date else
                 f"{s.count('executed')} executed, {s.count('cached')} cached, {s.count('failed')} failed")
        if s.exports.refused:  # the other platforms were published; the whole message was printed above
            refused = s.exports.refused[0].partition(": ")
            return f"  {name}: NOT PUBLISHED on {refused[0]} ({state}): {_gist(refused[2], 160)}"
        where = os.path.relpath(s.exports.qiita_cli, root)
        if s.exports.zenn:
            where += f", {os.path.relpath(s.exports.zenn, root)}"
        return f"  {name}: {'ok' if self.ok else 'FAILED'} ({state}; {len(s.warnings)} warnings) -> {where}"


def _gist(message: str, limit: int = 300) -> str:
    """The error *message* on one line, whole up to *limit* characters (its first line alone may end
    in a colon, "1 experiment failed:"); the full message was printed when the article failed."""
    text = " ".join(message.split()) or "error"
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "… (the whole message is above)"


def _pipeline_table(pyproject: Path) -> dict | None:
    from pipeline.config import tomllib

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    table = data.get("tool", {}).get("pipeline")
    return table if isinstance(table, dict) else None


def is_project(folder: Path) -> bool:
    """Whether *folder* is an article project (its pyproject.toml has ``[tool.pipeline]``)."""
    return _pipeline_table(folder / "pyproject.toml") is not None


def find_projects(root: Path) -> list[Path]:
    """The article projects at or below *root*, in path order. Hidden folders, virtual
    environments, node_modules and each project's build folder are not searched."""
    root = root.resolve()
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        skip: set[str] = set()
        if "pyproject.toml" in files:
            table = _pipeline_table(here / "pyproject.toml")
            if table is not None:
                found.append(here)
                build_dir = table.get("build_dir", "build")
                if isinstance(build_dir, str):
                    skip.add(os.path.normpath(build_dir).split(os.sep)[0])
        dirs[:] = sorted(d for d in dirs if not (d.startswith(".") or d in SKIPPED or d in skip
                                                  or (here / d / "pyvenv.cfg").exists()))
    return found


def summary_lines(outcomes: list[Outcome], root: Path) -> list[str]:
    """The closing table of ``build --all``: one line per article."""
    good = sum(1 for o in outcomes if o.ok)
    lines = [f"built {len(outcomes)} articles: {good} ok, {len(outcomes) - good} failed"]
    return lines + [o.line(root) for o in outcomes]
