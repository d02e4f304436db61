"""Where each article stands, from local git and files only: ``python -m pipeline status``, and what a
build says to do next.

For each article project (the one at the folder, or every one below it, as ``build --all`` finds
them) ``article_state`` reads: its slug and title; whether the build is up to date (its inputs
against the last clean build's: ``uptodate.inputs_unchanged``); its figures not committed or not
pushed; the qiita-cli file's ``id``, ``private`` and ``ignorePublish``; the Zenn article's (or
book's) ``published``; and the one command to run next. "Pull first" (``pull_first``) comes
before anything else. Never the network: what the remote has is what the last ``git fetch`` saw.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from pipeline.article.title import titled_project
from pipeline.config import Config
from pipeline.layout import GENERATED_FILE
from pipeline.publish.export import article_paths, pushed_paths, qiita_cli_file
from pipeline.publish.frontmatter import read_front_matter
from pipeline.publish.gitrepo import Reader, Repository
from pipeline.publish.qiita import is_held


def shown(path: Path) -> str:
    """*path* from the current folder, as a command line takes it."""
    return os.path.relpath(path, Path.cwd())


def repository(config: Config) -> Repository | None:
    return Repository.of(config.root, config.article.git_remote)


def pull_first(config: Config, repo: Repository | Reader | None = None) -> str:
    """"pull first: ..." when the remote-tracking branch has commits touching the article's pushed
    files that the work tree lacks (read from local refs: after ``git fetch``); else "". *repo*: the
    repository, or the build's reader of it (``gitrepo.read_once``: read only when the article has
    pushed files)."""
    paths = pushed_paths(config)
    if not paths:
        return ""
    repo = repo() if callable(repo) else repo or repository(config)
    return repo.pull_first(paths) if repo else ""


@dataclass(frozen=True)
class Step:
    """What git still has to do for an article's pushed files: ``changed`` (to add and commit, the
    files and folders as a command names them) and ``unpushed`` commits."""

    repo: Repository | None
    changed: tuple[Path, ...] = ()
    unpushed: int = 0

    def command(self, message: str) -> str:
        if self.repo is None:
            return ""
        if self.changed:
            return self.repo.publish_command(self.changed, message)
        return self.repo.push_step if self.unpushed else ""


def publish_step(config: Config, repo: Repository | None = None) -> Step:
    repo = repo or repository(config)
    paths = [p for p in pushed_paths(config) if repo and repo.relative(p) is not None]
    if not paths:
        return Step(None)
    files, unpushed = repo.changes(paths)
    changed = tuple(p for p in paths if any(f == repo.relative(p) or f.startswith(f"{repo.relative(p)}/")
                                            for f in files))
    return Step(repo, changed, unpushed)


def workflow_note(repo: Repository | None, config: Config | None = None) -> str:
    """What a push publishes by qiita-cli's publish workflow in *repo* (one line), or ""."""
    from pipeline.suggest import qiita_workflows

    if repo is None:
        return ""
    notes = []
    for path, root, branches in qiita_workflows(repo.root):
        publishes = root / "public"
        target = qiita_cli_file(config, config.layout).parent if config else publishes
        where = os.path.relpath(path, repo.root)
        on = " or ".join(branches) if branches else "any branch"
        if target.resolve() == publishes.resolve():
            notes.append(f"a push to {on} publishes {shown(publishes)}/ on Qiita ({where} runs `qiita publish --all`)")
        else:
            notes.append(f"{where} publishes {shown(publishes)}/ on a push to {on}, not {shown(target)}/")
    return "; ".join(notes)


def next_advice(config: Config, step: Step | None = None) -> str:
    """The build's last line: the one git command that publishes what it wrote, or ""."""
    config = titled_project(config)
    step = step or publish_step(config)
    command = step.command(f"{config.article.slug}: build")
    if not command:
        return ""
    note = workflow_note(step.repo, config)
    return f"next: {command}" + (f"  ({note})" if note else "")


def next_for_all(configs: list[Config]) -> str:
    """``build --all``'s last line: "git pull" when any article needs it, else the one git command that
    publishes every article's built files (and what a push publishes), or ""."""
    if not configs:
        return ""
    configs = [titled_project(c) for c in configs]
    repo = repository(configs[0])
    if repo is None:
        return ""
    mine = [c for c in configs if repo.relative(c.root) is not None]
    pulls = [c for c in mine if pull_first(c, repo)]
    if pulls:
        return (f"next: git pull (the remote-tracking branch has commits touching "
                f"{', '.join(c.article.slug for c in pulls)} that this work tree lacks), then build again")
    steps = [publish_step(c, repo) for c in mine]
    changed = [path for step in steps for path in step.changed]
    if changed:
        command = repo.publish_command(changed, f"articles: build ({len([s for s in steps if s.changed])})")
    elif any(step.unpushed for step in steps):
        command = repo.push_step
    else:
        return ""
    note = workflow_note(repo, mine[0])
    return f"next: {command}" + (f"  ({note})" if note else "")


@dataclass(frozen=True)
class ArticleState:
    """One article as ``status`` shows it: its project, slug and title, what it says of the build, the
    figures and each platform (``lines``), "pull first" (``pull``, or ""), and the command to run next."""

    project: Path
    slug: str
    title: str
    built: str
    lines: tuple[str, ...] = ()
    next: str = ""
    pull: str = ""

    def __repr__(self) -> str:
        return f"ArticleState({self.slug}, {self.built}, next={self.next!r})"


def article_state(config: Config, repo: Repository | None = None) -> ArticleState:
    """One article's state (see the module docstring); *repo* read once for all of them."""
    from pipeline.publish import uptodate

    layout = config.layout
    unchanged = uptodate.inputs_unchanged(config)
    built = {True: "up to date", False: "changed since the last build", None: "not built yet"}[unchanged]
    if unchanged is None and layout.records.is_dir() and any(layout.records.glob("*.json")):
        built = "not known (the last build failed, drafted with the LLM or ran on a gateway)"
    lines = [f"build: {built}"]
    step = publish_step(config, repo)
    paths = article_paths(config, layout)
    images = paths.images
    if images.is_dir():
        figures = [p for p in images.rglob("*") if p.is_file() and not p.name.startswith(".")]
        said = f"figures: {len(figures)} in {shown(images)}/"
        if step.repo:
            files, _ = step.repo.changes([images])
            pending = len([f for f in files if not f.endswith(GENERATED_FILE)])
            unpushed = step.repo.unpushed_files([images])
            said += (f", {pending} not committed" if pending else "") + (f", {unpushed} not pushed" if unpushed else "")
            said += "" if pending or unpushed else ", all pushed" if step.repo.tracking else ", none pushed yet"
        lines.append(said)
    cli_file = paths.qiita_cli
    if cli_file.is_file():
        front = read_front_matter(cli_file)
        text = cli_file.read_text(encoding="utf-8", errors="replace")
        held = " (held by the build while figures are placeholders)" if is_held(text) else ""
        lines.append(f"Qiita {shown(cli_file)}: id {front.get('id', 'null')}, private {front.get('private', '?')}, "
                     f"ignorePublish {front.get('ignorePublish', 'false')}{held}")
    else:
        lines.append(f"Qiita {shown(cli_file)}: not written yet")
    if paths.zenn:
        entry = paths.zenn.entry
        if entry.is_file():
            published = _zenn_published(entry)
            lines.append(f"Zenn {shown(entry)}: published {published}")
        else:
            lines.append(f"Zenn {shown(entry)}: not written yet")
    pull = pull_first(config, step.repo) if step.repo else ""
    here = "" if Path.cwd().resolve() == config.root else f" -C {shlex.quote(shown(config.root))}"
    if pull:
        command = "git pull"
    elif unchanged is not True:
        command = f"python -m pipeline{here} build"
    elif not paths.pushed:
        command = (f"nothing to push: the exports are in {shown(layout.build)}/ (paste build/qiita/article.md, or "
                   "point export_dir at your qiita-cli and zenn-cli folders: docs/publishing.md)")
    else:
        command = step.command(f"{config.article.slug}: build") or "nothing: the pushed article is this build's"
    return ArticleState(config.root, config.article.slug, config.article.title, built, tuple(lines), command, pull)



def _zenn_published(entry: Path) -> str:
    if entry.name == "config.yaml":
        from pipeline.publish.frontmatter import read_text, top_level

        return top_level(read_text(entry)).get("published", "false")
    return read_front_matter(entry).get("published", "false")


def status_lines(states: list[ArticleState], root: Path, repo: Repository | None) -> list[str]:
    """What ``status`` prints: the repository's publish workflow, then each article."""
    out = []
    note = workflow_note(repo)
    if note:
        out.append(note)
    for state in states:
        out.append(f"{os.path.relpath(state.project, root)}: {state.slug} \"{state.title}\"")
        out += [f"  {line}" for line in state.lines]
        if state.pull:
            out.append(f"  {state.pull}")
        out.append(f"  next: {state.next}")
    return out


def status_report(root: Path) -> list[str]:
    """``status`` at *root*: the article project there (or above it), else every one below it."""
    from pipeline.config import find_root, load_config
    from pipeline.errors import PipelineError
    from pipeline.workspace import find_projects, is_project

    here = find_root(root)
    projects = [here] if is_project(here) else find_projects(root)
    if not projects:
        raise PipelineError(f"no article projects at or below {root} (folders whose pyproject.toml has "
                            "[tool.pipeline]); make one with: python -m pipeline init FOLDER")
    configs = [titled_project(load_config(project)) for project in projects]
    repo = repository(configs[0])
    states = [article_state(c, repo if repo and repo.relative(c.root) is not None else None) for c in configs]
    return status_lines(states, root, repo)


def export_lines(exported) -> list[str]:
    """Where a build or export wrote the article (``summary.Exports``), paths from the current folder."""
    lines = [f"  Qiita article (paste): {shown(exported.article)}", f"  qiita-cli file:        {shown(exported.qiita_cli)}",
             f"  MkDocs page:           {shown(exported.site_page)}  (preview: python -m pipeline preview)"]
    if exported.zenn:
        what = "Zenn book:   " if exported.zenn.name == "config.yaml" else "Zenn article:"
        lines.append(f"  {what}          {shown(exported.zenn)}")
    if exported.uploads:
        folders = sorted({shown(p.parent.parent) for p in exported.uploads})
        lines.append(f"  {len(exported.uploads)} figures to upload to Qiita, in {', '.join(folders)}/ (or let your "
                     "repository serve them: image_base_url = \"git\"); replace each FIGURE-TO-UPLOAD: link in the "
                     "pasted article with the uploaded image's URL")
    return lines
