"""Where everything lives: one object owns the build folder's layout.

Stages ask the ``Layout`` (``config.layout``) for paths instead of building them
or importing them from one another. ``check_outputs`` refuses output folders
outside the project, or folders the pipeline did not create.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import OutputPathError


@dataclass(frozen=True)
class Layout:
    root: Path
    experiments: Path
    templates: Path
    build: Path
    models: Path
    #: the Qiita export (article.md, public/<slug>.md for qiita-cli, figures/)
    qiita: Path
    #: the Zenn export (articles/<slug>.md, images/<slug>/)
    zenn: Path
    #: the MkDocs docs_dir (index.md, figures/, assets/)
    site: Path
    #: where the lock, the publication journal and the manifest live (build/, shared by previews)
    state: Path | None = None

    # build/ ------------------------------------------------------------------
    @property
    def executed(self) -> Path:
        return self.build / "executed"

    @property
    def cache(self) -> Path:
        return self.build / "cache"

    @property
    def records(self) -> Path:
        return self.build / "records"

    @property
    def figures(self) -> Path:
        return self.build / "figures"

    @property
    def failed(self) -> Path:
        return self.build / "failed"

    @property
    def drafts(self) -> Path:
        return self.build / "drafts"

    @property
    def preview(self) -> Path:
        """Preview builds (warm kernels) write here, never into the clean build's folders."""
        return self.build / "preview"

    @property
    def lock(self) -> Path:
        return (self.state or self.build) / ".lock"

    @property
    def journal(self) -> Path:
        return (self.state or self.build) / ".publish.json"

    @property
    def manifest(self) -> Path:
        """What the last publication wrote outside build/ (so a user's own files are never replaced)."""
        return (self.state or self.build) / ".published.json"

    def executed_notebook(self, name: str) -> Path:
        return self.executed / f"{name}.ipynb"

    def failure_report(self, name: str) -> Path:
        return self.executed / f"{name}.failure.json"

    def failed_notebook(self, name: str) -> Path:
        return self.failed / f"{name}.ipynb"

    def record(self, name: str) -> Path:
        return self.records / f"{name}.json"

    def figures_of(self, name: str) -> Path:
        return self.figures / name

    def output_folders(self) -> list[Path]:
        """Folders the pipeline owns whole (staging leftovers anywhere in them are its own)."""
        return list(dict.fromkeys([self.state or self.build, self.build]))

    def for_preview(self) -> "Layout":
        """The same project with build outputs under build/preview/ (the site stays where mkdocs serves it;
        the lock, journal and manifest stay the build's, so previews and builds take turns)."""
        return Layout(self.root, self.experiments, self.templates, self.preview, self.models,
                      self.preview / "qiita", self.preview / "zenn", self.site, state=self.build)


def inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def path_problems(layout: Layout) -> list[str]:
    """Output folders that would overwrite the project's own files (checked with the config)."""
    problems = []
    sources = {"experiments_dir": layout.experiments, "templates": layout.templates}
    outputs = {"build_dir": layout.build, "article.export_dir": layout.qiita, "zenn.export_dir": layout.zenn,
               "site_dir": layout.site}
    for key, path in outputs.items():
        if not inside(path, layout.root) or path.resolve() == layout.root.resolve():
            problems.append(f"tool.pipeline.{key}: {path} must be a folder inside the project ({layout.root})")
            continue
        for name, source in sources.items():
            if inside(path, source) or inside(source, path):
                problems.append(f"tool.pipeline.{key}: {path} overlaps the {name} folder {source}")
    return problems


def read_manifest(layout: Layout) -> set[str]:
    """The paths (relative to the project) that earlier builds published, and the export folders
    they created (with a trailing "/")."""
    import json

    try:
        return set(json.loads(layout.manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


def published_outside_build(layout: Layout) -> list[Path]:
    """The published paths outside build/ (their staging leftovers are cleaned after a kill)."""
    root = layout.root.resolve()
    paths = [root / p.rstrip("/") for p in read_manifest(layout) if not p.endswith("/")]
    return [p for p in paths if not inside(p, layout.state or layout.build)]


def check_export_folders(folders: list[Path], layout: Layout) -> None:
    """An export folder outside build/ must be new, empty, or one an earlier build created:
    the pipeline never writes into a folder of the user's."""
    known = read_manifest(layout)
    root = layout.root.resolve()
    for folder in folders:
        if inside(folder, layout.state or layout.build) or not folder.exists():
            continue
        if f"{folder.resolve().relative_to(root).as_posix()}/" in known:
            continue
        if not folder.is_dir() or any(folder.iterdir()):
            raise OutputPathError(
                f"{folder} already holds files the pipeline did not write; point the export setting "
                "(tool.pipeline.article.export_dir or tool.pipeline.zenn.export_dir) at a new or empty folder")


def unowned(targets: list[Path], layout: Layout) -> list[Path]:
    """Targets outside build/ that exist but that no earlier build published: the user's own files."""
    known = read_manifest(layout)
    found = []
    for target in targets:
        if inside(target, layout.build) or not (target.exists() or target.is_symlink()):
            continue
        if target.resolve().relative_to(layout.root.resolve()).as_posix() not in known:
            found.append(target)
    return found


def check_owned(targets: list[Path], layout: Layout) -> None:
    foreign = unowned(targets, layout)
    if foreign:
        listed = ", ".join(str(p.relative_to(layout.root)) for p in foreign)
        raise OutputPathError(
            f"{listed}: already there but not written by this pipeline (not in {layout.manifest.name}), "
            "and the build would replace it; move it away (or delete it if it is an old generated file), "
            "or point the output setting in pyproject.toml at a new folder")
