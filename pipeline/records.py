"""The records (nouns) every stage passes along: small, frozen, typed, versioned.

An executed notebook becomes one ``ExperimentRecord``; its JSON form is what
``harvest`` writes under ``build/records/`` and what the later stages read.
``to_json``/``from_json`` round-trip exactly; a file written by another schema
version is refused with a message that says to re-run harvest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from pipeline.codec import decode, encode

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Experiment:
    """An experiment as read from ``experiments/NAME.py`` or ``NAME.ipynb`` (before execution).

    ``notebook`` is the nbformat notebook jupytext read, with line ranges (for .py
    files) and any injected parameters; stages copy it before changing it.
    ``stored``: its outputs are published as stored, never run here (``execution_excludes``
    or the notebook's own ``pipeline: execute: false``); ``after``: experiments it runs after;
    ``allow_errors``: its errors are outputs and the run goes on (``allow_errors`` in the config,
    or the notebook's own ``pipeline: allow_errors: true``).
    """

    name: str
    path: Path
    source: str  # path relative to the project root
    notebook: Any
    title: str
    parameters: dict[str, Any]
    data_files: tuple[Path, ...] = ()
    stored: bool = False
    after: tuple[str, ...] = ()
    allow_errors: bool = False

    def __repr__(self) -> str:
        marks = (", stored" if self.stored else "") + (", allow_errors" if self.allow_errors else "")
        return f"Experiment({self.name!r}, cells={len(self.notebook.cells)}{marks})"


@dataclass(frozen=True)
class StoredRun:
    """What a notebook run elsewhere records about that run (its outputs are used as stored)."""

    kernel: str = ""  # the kernelspec's display name
    language: str = ""  # e.g. "Python 3.10.12"
    first_executed: str = ""  # from the cells' execution timing metadata, when the notebook kept it
    last_executed: str = ""
    why: str = ""  # "execution_excludes" | "notebook metadata"


#: where an executed notebook keeps its ExecutionInfo (metadata key)
RUN_METADATA = "pipeline_run"


@dataclass(frozen=True)
class ExecutionInfo:
    """How an executed notebook got its outputs; execute writes it into the notebook's
    metadata (``to_metadata``) and harvest reads it back (``from_metadata``)."""

    #: "executed": a fresh kernel here; "stored": outputs as the notebook stored them; "warm": a preview
    #: kernel kept alive; "failed": it never ran to the end here (the record has its source and failure only)
    mode: Literal["executed", "stored", "warm", "failed"]
    cache_key: str = ""
    executed_at: str = ""
    duration: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    python: str = ""
    #: versions of the packages the experiment imported, as its kernel saw them
    packages: dict[str, str] = field(default_factory=dict)
    kernel: str = ""
    #: where it ran: "local", or the gateway URL (never with credentials)
    host: str = "local"
    stored: StoredRun | None = None
    #: the run stopped at a failure: the outputs are this run's up to the failing cell, and the cells
    #: after it did not run (a partial notebook, ``Layout.failed_notebook``; never cached)
    partial: bool = False

    def to_metadata(self) -> dict[str, Any]:
        return encode(self)

    @classmethod
    def from_metadata(cls, data: Any) -> "ExecutionInfo":
        """Raises ValueError when *data* is not what ``to_metadata`` wrote."""
        if not isinstance(data, dict) or "mode" not in data:
            raise ValueError("no execution information (pipeline metadata) in the notebook")
        return decode(cls, data, "malformed execution information")


@dataclass(frozen=True)
class StreamOutput:
    """Text a cell printed: ``name`` is "stdout" or "stderr". ANSI codes stripped."""

    name: str
    text: str
    kind: str = field(default="stream", init=False)

    def __repr__(self) -> str:
        return f"StreamOutput({self.name}, {len(self.text)} chars)"


@dataclass(frozen=True)
class ResultOutput:
    """A rich result or display: plain text always, Markdown when the object offered one
    (pandas tables do, through pipeline.kernel_extension). HTML-only views are not kept: an article
    never shows an output's HTML."""

    text: str
    markdown: str | None = None
    kind: str = field(default="result", init=False)

    def __repr__(self) -> str:
        return f"ResultOutput({len(self.text)} chars{', markdown' if self.markdown else ''})"


@dataclass(frozen=True)
class ImageOutput:
    """A figure written to a file; ``path`` is relative to the build folder."""

    path: str
    mime: str
    alt: str
    kind: str = field(default="image", init=False)

    def __repr__(self) -> str:
        return f"ImageOutput({self.path})"


@dataclass(frozen=True)
class ErrorOutput:
    """An exception raised in a cell, with its traceback as plain text."""

    ename: str
    evalue: str
    traceback: str
    kind: str = field(default="error", init=False)

    def __repr__(self) -> str:
        return f"ErrorOutput({self.ename})"


Output = Union[StreamOutput, ResultOutput, ImageOutput, ErrorOutput]


@dataclass(frozen=True)
class GlueValue:
    """A value an experiment published with ``glue(name, value)``: JSON value and prose text."""

    value: Any
    text: str


@dataclass(frozen=True)
class Cell:
    """One cell in notebook order. ``lines`` is the 1-based inclusive line range in the .py source;
    ``title`` is the author's title for the cell (after ``# %%``, or cell metadata), else empty."""

    index: int
    kind: str  # "code" | "markdown" | "raw"
    source: str
    tags: tuple[str, ...] = ()
    title: str = ""
    lines: tuple[int, int] | None = None
    execution_time: float | None = None
    outputs: tuple[Output, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    #: in the record of a partial run: "failed" for the cell the run stopped at, "not-run" for the
    #: code cells after it; empty otherwise
    state: Literal["", "failed", "not-run"] = ""

    def __repr__(self) -> str:
        return f"Cell({self.index}, {self.kind}, outputs={len(self.outputs)}{', ' + self.state if self.state else ''})"


def location(source: str, cell_index: int | None = None, lines=None) -> str:
    """How messages name a place: "experiments/x.py, cell 3 (lines 10-14)" (cells count from 1,
    as in the progress output)."""
    where = source
    if cell_index is not None:
        where += f", cell {cell_index + 1}"
        if lines:
            where += f" (lines {lines[0]}-{lines[1]})"
    return where


@dataclass(frozen=True)
class Failure:
    """Why the last execution of an experiment failed; kept until a run succeeds."""

    source: str
    cell_index: int | None
    lines: tuple[int, int] | None
    ename: str
    evalue: str
    traceback: str
    cell_source: str = ""
    failed_at: str = ""

    def describe(self) -> str:
        text = f"{location(self.source, self.cell_index, self.lines)}: {self.ename}: {self.evalue}"
        if self.traceback:
            text += "\n" + self.traceback.rstrip()
        return text

    def __repr__(self) -> str:
        return f"Failure({self.source}, {self.ename})"


@dataclass(frozen=True)
class ModelInfo:
    """What ``pipeline.lab.load_model()`` loaded, as the kernel reported it."""

    id: str
    source: str
    dtype: str
    quantization: str
    device: str
    parameters: int | None = None


@dataclass(frozen=True)
class Environment:
    python: str
    packages: dict[str, str]
    device: str | None = None
    model: ModelInfo | None = None


@dataclass(frozen=True)
class ExperimentRecord:
    """Everything the later stages know about one experiment."""

    name: str
    source: str  # path of the .py/.ipynb, relative to the project root
    title: str
    environment: Environment
    cells: tuple[Cell, ...]
    glue: dict[str, GlueValue]
    execution: ExecutionInfo
    failure: Failure | None = None
    #: problems the harvester found: observations citing unknown glue values,
    #: observations written for another model than the one that ran
    warnings: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def __repr__(self) -> str:
        state = ", failed" if self.failure else ""
        return f"ExperimentRecord({self.name!r}, cells={len(self.cells)}{state})"

    @property
    def figures(self) -> list[ImageOutput]:
        return [o for c in self.cells for o in c.outputs if isinstance(o, ImageOutput)]

    # JSON --------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(encode(self), ensure_ascii=False, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, origin: str = "<record>") -> "ExperimentRecord":
        """Raises ValueError naming *origin* for anything that is not a record of this schema."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{origin}: not valid JSON ({exc})") from None
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"{origin}: record schema version {version!r}, this package reads {SCHEMA_VERSION}"
            )
        try:
            return decode(ExperimentRecord, data, "record")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{origin}: malformed record ({type(exc).__name__}: {exc})") from None

    @classmethod
    def load(cls, path: Path) -> "ExperimentRecord":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text") from None
        return cls.from_json(text, origin=str(path))


def load_failure(path: Path) -> Failure | None:
    """The failure report at *path*, or None (none there, or unreadable: it is only a report)."""
    try:
        return decode(Failure, json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


# ---------------------------------------------------------------------------
# Drafted prose (the optional LLM pass)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A number, token id or quoted token in drafted prose that no record supports."""

    section: str
    text: str

    def __repr__(self) -> str:
        return f"Claim({self.section}: {self.text!r})"


@dataclass(frozen=True)
class Rejection:
    """A drafted section that was not published, and why (the author's text stands instead)."""

    section: str
    reason: str


@dataclass(frozen=True)
class StepDraft:
    """Drafted prose for one part of a chapter the author left bare (a heading's section, or a
    run of code cells): shown before the cell ``first_cell``; ``heading`` is a proposed heading
    ("" where the author wrote one)."""

    first_cell: int
    text: str
    heading: str = ""


@dataclass(frozen=True)
class SectionDraft:
    """Drafted prose for one experiment: what was tried, notes that expand the observations,
    explanations of its bare parts (``steps``) and a proposed ``title`` (for a notebook titled by its file name)."""

    intro: str = ""
    notes: str = ""
    steps: tuple[StepDraft, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class Drafts:
    """Everything the LLM pass drafted for one build, with its fact-check findings."""

    model: str  # the configured model, as the requests named it (``served`` says who answered)
    introduction: str = ""
    summary: str = ""
    sections: dict[str, SectionDraft] = field(default_factory=dict)
    unsupported: tuple[Claim, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    requests: int = 0
    cached: int = 0
    #: the models that answered (the response's ``model``, or the server's ``/v1/models``) -> how
    #: many published sections each wrote; ``host`` is the endpoint's host, never its credentials
    answered_by: dict[str, int] = field(default_factory=dict)
    host: str = ""
    #: proposals for the build summary (never applied): a title and tags when the config has none
    proposed_title: str = ""
    proposed_tags: tuple[str, ...] = ()
    #: drafts that came back from the endpoint (not from a transport failure) and were gated
    answered: int = 0
    #: every model that answered (published or rejected) -> how many answers; ``model`` is only
    #: the name the requests asked for
    served: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Drafts({self.model}, sections={len(self.sections)}, requests={self.requests}, cached={self.cached})"
