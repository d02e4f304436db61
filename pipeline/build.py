"""``build()``: the whole pipeline as a short list of stage calls.

execute (cached) -> harvest -> draft (optional LLM pass) -> export (render, check, write).
Records, figures, the articles and the site are published together in one
journaled step (``storage.Publication``): a build that fails or is interrupted
before it leaves them exactly as they were. (Executed notebooks and cache entries
are intermediates: a successful run writes them as soon as it ends.)
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.article.harvest import harvest
from pipeline.config import Config
from pipeline.layout import Layout
from pipeline.llm.draft import draft
from pipeline.progress import Progress
from pipeline.publish.export import ExportResult, export, prune
from pipeline.records import Drafts, ExperimentRecord
from pipeline.run.execute import ExecuteSummary, execute
from pipeline.storage import Publication


@dataclass(frozen=True)
class BuildResult:
    execution: ExecuteSummary
    records: tuple[ExperimentRecord, ...]
    exported: ExportResult
    warnings: tuple[str, ...]
    drafts: Drafts | None = None

    @property
    def failures(self):
        return self.execution.failures

    def __repr__(self) -> str:
        return f"BuildResult({self.execution!r}, records={len(self.records)})"


@dataclass(frozen=True)
class LlmOptions:
    """How the optional drafting pass runs in this build (from the CLI or the config)."""

    enabled: bool = False
    required: bool = False
    redraft: bool = False
    model: str | None = None
    base_url: str | None = None


def build(config: Config, force: bool = False, fail_fast: bool = False, keep_going: bool | None = None,
          llm: LlmOptions | None = None, progress: Progress | None = None, layout: Layout | None = None,
          jobs: int | str | None = None) -> BuildResult:
    """Run every stage. With *keep_going* (default: ``config.keep_going``) a failed experiment
    does not stop the build: the other chapters are published and the failed one is marked."""
    progress = progress or Progress()
    layout = layout or config.layout
    llm = llm or LlmOptions(enabled=config.llm.enabled)
    keep_going = config.keep_going if keep_going is None else keep_going
    execution = execute(config, force=force, fail_fast=fail_fast, keep_going=keep_going, progress=progress,
                        layout=layout, jobs=jobs)
    with Publication(layout.journal) as publication:
        records = harvest(config, progress=progress, layout=layout, publication=publication)
        drafts = draft(records, config, model=llm.model, base_url=llm.base_url, redraft=llm.redraft,
                       required=llm.required, progress=progress) if llm.enabled else None
        exported = export(records, config, progress, publication, layout=layout, drafts=drafts)
        prune(records, layout, publication)
    return BuildResult(execution, tuple(records), exported, tuple(progress.warnings), drafts)
