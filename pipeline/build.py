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
from pipeline.config import Config
from pipeline.errors import PipelineError
from pipeline.experiments import discover
from pipeline.layout import Layout
from pipeline.llm.draft import draft
from pipeline.progress import Progress
from pipeline.publish import uptodate
from pipeline.publish.export import export, prune
from pipeline.publish.status import pull_first
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
          jobs: int | str | None = None) -> BuildSummary:
    """Run every stage. With ``config.keep_going`` a failed experiment does not stop the build:
    the other chapters are published and the failed one is marked."""
    progress = progress or Progress()
    layout = layout or config.layout
    if layout == config.layout:  # the writer's own folders: never fork from a commit the work tree lacks
        pull = pull_first(config)
        if pull:
            raise PipelineError(f"{pull}. Nothing was built or written.")
    llm = llm or LlmOptions(enabled=config.llm.enabled)
    # the stamp stands only for plain local builds into the configured layout
    vouched = not llm.enabled and not config.gateway_url and layout == config.layout
    last = uptodate.check(config) if vouched and not force else None
    if last:
        return last
    uptodate.clear(config)
    started = time.time_ns()

    experiments = discover(config, warn=progress.warn)
    execution = execute(config, force=force, fail_fast=fail_fast, keep_going=config.keep_going,
                        progress=progress, layout=layout, jobs=jobs, experiments=experiments)
    with Publication.of(layout, warn=progress.warn) as publication:
        records = harvest(config, progress=progress, layout=layout, publication=publication,
                          experiments=experiments)
        drafts = draft(records, config, model=llm.model, base_url=llm.base_url, redraft=llm.redraft,
                       required=llm.required, progress=progress, layout=layout) if llm.enabled else None
        exports = export(records, config, progress, publication, layout=layout, drafts=drafts)
        prune(records, layout, publication)
    summary = BuildSummary(exports=exports, outcomes={o.name: o.status for o in execution.outcomes},
                           figures=sum(len(r.figures) for r in records), warnings=tuple(progress.warnings),
                           failures=tuple(execution.failures), drafts=drafts)
    if vouched:
        problem = uptodate.stamp(config, summary, execution.data_files, started)
        if problem:
            progress.warn(problem)
    return summary
