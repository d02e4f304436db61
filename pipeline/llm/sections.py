"""A chapter's parts, as the drafting pass asks about them.

A *section* is an author heading with what follows it, or a run of code cells with no prose
between them. A section where the author wrote no prose (only a heading, or nothing) is
*bare*: the pass drafts an explanation for it. A bare section longer than one request holds is
split into *parts* of consecutive code cells, at natural breaks: a figure or a long output
ends a part, a cell with its own title starts one, and no part has more than ``MAX_CELLS``
cells, so a notebook with no markdown at all gets an explanation every few cells.

Each part is shown to the model as its cells' code and outputs, each shortened with a
marker where long (``cell_text``), so that the request fits ``llm.context_tokens``; the fact
check of its draft uses only that part's cells as evidence (``evidence_of``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from pipeline.article.observations import is_observation
from pipeline.markdown.scanner import headings
from pipeline.records import Cell, ErrorOutput, ExperimentRecord, ImageOutput, ResultOutput, StreamOutput

MAX_CELLS = 4  # an explanation every few cells
LONG_OUTPUT_LINES = 20  # an output this long is a natural break
HIDDEN_CELL_TAGS = ("remove-cell",)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{3,}")
_COMMON = {"self", "none", "true", "false", "print", "import", "from", "return", "range", "with", "list", "dict",
           "tuple", "float", "else", "elif", "while", "lambda", "torch", "numpy", "pipeline", "glue", "len"}


def estimate_tokens(text: str) -> int:
    """A conservative token count: about 4 ASCII characters per token, and one and a half tokens
    per other character (byte-level tokenizers split kana and kanji into several bytes)."""
    ascii_chars = sum(ch.isascii() for ch in text)
    return math.ceil(ascii_chars / 4 + (len(text) - ascii_chars) * 1.5)


def shorten(text: str, limit: int, what: str = "characters") -> str:
    """*text* cut to about *limit* characters, keeping its head and tail around a marker."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    head, tail = int(limit * 0.7), int(limit * 0.2)
    return f"{text[:head]}\n... ({len(text) - head - tail} {what} cut) ...\n{text[len(text) - tail:]}"


def visible_cells(record: ExperimentRecord) -> list[Cell]:
    """The cells the article shows, as ``pipeline.article.chapters`` picks them."""
    return [c for c in record.cells if not set(c.tags) & set(HIDDEN_CELL_TAGS) and c.kind in ("markdown", "code")
            and c.source.strip()]


def output_texts(cell: Cell) -> list[str]:
    texts = []
    for out in cell.outputs:
        if isinstance(out, StreamOutput):
            texts.append(out.text)
        elif isinstance(out, ResultOutput):
            texts.append(out.markdown or out.text)
        elif isinstance(out, ErrorOutput):
            texts.append(f"{out.ename}: {out.evalue}")
        elif isinstance(out, ImageOutput):
            texts.append(f"[figure{': ' + out.alt if out.alt else ''}]")
    return [t for t in texts if t.strip()]


def cell_text(cell: Cell, budget_tokens: int) -> str:
    """One code cell for a prompt: its code, then its outputs, each shortened with a marker."""
    chars = max(200, budget_tokens * 2)
    title = f" ({cell.title})" if cell.title else ""
    parts = [f"[cell {cell.index + 1}{title}]", shorten(cell.source, chars // 2)]
    outputs = "\n".join(output_texts(cell))
    if outputs:
        parts += ["[output]", shorten(outputs, chars // 2)]
    return "\n".join(parts)


def evidence_of(record: ExperimentRecord, cells: list[Cell] | None = None) -> str:
    """All the text a draft about *cells* of *record* (default: all of them) may quote from:
    their code and outputs, the chapter title and the recorded (glue) values."""
    parts = [record.title]
    for cell in record.cells if cells is None else cells:
        parts.append(cell.source)
        for out in cell.outputs:
            if isinstance(out, StreamOutput):
                parts.append(out.text)
            elif isinstance(out, ResultOutput):
                parts += [out.text, out.markdown or ""]
            elif isinstance(out, ErrorOutput):
                parts += [out.ename, out.evalue]
    for name, value in record.glue.items():
        parts += [name, value.text, json.dumps(value.value, ensure_ascii=False), f"{name} = {value.text}"]
    return "\n".join(parts)


def terms(text: str) -> set[str]:
    """The distinctive identifiers of some code (names of 4+ characters, lower-cased)."""
    return {t.lower() for t in _IDENTIFIER.findall(text)} - _COMMON


_ANCHOR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}|[\u30a1-\u30fa\u30fc]{2,}|[\u4e00-\u9fff]{2,}|\d+\.\d+|\d{2,}")
_SHOWN = {"cell", "output", "characters", "cut", "figure", "python", "code", "data", "def", "class", "import",
          "print", "return", "none", "true", "false", "self", "for", "and", "the", "not", "with", "from", "len",
          "int", "str", "float", "list", "dict", "range", "glue", "pipeline", "lambda", "while", "elif", "else"}


def anchors(shown: str, digits: bool = False) -> tuple[str, ...]:
    """What some cells hold, as shown to the model (``part_text``): identifiers and calls of 3+
    characters, the words of comments, strings and outputs (Latin, katakana, kanji), and values
    of 2+ digits (with *digits*, single digits too: an output may print only "7"). An explanation
    of those cells must name one of them."""
    text = re.sub(r"\[(?:cell \d+[^\]]*|output|figure[^\]]*)\]", " ", shown)
    found = set(_ANCHOR.findall(text)) | (set(re.findall(r"(?<![\w.])\d(?![\w.])", text)) if digits else set())
    found |= {p for a in found if "_" in a for p in a.split("_") if len(p) >= 3}
    return tuple(sorted(a for a in found if a.lower() not in _SHOWN))


@dataclass(frozen=True)
class Part:
    """What one drafting request is about: consecutive code cells of one bare section."""

    record: str
    heading: str  # the author's heading of the section; "" for a run of code cells with none
    cells: tuple[Cell, ...]

    @property
    def first_cell(self) -> int:
        return self.cells[0].index

    def __repr__(self) -> str:
        return f"Part({self.record}, cells {self.cells[0].index + 1}-{self.cells[-1].index + 1})"


@dataclass
class _Section:
    heading: str = ""
    prose: bool = False
    code: list[Cell] | None = None


def sections(record: ExperimentRecord) -> list[tuple[str, bool, list[Cell]]]:
    """``(heading, author wrote prose, code cells)`` for each section of *record*, in order."""
    found: list[_Section] = []
    current = _Section(code=[])
    title_seen = False
    for cell in visible_cells(record):
        if cell.kind == "code":
            current.code.append(cell)
            continue
        marks = headings(cell.source)
        if not title_seen and marks and marks[0][1] == 1:  # the notebook's H1 is the chapter title
            title_seen = True
            marks = marks[1:]
        text = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("#")).strip()
        if marks or current.code:  # a heading, or prose after code, starts a new section
            found.append(current)
            current = _Section(heading=marks[-1][2] if marks else "", code=[])
        current.prose = current.prose or bool(text) or is_observation(cell.source, cell.tags)
    found.append(current)
    return [(s.heading, s.prose, s.code) for s in found if s.code]


def parts(record: ExperimentRecord, budget_tokens: int) -> list[Part]:
    """The bare sections of *record*, split into parts that fit *budget_tokens* each."""
    result = []
    for heading, prose, cells in sections(record):
        if prose:
            continue
        chunk: list[Cell] = []
        used = 0
        for cell in cells:
            cost = estimate_tokens(cell_text(cell, budget_tokens // 2))
            starts_topic = bool(cell.title) and len(chunk) >= 2
            if chunk and (used + cost > budget_tokens or len(chunk) >= MAX_CELLS or starts_topic):
                result.append(Part(record.name, heading, tuple(chunk)))
                chunk, used = [], 0
            chunk.append(cell)
            used += cost
            if _natural_break(cell):
                result.append(Part(record.name, heading, tuple(chunk)))
                chunk, used = [], 0
        if chunk:
            result.append(Part(record.name, heading, tuple(chunk)))
    return result


def _natural_break(cell: Cell) -> bool:
    """A figure or a long output ends a part."""
    return any(isinstance(o, ImageOutput) for o in cell.outputs) or \
        sum(t.count("\n") + 1 for t in output_texts(cell)) >= LONG_OUTPUT_LINES


def part_text(part: Part, budget_tokens: int) -> str:
    """The cells of *part* for a prompt, fitted to *budget_tokens* (outputs shortened further
    where the part is still too long)."""
    share = budget_tokens // max(1, len(part.cells))
    text = "\n\n".join(cell_text(c, share) for c in part.cells)
    while estimate_tokens(text) > budget_tokens and share > 100:
        share //= 2
        text = "\n\n".join(cell_text(c, share) for c in part.cells)
    if estimate_tokens(text) > budget_tokens:  # many cells: keep the head and tail of the whole
        text = shorten(text, max(400, int(len(text) * budget_tokens / estimate_tokens(text))))
    return text


def record_text(record: ExperimentRecord, budget_tokens: int) -> str:
    """All code cells of *record* for a chapter-wide prompt, each shortened to fit *budget_tokens*."""
    cells = [c for c in visible_cells(record) if c.kind == "code"]
    return part_text(Part(record.name, "", tuple(cells)), budget_tokens) if cells else ""
