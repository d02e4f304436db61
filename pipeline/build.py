"""``build()``: the whole pipeline as a short list of stage calls.

execute (cached) -> harvest -> draft (optional LLM pass) -> render -> export.
The draft stage imports openai only when it runs.
Each stage writes through a temporary place, so a failure part-way leaves the
previous article, site, cache and records as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config
from .draft import draft
from .execute import ExecuteSummary, execute
from .export import ExportResult, export
from .harvest import harvest
from .progress import Progress
from .qiita import check_qiita
from .records import Drafts, ExperimentRecord
from .render import render


@dataclass(frozen=True)
class BuildResult:
    execution: ExecuteSummary
    records: tuple[ExperimentRecord, ...]
    exported: ExportResult
    warnings: tuple[str, ...]
    drafts: Drafts | None = None

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


def build(config: Config, force: bool = False, fail_fast: bool = False, llm: LlmOptions | None = None,
          progress: Progress | None = None) -> BuildResult:
    progress = progress or Progress()
    llm = llm or LlmOptions(enabled=config.llm.enabled)
    execution = execute(config, force=force, fail_fast=fail_fast, progress=progress)
    records = harvest(config, progress=progress)
    drafts = draft(records, config, model=llm.model, base_url=llm.base_url, redraft=llm.redraft,
                   required=llm.required, progress=progress) if llm.enabled else None
    exported = publish(records, config, progress, drafts)
    return BuildResult(execution, tuple(records), exported, tuple(progress.warnings), drafts)


def publish(records: list[ExperimentRecord], config: Config, progress: Progress, drafts=None) -> ExportResult:
    """render both dialects -> check the Qiita one -> export."""
    qiita = render(records, config, "qiita", drafts=drafts)
    mkdocs = render(records, config, "mkdocs", drafts=drafts)
    for warning in qiita.warnings:
        progress.warn(warning)
    for problem in check_qiita(qiita.markdown):
        progress.warn(f"Qiita export: {problem}")
    return export(qiita, mkdocs, config)
