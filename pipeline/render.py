"""Stage 4: records -> Markdown, through the Jinja templates in ``templates/``.

Two dialects come from the same records:
- ``qiita``: fences with file names (```` ```python:path ````), ``:::note``
  blocks, ```` ```math ```` instead of ``$$``, ``<details>`` for long outputs,
  no hard line breaks inside paragraphs;
- ``mkdocs``: Material admonitions, collapsible ``???`` blocks, arithmatex math.

Python prepares one typed ``ArticleContext`` (documented below); the templates
decide everything a reader sees. Outputs are inserted as data and never pass
through Jinja, so ``{{ }}`` in an output stays literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from .config import Config, Reference
from .records import Cell, ErrorOutput, ExperimentRecord, Failure, ImageOutput, ResultOutput, StreamOutput

DIALECTS = ("qiita", "mkdocs")
UPLOAD_MARK = "FIGURE-TO-UPLOAD:"
HIDDEN_CELL_TAGS = ("remove-cell",)


# ---------------------------------------------------------------------------
# The template context: exactly what templates/ can see
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class OutputView:
    """One output of a code cell, ready to print.

    kind: "stdout" | "stderr" | "result" | "table" | "error". ``text`` is plain
    text for fences, except for "table", where it is a Markdown table with HTML
    escaped. ``fence`` is a backtick run longer than any inside ``text``.
    """

    kind: str
    text: str
    lines: int
    folded: bool
    fence: str = "```"


@dataclass(frozen=True)
class FigureView:
    """A figure: ``src`` is the link written in the Markdown, ``file`` its path under build/."""

    src: str
    alt: str
    file: str


@dataclass(frozen=True)
class Block:
    """A piece of a chapter in notebook order: a code cell, or an author's note (observation).

    For code: ``code`` (None when the input is removed), ``filename`` for the fence
    label, ``outputs``, ``figures``, ``folded`` (hide-output tag). For notes:
    ``markdown``, glue values already filled in. ``caution``: set when a note was
    written for another model than the one that ran.
    """

    kind: str  # "code" | "note"
    label: str = ""
    code: str | None = None
    code_fence: str = "```"
    filename: str = ""
    lines: tuple[int, int] | None = None
    outputs: tuple[OutputView, ...] = ()
    figures: tuple[FigureView, ...] = ()
    folded: bool = False
    markdown: str = ""
    caution: str = ""


@dataclass(frozen=True)
class Chapter:
    number: int
    name: str
    title: str
    source: str
    intro: str
    blocks: tuple[Block, ...]
    failure: Failure | None = None
    drafted_intro: str = ""
    drafted_notes: str = ""


@dataclass(frozen=True)
class MadeWith:
    """How the article was made, for the note at the top."""

    model: str
    model_source: str
    device: str
    quantization: str
    dtype: str
    date: str  # the latest execution date among the records
    python: str
    packages: dict[str, str]
    llm_model: str = ""  # set when prose was drafted by an LLM


@dataclass(frozen=True)
class ArticleContext:
    """Everything a template sees (``templates/article.md.j2`` and the dialect blocks)."""

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
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class RenderedArticle:
    dialect: str
    markdown: str
    figures: tuple[FigureView, ...]
    warnings: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        return f"RenderedArticle({self.dialect}, {len(self.markdown)} chars, figures={len(self.figures)})"


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

def make_environment(templates_dir: Path):
    """The one Jinja environment for the article templates (filters live here)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["fence_for"] = fence_for
    return env


def render(records: list[ExperimentRecord], config: Config, dialect: str, drafts=None,
           now: datetime | None = None) -> RenderedArticle:
    """Render the article in *dialect* ("qiita" or "mkdocs") from *records*."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    context = build_context(records, config, dialect, drafts=drafts, now=now)
    env = make_environment(config.root / "templates")
    markdown = env.get_template("article.md.j2").render(**context.as_dict())
    markdown = tidy_blank_lines(markdown)
    figures = tuple(f for ch in context.chapters for b in ch.blocks for f in b.figures)
    return RenderedArticle(dialect, markdown, figures, context.warnings)


def build_context(records: list[ExperimentRecord], config: Config, dialect: str, drafts=None,
                  now: datetime | None = None) -> ArticleContext:
    article = config.article
    warnings: list[str] = []
    chapters = tuple(
        _chapter(number, record, config, dialect, warnings, drafts)
        for number, record in enumerate(records, 1)
    )
    model = next((r.environment.model for r in records if r.environment.model), None)
    packages: dict[str, str] = {}
    for record in records:
        packages.update(record.environment.packages)
    made_with = MadeWith(
        model=model.id if model else "",
        model_source=model.source if model else "",
        device=model.device if model else "",
        quantization=model.quantization if model else "",
        dtype=model.dtype if model else "",
        date=max((r.executed_at[:10] for r in records if r.executed_at),
                 default=(now or datetime.now(timezone.utc)).strftime("%Y-%m-%d")),
        python=next((r.environment.python for r in records if r.environment.python), ""),
        packages={k: v for k, v in sorted(packages.items()) if v != "not installed"},
        llm_model=drafts.model if drafts else "",
    )
    return ArticleContext(
        dialect=dialect,
        language=article.language,
        title=article.title,
        tags=article.tags,
        made_with=made_with,
        audience=article.audience,
        chapters=chapters,
        background=_author_file(config, article.background, dialect, "background"),
        summary=_author_file(config, article.summary, dialect, "summary"),
        references=article.references,
        drafted_introduction=_prose(drafts.introduction, dialect) if drafts else "",
        drafted_summary=_prose(drafts.summary, dialect) if drafts else "",
        warnings=tuple(warnings),
    )


def _author_file(config: Config, relative: str, dialect: str, what: str) -> str:
    if not relative:
        return ""
    path = config.root / relative
    if not path.is_file():
        from .errors import PipelineError

        raise PipelineError(f"tool.pipeline.article.{what} names {relative}, which does not exist; create it or clear the setting")
    return _prose(path.read_text(encoding="utf-8"), dialect)


class GlueRef:
    """A glue value inside an observation: prints as its prose text (``{{ ratio }}`` -> "0.1235"),
    tests and compares as its recorded value (``{% if adds_bos %}`` is false for False)."""

    __slots__ = ("value", "text")

    def __init__(self, value: Any, text: str):
        self.value, self.text = value, text

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self):
        return iter(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __hash__(self) -> int:
        return hash(self.text)

    def _other(self, other):
        return other.value if isinstance(other, GlueRef) else other

    def __eq__(self, other):
        return self.value == self._other(other)

    def __lt__(self, other):
        return self.value < self._other(other)

    def __le__(self, other):
        return self.value <= self._other(other)

    def __gt__(self, other):
        return self.value > self._other(other)

    def __ge__(self, other):
        return self.value >= self._other(other)


def glue_context(record: ExperimentRecord) -> dict[str, GlueRef]:
    """The names an observation's Jinja placeholders can use."""
    return {name: GlueRef(value.value, value.text) for name, value in record.glue.items()}


def fill_observation(source: str, glue: dict[str, GlueRef]) -> str:
    """An observation with its glue placeholders filled; raises jinja2.TemplateError
    (UndefinedError for a name no glue value has, TemplateSyntaxError for bad syntax)."""
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False).from_string(source).render(**glue)


def _chapter(number: int, record: ExperimentRecord, config: Config, dialect: str, warnings: list[str], drafts) -> Chapter:
    glue = glue_context(record)
    cells = [c for c in record.cells if not set(c.tags) & set(HIDDEN_CELL_TAGS)]
    intro = ""
    if cells and cells[0].kind == "markdown":
        intro = _observation(_drop_title(cells[0].source), glue, record, cells[0], warnings, dialect)
        cells = cells[1:]
    blocks = []
    for cell in cells:
        if cell.kind == "markdown":
            mismatch = cell.metadata.get("model_mismatch")
            caution = ""
            if mismatch:
                caution = (f"この考察は {mismatch['written_for']} の結果を見て書かれたもので、今回の実行モデル "
                           f"{mismatch['model']} の出力とは合わない可能性があります。")
            blocks.append(Block("note", label=cell.label,
                                markdown=_observation(_drop_heading(cell.source), glue, record, cell, warnings, dialect),
                                caution=caution))
        else:
            blocks.append(_code_block(cell, record, config))
    draft = drafts.sections.get(record.name) if drafts else None
    return Chapter(number, record.name, record.title, record.source, intro, tuple(blocks), record.failure,
                   drafted_intro=_prose(draft.intro, dialect) if draft else "",
                   drafted_notes=_prose(draft.notes, dialect) if draft else "")


def _code_block(cell: Cell, record: ExperimentRecord, config: Config) -> Block:
    article = config.article
    tags = set(cell.tags)
    outputs: list[OutputView] = []
    figures: list[FigureView] = []
    if "remove-output" not in tags:
        for out in cell.outputs:
            if isinstance(out, ImageOutput):
                figures.append(FigureView(src=_figure_src(out.path, article.image_base_url), alt=out.alt, file=out.path))
            else:
                view = _output_view(out, article.max_output_lines)
                if view is not None:
                    outputs.append(view)
    code = None if "remove-input" in tags else cell.source
    return Block(
        kind="code",
        label=cell.label,
        code=code,
        code_fence=fence_for(code or ""),
        filename=record.source,
        lines=cell.lines,
        outputs=tuple(outputs),
        figures=tuple(figures),
        folded="hide-output" in tags,
    )


def _output_view(out, max_lines: int) -> OutputView | None:
    if isinstance(out, StreamOutput):
        kind, text = out.name, out.text
    elif isinstance(out, ErrorOutput):
        kind, text = "error", out.traceback or f"{out.ename}: {out.evalue}"
    elif isinstance(out, ResultOutput):
        if out.markdown:
            table = escape_markdown_html(out.markdown.strip())
            return OutputView("table", table, table.count("\n") + 1, folded=False)
        kind, text = "result", out.text
    else:
        return None
    text = text.rstrip("\n")
    if not text.strip():
        return None
    lines = text.split("\n")
    hard_cap = max_lines * 10  # beyond this even a folded block is too long for an article
    if len(lines) > hard_cap:
        cut = len(lines) - hard_cap
        lines = lines[:hard_cap] + [f"... ({cut} more lines; the full output is in build/executed/)"]
        text = "\n".join(lines)
    return OutputView(kind, text, len(lines), folded=len(lines) > max_lines, fence=fence_for(text))


def _figure_src(path: str, base_url: str) -> str:
    """Qiita: absolute URL under image_base_url, else a marked placeholder. MkDocs uses ``file``."""
    if base_url:
        return base_url.rstrip("/") + "/" + path
    return UPLOAD_MARK + path


def _observation(source: str, glue: dict[str, GlueRef], record: ExperimentRecord, cell: Cell,
                 warnings: list[str], dialect: str) -> str:
    import jinja2

    where = f"{record.source}, cell {cell.index + 1}"
    try:
        text = fill_observation(source, glue)
    except jinja2.UndefinedError as exc:
        warnings.append(f"{where}: {exc.message}; the observation is shown without its values")
        text = source
    except jinja2.TemplateSyntaxError as exc:
        warnings.append(f"{where}: template syntax error: {exc.message}")
        text = source
    return _prose(text, dialect)


def _prose(markdown: str, dialect: str) -> str:
    text = unwrap(markdown.strip())
    if dialect == "qiita":
        text = math_blocks_to_fences(text)
    return text


def _drop_title(source: str) -> str:
    lines = source.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip()


def _drop_heading(source: str) -> str:
    """An observation's own leading heading (e.g. "## 考察") is replaced by the template's."""
    lines = source.strip().splitlines()
    if lines and re.match(r"#{1,6}\s", lines[0]):
        lines = lines[1:]
    return "\n".join(lines).strip()


# ---------------------------------------------------------------------------
# Markdown helpers
# ---------------------------------------------------------------------------

_BLOCK_START = re.compile(r"(#{1,6}\s|[-*+]\s|\d+[.)]\s|>|\||:::|<|\$\$|!!!|\?\?\?|```|~~~)")


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run inside *text* (at least three)."""
    longest = max((len(run) for run in re.findall(r"`+", text or "")), default=0)
    return "`" * max(3, longest + 1)


def _is_cjk(ch: str) -> bool:
    return ord(ch) >= 0x2E80


def _joins_without_space(before: str, after: str) -> bool:
    """Japanese runs on without spaces; a space stays between Japanese and Latin words,
    except next to Japanese punctuation and brackets."""
    if _is_cjk(before) and _is_cjk(after):
        return True
    return before in "、。「」『』（）【】：" or after in "、。「」『』（）【】："


def unwrap(markdown: str) -> str:
    """Join hard-wrapped paragraph and list-item lines (Qiita turns each newline into <br>).

    Fenced code and $$ math blocks are left untouched; CJK text is joined without a space.
    """
    out: list[str] = []
    joinable = False
    fence = ""
    in_math = False
    for line in markdown.split("\n"):
        stripped = line.strip()
        if fence:
            out.append(line)
            if stripped.startswith(fence) and stripped.strip("`~") == "":
                fence = ""
            continue
        if stripped.startswith(("```", "~~~")):
            fence = re.match(r"[`~]+", stripped).group(0)
            out.append(line)
            joinable = False
            continue
        if stripped == "$$":
            in_math = not in_math
            out.append(line)
            joinable = False
            continue
        if in_math or not stripped:
            out.append(line)
            joinable = False
            continue
        starts_block = bool(_BLOCK_START.match(stripped)) or line.startswith("    ") and not joinable
        if joinable and not starts_block:
            previous = out[-1].rstrip()
            joiner = "" if _joins_without_space(previous[-1], stripped[0]) else " "
            out[-1] = previous + joiner + stripped
            continue
        out.append(line)
        joinable = not (stripped.startswith(("#", "|", "<", ":::", "!!!", "???")))
    return "\n".join(out)


def math_blocks_to_fences(markdown: str) -> str:
    """``$$ ... $$`` display math becomes a ```` ```math ```` fence (Qiita does not render $$)."""
    out: list[str] = []
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        single = re.fullmatch(r"\$\$(.+)\$\$", stripped)
        if single:
            out += ["```math", single.group(1).strip(), "```"]
        elif stripped == "$$":
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "$$"), None)
            if end is None:
                out.append(lines[i])
            else:
                out += ["```math", *[l.strip() for l in lines[i + 1:end]], "```"]
                i = end
        else:
            out.append(lines[i])
        i += 1
    return "\n".join(out)


def escape_markdown_html(text: str) -> str:
    """HTML in table cells shows as text instead of being interpreted."""
    return escape(text, quote=False)


def tidy_blank_lines(markdown: str) -> str:
    """At most one blank line in a row outside fences; a single trailing newline."""
    out: list[str] = []
    fence = ""
    for line in markdown.split("\n"):
        stripped = line.strip()
        if fence:
            out.append(line)
            if stripped.startswith(fence) and set(stripped) <= set(fence[0]):
                fence = ""
            continue
        match = re.match(r"\s*([`~]{3,})", line)
        if match:
            fence = match.group(1)
        if not stripped and out and not out[-1].strip():
            continue
        out.append(line.rstrip() if not stripped else line)
    return "\n".join(out).strip("\n") + "\n"
