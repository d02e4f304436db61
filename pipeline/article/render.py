"""Stage 4: records -> Markdown, through the Jinja templates in ``templates/``.

Three dialects come from the same records:
- ``qiita``: fences with file names (```` ```python:path ````), ``:::note`` blocks,
  ```` ```math ```` and `` $`...`$ `` math, ``<details>`` for long outputs;
- ``zenn``: ``:::message`` blocks, ``:::details`` folding, ``$$``/``$`` math,
  images under ``/images/<slug>/``;
- ``mkdocs``: Material admonitions, collapsible ``???`` blocks, arithmatex math.

Python prepares one typed ``ArticleContext`` (``pipeline.article.context``, built by
``pipeline.article.chapters``); the templates decide everything a reader sees. Outputs
are inserted as data and never pass through Jinja, so ``{{ }}`` in an output
stays literal. ``article.md.j2`` is the whole article; its parts (``opening.md.j2``,
``chapter.md.j2``, ``closing.md.j2``) are rendered on their own by ``render_part`` for the
pages of a Zenn book.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.article.anchors import Ref, resolve_refs
from pipeline.article.chapters import UPLOAD_MARK, build_context
from pipeline.article.context import ArticleContext, Chapter, FigureView
from pipeline.article.title import titled
from pipeline.config import Config
from pipeline.errors import PipelineError
from pipeline.layout import DEFAULT_TEMPLATES, Layout
from pipeline.markdown.scanner import fence_for, tidy_blank_lines
from pipeline.records import ExperimentRecord

DIALECTS = ("qiita", "mkdocs", "zenn")
__all__ = ["DIALECTS", "UPLOAD_MARK", "RenderedArticle", "make_environment", "render", "render_part"]


@dataclass(frozen=True)
class RenderedArticle:
    dialect: str
    markdown: str
    #: every image file the article links (output figures and the author's images)
    figures: tuple[FigureView, ...]
    warnings: tuple[str, ...] = field(default=())
    context: ArticleContext | None = field(default=None, repr=False, compare=False)
    #: the links to chapters and headings, ``#pipeline-ref-N`` in the context's Markdown (``markdown``
    #: has them resolved): a page rendered from the context (``render_part``) resolves them itself
    refs: tuple[Ref, ...] = field(default=(), repr=False, compare=False)

    def __repr__(self) -> str:
        return f"RenderedArticle({self.dialect}, {len(self.markdown)} chars, figures={len(self.figures)})"


@functools.lru_cache(maxsize=8)
def make_environment(templates_dir: Path, cache_dir: Path | None = None):
    """The one Jinja environment for the article templates (filters live here). A project's
    own ``templates/`` wins; a template it lacks comes from the package's defaults. Compiled
    templates are kept in memory (one compile per process) and, with *cache_dir*, on disk
    (Jinja's bytecode cache, checked against the template files' modification times)."""
    import jinja2

    folders = [str(templates_dir)] + ([str(DEFAULT_TEMPLATES)] if DEFAULT_TEMPLATES != Path(templates_dir).resolve() else [])
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=jinja2.FileSystemBytecodeCache(str(cache_dir)) if cache_dir else None,
    )
    env.filters["fence_for"] = fence_for
    return env


def render(records: list[ExperimentRecord], config: Config, dialect: str, drafts=None,
           now: datetime | None = None, preview: bool = False, layout: Layout | None = None) -> RenderedArticle:
    """Render the article in *dialect* from *records* (templates from *layout*, default the config's)."""
    return render_all(records, config, (dialect,), drafts, now, preview, layout)[dialect]


def render_all(records: list[ExperimentRecord], config: Config, dialects: tuple[str, ...], drafts=None,
               now: datetime | None = None, preview: bool = False,
               layout: Layout | None = None) -> dict[str, RenderedArticle]:
    """The article in each of *dialects*, from the same records and one template environment; *preview*
    marks the page as not a clean run (the site's page: the only dialect a preview shows)."""
    unknown = [d for d in dialects if d not in DIALECTS]
    if unknown:
        raise ValueError(f"unknown dialect {unknown[0]!r}; use one of {', '.join(DIALECTS)}")
    if not (config.article.title and config.zenn.slug):  # build resolved it already (article.title.titled)
        config = titled(config, records)
    layout = layout or config.layout
    rendered = {}
    for dialect in dialects:
        context, prose = build_context(records, config, dialect, drafts=drafts, now=now,
                                       preview=preview and (dialect == "mkdocs" or len(dialects) == 1))
        markdown = _render(layout, "article.md.j2", context)
        markdown = tidy_blank_lines(resolve_refs(markdown, dialect, prose.refs, [c.title for c in context.chapters]))
        figures = tuple({f.file: f for f in prose.figures}.values())
        rendered[dialect] = RenderedArticle(dialect, markdown, figures, context.warnings, context, tuple(prose.refs))
    return rendered


def render_part(rendered: RenderedArticle, part: str, layout: Layout, chapter: Chapter | None = None) -> str:
    """One part of *rendered*'s article from its context: ``opening``, ``closing``, or ``chapter``
    (*chapter* below its heading), through the template of that name; links to chapters and
    headings are left as ``#pipeline-ref-N`` (``rendered.refs``) for the caller, who knows the pages."""
    if rendered.context is None:
        raise ValueError("render_part needs an article rendered from records (its context)")
    extra = {"chapter": chapter} if chapter is not None else {}
    return tidy_blank_lines(_render(layout, f"{part}.md.j2", rendered.context, **extra))


def _render(layout: Layout, name: str, context: ArticleContext, **extra) -> str:
    """Template *name* rendered with *context*; a template error names the template and the fix."""
    import jinja2

    cache = layout.build / ".templates-cache"
    cache.mkdir(parents=True, exist_ok=True)
    env = make_environment(layout.templates, cache)
    try:
        return env.get_template(name).render(**context.as_dict(), **extra)
    except jinja2.TemplateNotFound as exc:
        raise PipelineError(f"template {exc.name} not found in {layout.templates} (or the package's defaults "
                            f"in {DEFAULT_TEMPLATES}); restore it from the project's repository") from None
    except jinja2.TemplateSyntaxError as exc:
        raise PipelineError(f"{exc.filename or exc.name}, line {exc.lineno}: template syntax error: "
                            f"{exc.message}; fix the template") from None
    except jinja2.TemplateError as exc:
        raise PipelineError(f"rendering the {context.dialect} article failed in the templates ({name}): {exc}; fix "
                            f"the template (templates/{name} sees the fields listed in pipeline/article/context.py)") from None
