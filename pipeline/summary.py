"""What a build did, as one type: ``BuildSummary`` (with the ``Exports`` it wrote).

A full build returns it, and a build that ends at the no-change stamp returns the one the
stamp kept (``up_to_date=True``), so the command line prints both the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.records import Drafts, Failure


@dataclass(frozen=True)
class Exports:
    """Where the export stage wrote the article."""

    article: Path  # build/qiita/article.md: paste-ready Qiita Markdown
    qiita_cli: Path  # public/<slug>.md with qiita-cli's front matter
    site_page: Path  # the MkDocs page
    uploads: tuple[Path, ...] = ()  # figure files still to upload to Qiita (no image_base_url)
    zenn: Path | None = None  # the Zenn article (a book: its config.yaml), when the Zenn export is enabled
    #: the platforms that were not published, each "Platform: why" (the others were)
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildSummary:
    """One build: each experiment's outcome, what was published, and what to tell the user."""

    exports: Exports
    #: experiment name -> "executed" | "cached" | "stored" | "failed", in experiment order
    outcomes: dict[str, str] = field(default_factory=dict)
    figures: int = 0
    warnings: tuple[str, ...] = ()
    failures: tuple[Failure, ...] = ()
    drafts: Drafts | None = None
    #: nothing changed since the build that wrote the no-change stamp: no stage ran
    up_to_date: bool = False

    def count(self, status: str) -> int:
        return sum(1 for s in self.outcomes.values() if s == status)

    def __repr__(self) -> str:
        state = "up to date" if self.up_to_date else f"{len(self.outcomes)} experiments"
        return f"BuildSummary({state}, failures={len(self.failures)})"
