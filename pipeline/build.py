"""``build()``: the whole pipeline as a short list of stage calls."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config
from .execute import ExecuteSummary, execute
from .harvest import harvest
from .progress import Progress
from .records import ExperimentRecord


@dataclass(frozen=True)
class BuildResult:
    execution: ExecuteSummary
    records: tuple[ExperimentRecord, ...]
    warnings: tuple[str, ...]

    def __repr__(self) -> str:
        return f"BuildResult({self.execution!r}, records={len(self.records)})"


def build(config: Config, force: bool = False, fail_fast: bool = False, progress: Progress | None = None) -> BuildResult:
    progress = progress or Progress()
    execution = execute(config, force=force, fail_fast=fail_fast, progress=progress)
    records = harvest(config, progress=progress)
    return BuildResult(execution, tuple(records), tuple(progress.warnings))
