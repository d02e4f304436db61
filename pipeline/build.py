"""``build()``: the whole pipeline as a short list of stage calls.

experiments (listed once) -> execute (cached) -> harvest -> draft (optional LLM pass)
-> export (render, check, write). Records, figures, the articles and the site are
published together in one journaled step (``storage.Publication``): a build that fails or
is interrupted before it leaves them exactly as they were. (Executed notebooks and cache
entries are intermediates: a successful run writes them as soon as it ends.)

A build with nothing changed since the last clean one ends at once, at the no-change
stamp (``publish.uptodate``), and returns the summary that build had. A build whose
remote-tracking branch has commits touching the article's pushed files that the work tree
lacks (qiita-cli's publish workflow writing an id back) stops first: "pull first".
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pipeline.article.harvest import harvest
from pipeline.article.title import titled
from pipeline.config import Config
from pipeline.errors import PipelineError
from pipeline.experiments import discover, warn_others
from pipeline.layout import Layout
from pipeline.llm.draft import draft
from pipeline.progress import Progress
from pipeline.publish import uptodate
from pipeline.publish.export import export, prune
from pipeline.publish.gitrepo import read_once
from pipeline.publish.status import pull_first
from pipeline.run.engines import Engine
from pipeline.run.execute import execute
from pipeline.storage import Publication
from pipeline.summary import BuildSummary


@dataclass(frozen=True)
class LlmOptions:
    """How the optional drafting pass runs in this build (from the CLI or the config)."""

    enabled: bool = False
    required: bool = False
    redraft: bool = False
    model: str | None = None
    base_url: str | None = None


def build(config: Config, force: bool = False, fail_fast: bool = False, llm: LlmOptions | None = None,
          progress: Progress | None = None, layout: Layout | None = None,
          jobs: int | str | None = None, engine: Engine | None = None) -> BuildSummary:
    """Run every stage. With ``config.keep_going`` a failed experiment does not stop the build:
    the other chapters are published and the failed one is marked. The kernels come from *engine*
    (``pipeline.run.engines``), by default the one the config asks for; ``preview`` passes its warm
    kernels and its layout, and its engine may stop the build before anything is published."""
    progress = progress or Progress()
    layout = layout or config.layout
    # an untitled article is titled from its experiments before anything derived from the title (a short
    # slug's Zenn slug) is read: they are read first, once (pipeline.article.title)
    read = None if config.article.title else discover(config)
    config = titled(config, read or ())
    repository = read_once(config.root, config.article.git_remote)  # git is asked once, when first needed
    if layout == config.layout:  # the writer's own folders: never fork from a commit the work tree lacks
        pull = pull_first(config, repository)
        if pull:
            raise PipelineError(f"{pull}. Nothing was built or written.")
    llm = llm or LlmOptions(enabled=config.llm.enabled)
    # the stamp stands only for plain local builds into the configured layout
    vouched = not llm.enabled and not config.gateway_url and layout == config.layout
    last = uptodate.check(config, repository) if vouched and not force else None
    if last:
        return last
    uptodate.clear(config)
    started = time.time_ns()

    experiments = read if read is not None else discover(config)
    warn_others(config, experiments, progress.warn)
    execution = execute(config, force=force, fail_fast=fail_fast, keep_going=config.keep_going,
                        progress=progress, layout=layout, jobs=jobs, experiments=experiments, engine=engine)
    with Publication.of(layout, warn=progress.warn) as publication:
        records = harvest(config, progress=progress, layout=layout, publication=publication,
                          experiments=experiments)
        drafts = draft(records, config, model=llm.model, base_url=llm.base_url, redraft=llm.redraft,
                       required=llm.required, progress=progress, layout=layout) if llm.enabled else None
        warm = any(r.execution.mode == "warm" for r in records)  # the page says it is not a clean run
        exports = export(records, config, progress, publication, layout=layout, drafts=drafts, preview=warm,
                         repository=repository)
        prune(records, layout, publication)
        if engine is not None:
            engine.check()  # an error here discards everything staged
    summary = BuildSummary(exports=exports, outcomes=execution.statuses,
                           figures=sum(len(r.figures) for r in records), warnings=tuple(progress.warnings),
                           failures=tuple(execution.failures), drafts=drafts)
    if vouched:
        problem = uptodate.stamp(config, summary, execution.data_files, started, repository)
        if problem:
            progress.warn(problem)
    return summary
