"""Records -> the template context (``pipeline.article.context``), for one dialect.

``build_context`` walks each record's cells in order (see the context module for
the rules). Prose goes through ``Prose``: glue values filled (escaped in prose,
literal in code), headings
nested, links and images pointed where the dialect needs them, sanitized,
unwrapped for platforms that turn every newline into a line break, and math
written the way the dialect renders it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import PurePosixPath
from urllib.parse import quote, unquote, urlparse

from pipeline.article.anchors import REF, Ref, own_number
from pipeline.article.context import (
    ArticleContext,
    Block,
    Chapter,
    FailureView,
    FigureView,
    MadeWith,
    ModelView,
    OutputView,
)
from pipeline.article.drafted import drafted_block, llm_disclosure, readable_title
from pipeline.article.observations import fill_markdown, glue_context, is_observation, observation_body
from pipeline.config import Config
from pipeline.markdown.boxes import html_apart, sanitize_boxes
from pipeline.markdown.math import (
    author_math,
    display_math_to_fences,
    inline_math_to_qiita,
    math_entities,
    math_for_katex,
)
from pipeline.markdown.platforms import ZENN
from pipeline.markdown.sanitize import sanitize_markdown
from pipeline.markdown.scanner import (
    code_span,
    escape_inline,
    fence_for,
    headings,
    set_heading_level,
    unwrap,
    visible_controls,
)
from pipeline.markdown.svg import png_drawing
from pipeline.markdown.urls import rewrite_urls
from pipeline.markdown.zenn import badges_for_zenn, html_for_zenn
from pipeline.records import (
    Cell,
    ErrorOutput,
    ExperimentRecord,
    ImageOutput,
    ResultOutput,
    StoredRun,
    StreamOutput,
    location,
)

HIDDEN_CELL_TAGS = ("remove-cell",)
UPLOAD_MARK = "FIGURE-TO-UPLOAD:"


def shown_file(path: str, dialect: str) -> str:
    """The figure file a dialect shows: an SVG's PNG drawing (written by harvest beside it) on
    Qiita and Zenn, which do not show SVG; the SVG itself on the MkDocs site."""
    return png_drawing(path) if dialect != "mkdocs" and path.lower().endswith(".svg") else path


def figure_src(path: str, dialect: str, config: Config) -> str:
    """Where a figure file (``figures/...`` under build/) is linked from the article (its path
    percent-encoded: experiment names may hold spaces or brackets)."""
    path = shown_file(path, dialect)
    path = re.sub(r"[\s()<>\[\]\"'`\\]", lambda m: quote(m.group()), path)
    if dialect == "qiita":
        base = config.article.image_base_url  # "git": the export links pushed figures (publish/githost.py)
        return base.rstrip("/") + "/" + path if base and base != "git" else UPLOAD_MARK + path
    if dialect == "zenn":
        return f"/images/{ZENN.slug_for(config)}/" + path.removeprefix("figures/")
    return path


@dataclass
class Prose:
    """Turns Markdown from any source into Markdown that is safe and right for one dialect."""

    dialect: str
    config: Config
    names: dict[str, int]  # experiment name -> chapter number
    refs: list[Ref] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    figures: list[FigureView] = field(default_factory=list)
    badges: list[str] = field(default_factory=list)  # remote SVG images shown as links on Zenn

    def finish(self, markdown: str, author: bool = False) -> str:
        """Sanitize, then write it for the dialect."""
        text = author_math(markdown.strip())  # the author's own files get their boxes (pipeline.markdown.boxes)
        return self._dialect(sanitize_boxes(text, self.dialect) if author else html_apart(sanitize_markdown(text), self.dialect))

    def _dialect(self, markdown: str) -> str:
        """Join hard-wrapped lines (Qiita and Zenn turn every newline into a line break; the MkDocs
        page gets the same text, so all three read alike), and write math the way the dialect renders it
        (``author_math`` made it one form before the sanitizer saw it)."""
        text = math_entities(unwrap(markdown))
        if self.dialect == "qiita":
            text = inline_math_to_qiita(display_math_to_fences(text))
        elif self.dialect == "zenn":
            text, badges = badges_for_zenn(html_for_zenn(math_for_katex(text)))
            text = unwrap(text)  # lines that started with a tag Zenn cannot show are prose now
            self.badges += badges
        return text

    def notes(self) -> tuple[str, ...]:
        """The warnings, each once, with one line for all the badges Zenn gets as links."""
        hosts = sorted({urlparse(url).hostname or "" for url in self.badges})
        badges = [f"Zenn shows no SVG images: {len(self.badges)} badge image{'s' * (len(self.badges) != 1)} "
                  f"({', '.join(hosts)}) are shown there as links with their alt text"] if self.badges else []
        return tuple(dict.fromkeys(self.warnings + badges))

    def untrusted(self, markdown: str) -> str:
        """Markdown an output or an LLM wrote: its headings become bold lines, so they never
        enter the article's outline."""
        lines = markdown.split("\n")
        for number, _, text in reversed(headings(markdown)):
            setext = number < len(lines) and set(lines[number].strip()) <= set("=-") and lines[number].strip() != ""
            lines[number - 1: number + (1 if setext else 0)] = [f"**{text}**" if text else ""]
        return self.finish("\n".join(lines))

    def author(self, markdown: str, record: ExperimentRecord, cell: Cell | None, shift: int,
               glue: dict | None = None) -> str:
        """The author's own Markdown (a notebook cell, the background or summary file)."""
        import jinja2

        where = location(record.source, cell.index if cell else None, cell.lines if cell else None)
        if glue:
            try:
                markdown = fill_markdown(markdown, glue, table_pipe="|" if self.dialect == "mkdocs" else "\\|")
            except jinja2.TemplateError as exc:
                self.warnings.append(f"{where}: {getattr(exc, 'message', exc)}; the text is shown without its values")
        if shift:
            markdown = _shift_headings(markdown, shift)
        images = (cell.metadata.get("images") or {}) if cell else {}
        markdown = sanitize_boxes(author_math(markdown.strip()), self.dialect)  # alert boxes become the dialect's
        markdown = rewrite_urls(markdown, lambda kind, url: self._url(kind, url, record, images, where))
        return self._dialect(markdown)

    def _url(self, kind: str, url: str, record: ExperimentRecord, images: dict, where: str) -> str | None:
        parts = urlparse(url)
        if kind == "image" and url in images:  # copied by the harvester (relative files, attachments)
            self.figures.append(FigureView(0, figure_src(images[url], self.dialect, self.config), "",
                                           shown_file(images[url], self.dialect)))
            return figure_src(images[url], self.dialect, self.config)
        if parts.scheme or url.startswith("//"):
            return url  # absolute: the sanitizer decides whether it may stay
        if kind == "image":
            return None  # the harvester warned: missing, or outside the project
        path = unquote(parts.path)
        if not path:  # "#heading" inside this notebook
            return self._ref(self.names.get(record.name, 0), parts.fragment)
        stem = PurePosixPath(path).name
        for suffix in (".ipynb", ".py"):
            if stem.endswith(suffix) and stem[: -len(suffix)] in self.names:
                return self._ref(self.names[stem[: -len(suffix)]], parts.fragment)
        base = self.config.article.source_base_url
        if base:
            folder = PurePosixPath(record.source).parent
            return base.rstrip("/") + "/" + str(folder / path).lstrip("/") + (f"#{parts.fragment}" if parts.fragment else "")
        self.warnings.append(f"{where}: link to {url!r} (not an experiment of this project) is shown as plain text; "
                             "set tool.pipeline.article.source_base_url to link it to where the files are published")
        return None

    def _ref(self, chapter: int, fragment: str) -> str:
        self.refs.append(Ref(chapter, unquote(fragment)))
        return REF.format(len(self.refs) - 1)


def _shift_headings(markdown: str, shift: int) -> str:
    for number, level, _ in reversed(headings(markdown)):
        markdown = set_heading_level(markdown, number, min(6, level + shift))
    return markdown


def _drop_heading(markdown: str, number: int) -> str:
    lines = markdown.split("\n")
    setext = number < len(lines) and lines[number].strip() and set(lines[number].strip()) <= set("=-")
    del lines[number - 1: number + (1 if setext else 0)]
    return "\n".join(lines).strip("\n")


def build_context(records: list[ExperimentRecord], config: Config, dialect: str, drafts=None,
                  now: datetime | None = None, preview: bool = False) -> tuple[ArticleContext, Prose]:
    article = config.article
    prose = Prose(dialect, config, {r.name: i for i, r in enumerate(records, 1)})
    counter = [0]
    chapters = tuple(_chapter(number, record, config, prose, counter, drafts)
                     for number, record in enumerate(records, 1))
    model = next((r.environment.model for r in records if r.environment.model), None)
    packages: dict[str, str] = {}
    for record in records:
        packages.update(record.environment.packages)
    dates = [r.execution.executed_at[:10] for r in records if re.match(r"\d{4}-\d{2}-\d{2}", r.execution.executed_at)]
    made_with = MadeWith(
        model=ModelView(*(escape_inline(str(v)) for v in (model.id, model.source, model.device, model.quantization,
                                                         model.dtype))) if model else None,
        date=max(dates, default=(now or datetime.now(timezone.utc)).strftime("%Y-%m-%d")),
        python=escape_inline(next((r.environment.python for r in records if r.execution.mode != "stored"
                                   and r.environment.python), "")),
        packages={escape_inline(k): escape_inline(v) for k, v in sorted(packages.items())},
        cites_outputs=any(fill_cited(r) for r in records),
        executed=any(r.execution.mode in ("executed", "warm") for r in records),
        stored=tuple(ch.title for ch in chapters if ch.stored),
        llm_model=escape_inline(llm_disclosure(drafts)) if drafts else "",
    )
    context = ArticleContext(
        dialect=dialect,
        language=article.language,
        title=article.title,
        tags=article.tags,
        made_with=made_with,
        audience=tuple(prose.finish(a) for a in article.audience),
        chapters=chapters,
        background=_author_file(config, article.background, prose, "background"),
        summary=_author_file(config, article.summary, prose, "summary"),
        references=article.references,
        drafted_introduction=prose.untrusted(drafts.introduction) if drafts else "",
        drafted_summary=prose.untrusted(drafts.summary) if drafts else "",
        preview=preview,
        warnings=prose.notes(),
    )
    return context, prose


def fill_cited(record: ExperimentRecord) -> bool:
    from pipeline.article.observations import cites_glue

    return any(c.kind == "markdown" and cites_glue(c.source, record.glue) for c in record.cells)


def _author_file(config: Config, relative: str, prose: Prose, what: str) -> str:
    if not relative:
        return ""
    path = config.root / relative
    if not path.is_file():
        from pipeline.errors import PipelineError

        raise PipelineError(f"tool.pipeline.article.{what} names {relative}, which does not exist; create it or clear the setting")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        from pipeline.errors import PipelineError

        raise PipelineError(f"{relative}: not UTF-8 text; save it as UTF-8") from None
    return prose.finish(text, author=True)


def _chapter(number: int, record: ExperimentRecord, config: Config, prose: Prose, counter: list[int], drafts) -> Chapter:
    glue = glue_context(record.glue)
    cells = [c for c in record.cells if not set(c.tags) & set(HIDDEN_CELL_TAGS) and c.kind in ("markdown", "code")
             and c.source.strip()]
    sources = {c.index: c.source for c in cells}
    # the notebook's first H1 is the chapter title: take it out of its cell
    for cell in cells:
        if cell.kind == "markdown":
            first = next(((n, lvl) for n, lvl, _ in headings(cell.source) if lvl == 1), None)
            if first:
                sources[cell.index] = _drop_heading(cell.source, first[0])
                break
    notes = {c.index for c in cells if c.kind == "markdown" and is_observation(c.source, c.tags)}
    levels = [lvl for c in cells if c.kind == "markdown" and c.index not in notes for _, lvl, _ in headings(sources[c.index])]
    standard = not levels
    shift = 3 - min(levels) if levels else 0
    blocks: list[Block] = []
    intro: list[str] = []
    heading = 3 if standard else 2
    seen_code = False
    draft = drafts.sections.get(record.name) if drafts else None
    steps = {step.first_cell: step for step in draft.steps} if draft else {}
    for cell in cells:
        source = sources[cell.index]
        if not source.strip():
            continue
        if cell.index in notes:
            body = prose.author(observation_body(source), record, cell, 0, glue)
            if body.strip():
                blocks.append(Block("observation", markdown=body, caution=_caution(cell)))
        elif cell.kind == "markdown":
            text = prose.author(source, record, cell, shift, glue)
            for _, level, _ in headings(text):
                heading = level
            if standard and not seen_code:
                intro.append(text)
            elif text.strip():
                blocks.append(Block("prose", markdown=text, caution=_caution(cell)))
        else:
            seen_code = True
            if cell.index in steps:
                blocks.append(drafted_block(steps[cell.index], prose, min(6, heading + 1)))
            blocks.append(_code_block(cell, record, config, prose, counter, min(6, heading + 1)))
    title = draft.title if draft and draft.title else readable_title(record)
    return Chapter(
        number=number, name=record.name, title=escape_inline(title), numbered=own_number(title),
        source=record.source, drafted_title=escape_inline(record.name) if draft and draft.title else "",
        standard=standard, intro="\n\n".join(t for t in intro if t.strip()), blocks=tuple(blocks),
        failure=_failure_view(record), stored=_stored_view(record.execution.stored),
        drafted_intro=prose.untrusted(draft.intro) if draft else "",
        drafted_notes=prose.untrusted(draft.notes) if draft else "",
    )


def _stored_view(stored: StoredRun | None) -> StoredRun | None:
    """What a stored notebook says about its run comes from its metadata: escaped for prose."""
    if stored is None:
        return None
    return dataclasses.replace(stored, **{name: escape_inline(getattr(stored, name)) for name in
                                          ("kernel", "language", "first_executed", "last_executed", "why")})


def _caution(cell: Cell) -> dict[str, str] | None:
    mismatch = cell.metadata.get("model_mismatch")
    return {k: escape_inline(str(v)) for k, v in mismatch.items()} if isinstance(mismatch, dict) else None


def _failure_view(record: ExperimentRecord) -> FailureView | None:
    failure = record.failure
    if failure is None:
        return None
    where = location(failure.source, failure.cell_index, failure.lines)
    traceback = visible_controls(failure.traceback.rstrip())
    return FailureView(escape_inline(failure.ename), escape_inline(failure.evalue), code_span(where), traceback,
                       fence_for(traceback), has_outputs=record.execution.mode != "failed",
                       partial=record.execution.partial)


def _code_block(cell: Cell, record: ExperimentRecord, config: Config, prose: Prose, counter: list[int],
                level: int) -> Block:
    tags = set(cell.tags)
    outputs: list[OutputView] = []
    figures: list[FigureView] = []
    if "remove-output" not in tags:
        for out in cell.outputs:
            if isinstance(out, ImageOutput):
                counter[0] += 1
                figures.append(FigureView(counter[0], figure_src(out.path, prose.dialect, config),
                                          escape_inline(out.alt), shown_file(out.path, prose.dialect)))
            else:
                view = _output_view(out, config.article.max_output_lines, prose)
                if view is not None:
                    # hide-output folds the cell's outputs as a whole; no second fold inside
                    outputs.append(replace(view, folded=False) if "hide-output" in tags else view)
    prose.figures.extend(figures)
    code = None if "remove-input" in tags else visible_controls(cell.source)
    return Block(
        kind="code",
        title=escape_inline(cell.title),
        title_level=level,
        code=code,
        code_fence=fence_for(code or ""),
        filename=record.source,
        lines=cell.lines,
        outputs=tuple(outputs),
        figures=tuple(figures),
        folded="hide-output" in tags,
        skipped="skip-execution" in tags,
        failed=cell.state == "failed",
        not_run=cell.state == "not-run" and "skip-execution" not in tags,
    )


def _output_view(out, max_lines: int, prose: Prose) -> OutputView | None:
    if isinstance(out, StreamOutput):
        kind, text = out.name, out.text
    elif isinstance(out, ErrorOutput):
        kind, text = "error", out.traceback or f"{out.ename}: {out.evalue}"
    elif isinstance(out, ResultOutput):
        if out.markdown and out.markdown.strip():
            table = prose.untrusted(out.markdown)
            return OutputView("table", table, table.count("\n") + 1, folded=False)
        kind, text = "result", out.text
    else:
        return None
    text = visible_controls(text.rstrip("\n"))
    if not text.strip():
        return None
    lines = text.split("\n")
    hard_cap = max_lines * 10  # beyond this even a folded block is too long for an article
    if len(lines) > hard_cap:
        cut = len(lines) - hard_cap
        lines = lines[:hard_cap] + [f"... ({cut} more lines; the full output is in build/executed/)"]
        text = "\n".join(lines)
    if prose.dialect == "zenn" and len(text) > ZENN.output_chars:  # Zenn's length limits; the site shows it whole
        text = ZENN.shorten_output(text)
        lines = text.split("\n")
    return OutputView(kind, text, len(lines), folded=len(lines) > max_lines, fence=fence_for(text))
