"""The template context: exactly what ``templates/`` can see, built from the records.

Every Markdown string in the context is ready to insert: the author's prose has
its glue values filled, its headings nested under the chapter, its links and
images pointed where the dialect needs them, and it is sanitized
(``markdown.sanitize_markdown``); outputs are plain text for fences, with control
characters made visible, or sanitized Markdown for tables. Plain text from
outputs (glue values, model ids, error messages) is escaped. Templates decide
everything a reader sees; fixed words come from ``templates/labels.j2``.

A chapter follows its notebook: markdown cells stay prose, in order, with the
author's headings one level below the chapter heading (the notebook's first H1
is the chapter title); code cells show their code and outputs; only cells the
author marked as observations become note boxes. A chapter whose author wrote
no section headings of its own gets the article's standard sections
(``standard``: 試したこと for the prose before the first code cell, then 実行コード).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.config import Reference
from pipeline.records import Cell, ExperimentRecord, StoredRun

#: tags that keep a cell out of the article (and out of what the LLM pass is shown)
HIDDEN_CELL_TAGS = ("remove-cell",)


def visible_cells(record: ExperimentRecord) -> list[Cell]:
    """The cells a chapter shows: markdown and code cells with a source, not tagged ``remove-cell``."""
    return [c for c in record.cells if not set(c.tags) & set(HIDDEN_CELL_TAGS) and c.kind in ("markdown", "code")
            and c.source.strip()]


@dataclass(frozen=True)
class OutputView:
    """One output of a code cell, ready to print.

    kind: "stdout" | "stderr" | "result" | "table" | "error". ``text`` is plain text
    for a fence (``fence`` is longer than any backtick run inside it), except for
    "table" (and Markdown results), where it is sanitized Markdown."""

    kind: str
    text: str
    lines: int
    folded: bool
    fence: str = "```"


@dataclass(frozen=True)
class FigureView:
    """A figure. ``number`` counts figures through the article (0 for an image in the author's
    prose); ``alt`` is the author's alt text, escaped, or "" (the template supplies a default);
    ``src`` is the link for this dialect; ``file`` its path under build/."""

    number: int
    src: str
    alt: str
    file: str


@dataclass(frozen=True)
class Block:
    """A piece of a chapter in notebook order.

    - "prose": ``markdown`` (the author's text, headings nested under the chapter);
    - "observation": ``markdown`` for a note box;
    - "drafted": ``markdown`` an LLM drafted for a part the author left bare, ``title`` its proposed
      heading (or "") at ``title_level``;
    - both: ``caution`` is set ({"written_for", "model"}) when the text was written for
      another model than the one that ran;
    - "code": ``title`` (the author's, or ""), ``title_level`` (heading level for it),
      ``code`` (None when the input is removed), ``code_fence``, ``filename``,
      ``lines``, ``outputs``, ``figures``, ``folded`` (hide-output), ``skipped``
      (skip-execution: shown, not run); in a chapter showing a partial run, ``failed`` (the
      run stopped at this cell) and ``not_run`` (a cell after it).
    """

    kind: str
    markdown: str = ""
    caution: dict[str, str] | None = None
    title: str = ""
    title_level: int = 4
    code: str | None = None
    code_fence: str = "```"
    filename: str = ""
    lines: tuple[int, int] | None = None
    outputs: tuple[OutputView, ...] = ()
    figures: tuple[FigureView, ...] = ()
    folded: bool = False
    skipped: bool = False
    failed: bool = False
    not_run: bool = False


@dataclass(frozen=True)
class FailureView:
    """The latest run failed: ``ename``/``message`` escaped for prose, ``traceback`` for a fence.
    ``has_outputs``: the chapter shows outputs; ``partial``: they are the failed run's own, up to the
    failing cell (else the last good run's)."""

    ename: str
    message: str
    where: str
    traceback: str
    fence: str
    has_outputs: bool
    partial: bool = False


@dataclass(frozen=True)
class Chapter:
    number: int
    name: str
    title: str  # escaped
    source: str
    standard: bool
    intro: str  # standard chapters: the prose before the first code cell
    blocks: tuple[Block, ...]
    failure: FailureView | None = None
    stored: StoredRun | None = None
    drafted_intro: str = ""
    drafted_notes: str = ""
    #: the title is the LLM's proposal: this is the notebook's file name it stands in for
    drafted_title: str = ""
    #: the title starts with the author's own number or label ("1.", "1-1.", "第1章", "演習3", "Chapter 2"):
    #: when any chapter's is, the template numbers no chapter (the author does), so none is numbered twice
    numbered: bool = False


@dataclass(frozen=True)
class ModelView:
    id: str
    source: str
    device: str
    quantization: str
    dtype: str


@dataclass(frozen=True)
class MadeWith:
    """How the article was made, for the note at the top; it states only what holds."""

    model: ModelView | None  # set only when an experiment loaded a model through pipeline.lab
    date: str  # the latest execution date among the records
    python: str
    packages: dict[str, str]  # the packages the experiments imported, with their versions
    cites_outputs: bool  # the prose cites recorded values (glue)
    executed: bool  # at least one chapter was executed by this pipeline
    stored: tuple[str, ...] = ()  # titles of chapters published from stored outputs
    llm_model: str = ""  # set when prose was drafted by an LLM


@dataclass(frozen=True)
class ArticleContext:
    """Everything a template sees (``templates/article.md.j2``, its parts ``opening.md.j2``,
    ``chapter.md.j2`` and ``closing.md.j2``, and the dialect blocks); ``chapter.md.j2`` also sees
    ``chapter``, the one it renders (a Zenn book renders the parts one page at a time)."""

    dialect: str
    language: str
    title: str
    tags: tuple[str, ...]
    made_with: MadeWith
    audience: tuple[str, ...]
    chapters: tuple[Chapter, ...]
    background: str
    summary: str
    references: tuple[Reference, ...]
    drafted_introduction: str = ""
    drafted_summary: str = ""
    #: the page was built from warm kernels during `pipeline preview`, not a clean run
    preview: bool = False
    warnings: tuple[str, ...] = field(default=())

    @property
    def author_numbers(self) -> bool:
        """Some chapter's title carries the author's own number or label ("第2章", "1-1.", "付録A"): the
        author numbers the chapters, so the templates number none (no title numbered twice, no "2. 付録"
        beside "第2章"): their headings and the overview's list show the titles alone."""
        return any(chapter.numbered for chapter in self.chapters)

    def as_dict(self) -> dict[str, Any]:
        return {**{name: getattr(self, name) for name in self.__dataclass_fields__}, "author_numbers": self.author_numbers}
