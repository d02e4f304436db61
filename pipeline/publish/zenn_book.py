"""The Zenn export's book format (``format = "book"``, called by ``export``).

``export_book``: the Zenn article as a book in zenn-cli's layout: ``config.yaml`` (title,
summary, topics, published, price, chapters) and one chapter file per experiment (``<name>.md``,
front matter ``title``), with ``cover.<ext>`` when ``cover`` is set. Each chapter is rendered from
the article's context (``book_chapters``: the templates ``chapter.md.j2``, ``opening.md.j2`` and
``closing.md.j2``), never cut out of the rendered article. What the article says before the first
experiment (how it was made, the audience, the overview, the background) opens the first chapter;
the summary and references close the last one. A chapter's headings move up one level (its title
is the page's title), and links between experiments point at the other chapter's page. A
chapter over Zenn's 50,000 characters is cut at its own headings into several chapters
(``_split_long``). Without a ``summary`` setting, the book's is the article's lead (``book_lead``).
``published`` and any key you or zenn-cli added to config.yaml (``toc_depth``, say), and ``free``
in a chapter, are kept. Each chapter is checked against Zenn's limit and its dialect, the book
against zenn-cli's rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.article.anchors import Ref, anchors, link_anchor, names_heading, replace_refs
from pipeline.article.context import Chapter
from pipeline.article.render import RenderedArticle, render_part
from pipeline.config import Config
from pipeline.errors import ExportError
from pipeline.layout import GENERATED_FILE, Layout, owner_file
from pipeline.markdown.platforms import ZENN, js_length
from pipeline.markdown.scanner import headings, scan, set_heading_level, tidy_blank_lines
from pipeline.progress import Progress
from pipeline.publish.frontmatter import as_yaml, front_matter, read_front_matter, read_text, top_level, yaml_line
from pipeline.publish.zenn import fit_image, hosted_links, with_setting
from pipeline.records import ExperimentRecord
from pipeline.storage import Publication
from pipeline.suggest import plain_text
from pipeline.text import clean_text, quoted

#: config.yaml's keys, in zenn-cli's order (new:book writes them so); the build writes all but a kept published
BOOK_KEYS = ("title", "summary", "topics", "published", "price", "chapters")


@dataclass(frozen=True)
class BookChapter:
    """One chapter file of a Zenn book: ``slug`` is its file name without .md, ``title`` plain text."""

    number: int
    slug: str
    title: str
    source: str
    body: str

    def __repr__(self) -> str:
        return f"BookChapter({self.slug}, {len(self.body)} chars)"


def export_book(rendered: RenderedArticle, hosted: dict[str, Path], records: list[ExperimentRecord], config: Config,
                progress: Progress, publication: Publication, layout: Layout) -> Path:
    """Stage ``books/<slug>/`` into *publication* from the Zenn article's context (*hosted*: the figures'
    copies in images/<slug>/); ExportError (nothing staged) when Zenn would refuse it."""
    slug = config.zenn.slug
    target = layout.zenn / "books" / slug
    chapters = book_chapters(rendered, records, layout, ZENN.chapter_limit, hosted)
    summary = config.zenn.summary or book_lead(rendered, config)
    text = book_config(config, [c.slug for c in chapters], top_level(read_text(target / "config.yaml")), summary)
    refused = [with_setting(p) for p in ZENN.book_problems(as_yaml(text)) + ZENN.slug_problems(slug)]
    files: dict[str, str] = {}
    for chapter in chapters:
        where = f"chapter {chapter.number} ({chapter.source}, books/{slug}/{chapter.slug}.md)"
        kept = read_front_matter(target / f"{chapter.slug}.md")
        front = chapter_front_matter(chapter, kept)
        refused += [f"{where}: {p}" for p in ZENN.chapter_problems(chapter.slug, as_yaml(front))]
        refused += ZENN.article_problems(chapter.body, limit=ZENN.chapter_limit, what=where)
        files[f"{chapter.slug}.md"] = front + chapter.body
    if refused:  # zenn-cli or Zenn would refuse the book: an error, never a silent export
        raise ExportError("the Zenn book breaks Zenn's limits, so nothing was published (the last good articles "
                          "stay):\n" + "\n".join(f"  - {p}" for p in refused)
                          + "\n(or set enabled = false under [tool.pipeline.zenn] to skip the Zenn export)")
    for chapter in chapters:
        for problem in ZENN.check(chapter.body):
            progress.warn(f"Zenn book, {chapter.slug}.md: {problem}")
    for problem in ZENN.topic_warnings(config.zenn.topics):
        progress.warn(f"Zenn export: {problem}")
    folder = publication.folder(target)
    (folder / GENERATED_FILE).write_text(owner_file(target, layout), encoding="utf-8")
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    if config.zenn.cover:
        _stage_cover(config, folder, progress)
    article = layout.zenn / "articles" / f"{slug}.md"
    if not article.parent.exists():  # zenn-cli's layout (as `zenn init` makes it): list:articles wants the folder
        publication.write(article.parent / ".keep", "")
    elif article.exists():
        progress.warn(f"Zenn export: {article} from an earlier article export is still there and is deployed "
                      "with the book; delete it if the book replaces it (published articles stay on Zenn)")
    return target / "config.yaml"


def book_chapters(rendered: RenderedArticle, records: list[ExperimentRecord], layout: Layout,
                  limit: int | None = None, places: dict[str, Path] | None = None) -> list[BookChapter]:
    """The book's pages, one per chapter of *rendered*'s context, each rendered from it (``render_part``):
    the chapter below its heading (``chapter.md.j2``) with its headings one level up, as its title is
    the page's; the article's opening (``opening.md.j2``) before the first, its closing
    (``closing.md.j2``) after the last. A chapter longer than *limit* characters is cut further at its
    own headings (``_split_long``): several pages, titled "Title (1/3)", ... and named ``<name>``,
    ``<name>-2``, ... Links to chapters and headings (``rendered.refs``) point at the page that holds
    them; figures are linked under the names their copies got (*places*, ``hosted_links``)."""
    context = rendered.context
    if not records or context is None or not context.chapters:
        raise ExportError("a Zenn book needs at least one experiment; add one, or set format = \"article\"")

    def part(name: str, chapter: Chapter | None = None) -> str:
        return hosted_links(render_part(rendered, name, layout, chapter), rendered.figures, places or {})

    opening, closing = part("opening"), part("closing")
    last = len(context.chapters) - 1
    slugs: list[str] = []
    #: each page: its body, source and title; the page each chapter starts on
    pages: list[tuple[str, str, str]] = []
    starts: list[int] = []
    #: for each chapter: (text, page, anchor) of each heading of its own, in order
    own: list[list[tuple[str, int, str]]] = []
    for k, (chapter, record) in enumerate(zip(context.chapters, records)):
        content = _promoted(part("chapter", chapter))
        pieces = ([opening] if k == 0 else []) + [content] + ([closing] if k == last else [])
        before = len(headings(opening)) if k == 0 else 0
        mine = range(before, before + len(headings(content)))
        body = tidy_blank_lines("\n\n".join(p.strip("\n") for p in pieces if p.strip())).strip("\n") + "\n"
        title = clean_text(record.title) or clean_text(record.name)
        slug = _chapter_slug(record.name, k + 1, slugs)
        every = list(range(len(headings(body))))
        cut = _split_long(body, every, limit) if limit else [(body, every)]
        own.append([])
        starts.append(len(pages))
        for i, (piece, indexes) in enumerate(cut, 1):
            local = headings(piece)
            if len(indexes) == len(local):  # the same headings, in the same order
                own[k] += [(h[2], len(pages), anchor) for j, h, anchor in zip(indexes, local, anchors(local, "zenn"))
                           if j in mine and anchor]
            pages.append((piece, record.source, _part_title(title, i, len(cut))))
            slugs.append(slug if i == 1 else _chapter_slug(f"{slug[:45]}-{i}", k + 1, slugs))
    numbers = {chapter.number: k for k, chapter in enumerate(context.chapters)}

    def link(ref: Ref, page: int) -> str:
        k = numbers.get(ref.chapter)
        if k is None:
            return "#"
        found = next(((p, a) for text, p, a in own[k] if ref.heading and names_heading(text, ref.heading)), None)
        if found is None:  # the chapter itself (or a heading it does not have): its first page
            return slugs[starts[k]]
        return f"{'' if found[0] == page else slugs[found[0]]}#{link_anchor(found[1])}"

    out = []
    for n, (body, source, title) in enumerate(pages):
        def replace(match: re.Match, n: int = n) -> str:
            index = int(match.group(1))
            return link(rendered.refs[index], n) if index < len(rendered.refs) else "#"

        out.append(BookChapter(n + 1, slugs[n], title, source, replace_refs(body, replace)))
    return out


def _split_long(body: str, indexes: list[int], limit: int) -> list[tuple[str, list[int]]]:
    """*body* (a chapter, with *indexes*: a number for each of its headings) when it is over *limit*
    characters, cut into pieces of at most 95% of it (room for the links pointed at other chapters):
    before its level-2 headings if that is enough, else before level-3 ones too, and so on, else at
    the blank lines between its paragraphs (never inside code or math). Uncut (Zenn's refusal then
    names it) when no cut fits: one block longer than that, a long output say."""
    if len(body) <= limit:
        return [(body, indexes)]
    limit = limit * 95 // 100
    found = headings(body)
    lines = body.split("\n")
    free = _outside_blocks(body)  # lines where no fence, math or ::: block is open
    blanks = [n for n, line in enumerate(lines) if not line.strip() and free[n]]
    for level in range(2, 8):
        if level < 7:
            cuts = sorted({n - 1 for n, lvl, _ in found if lvl <= level and n > 1 and free[n - 1]})
        else:
            cuts = [n + 1 for n in blanks if 0 < n + 1 < len(lines)]
        if not cuts:
            continue
        bounds = [0] + cuts + [len(lines)]
        pieces: list[tuple[str, list[int]]] = []
        for a, b in zip(bounds, bounds[1:]):
            section = "\n".join(lines[a:b]).strip("\n")
            mine = [j for j, h in enumerate(found) if a < h[0] <= b]
            if not section:
                continue
            joined = pieces[-1][0].rstrip("\n") + "\n\n" + section + "\n" if pieces else ""
            if pieces and len(joined) <= limit:
                pieces[-1] = (joined, pieces[-1][1] + mine)
            else:
                pieces.append((section + "\n", mine))
        if all(len(piece) <= limit for piece, _ in pieces):
            mapped = len(found) == len(indexes)
            return [(piece, [indexes[j] for j in mine] if mapped else []) for piece, mine in pieces]
    return [(body, indexes)]


def _outside_blocks(markdown: str) -> list[bool]:
    """For each line: whether it lies outside every fence, display math and Zenn ``:::`` block (a
    chapter may be cut there)."""
    free, depth = [], 0
    for line in scan(markdown):
        text = line.text.strip()
        if not (line.code or line.math) and re.match(r":{3,}[^:\s]", text):
            depth += 1
        free.append(depth == 0 and not line.code and not line.math)
        if not (line.code or line.math) and re.fullmatch(r":{3,}", text) and depth:
            depth -= 1
    return free


def _part_title(title: str, number: int, count: int) -> str:
    """A chapter's title, with "(2/3)" when it is one of several pieces (cut to Zenn's title limit)."""
    if count == 1:
        return title
    suffix = f" ({number}/{count})"
    while js_length(title + suffix) > ZENN.title_limit and len(title) > 1:
        title = title[:-2] + "…"
    return title + suffix


def book_lead(rendered: RenderedArticle, config: Config, limit: int = 200) -> str:
    """A book's summary when none is set: the article's lead, the first paragraph of the author's own
    prose (the background, else the first chapter's), as plain text, cut after a sentence near
    *limit* characters; the title when the article has no prose."""
    context = rendered.context
    sources = [context.background] if context else []
    for chapter in context.chapters if context else ():
        sources += [chapter.intro] + [b.markdown for b in chapter.blocks if b.kind == "prose"]
    for source in sources:
        for paragraph in re.split(r"\n\s*\n", source or ""):
            first = paragraph.lstrip()
            if not first or first[0] in "#|`:!<$>-*+~=" or re.match(r"\d+[.)]\s", first):
                continue
            text = plain_text(paragraph)
            if len(text) > limit:
                ends = [m.end() for m in re.finditer(r"[。．.!?！？](?:\s|$)|[。！？]", text[:limit])]
                text = text[:ends[-1]].strip() if ends else text[:limit - 1].rstrip() + "…"
            if text:
                return text
    return clean_text(config.article.title)


def _promoted(markdown: str) -> str:
    """The chapter's headings one level up (### becomes ##): the chapter title is the page's."""
    for number, level, _ in reversed(headings(markdown)):
        if level > 2:
            markdown = set_heading_level(markdown, number, level - 1)
    return markdown


def _chapter_slug(name: str, number: int, taken: list[str]) -> str:
    """A chapter file name zenn-cli takes (1-50 of a-z, 0-9, - and _), unique in the book."""
    slug = re.sub(r"[^0-9a-z_-]+", "-", name.lower()).strip("-")[:50] or f"chapter-{number}"
    return f"{slug[:45]}-{number}" if slug in taken else slug


def book_config(config: Config, chapters: list[str], kept: dict[str, str], summary: str = "") -> str:
    """config.yaml: title, summary (*summary*, else the config's), topics, price and chapters from the
    config; ``published`` and any other key already in the file are kept as written."""
    zenn = config.zenn
    values = {
        "title": quoted(config.article.title),
        "summary": quoted(summary or zenn.summary),
        "topics": "[" + ", ".join(quoted(t) for t in config.zenn.topics) + "]",
        "published": kept.get("published", "true" if zenn.published else "false"),
        "price": str(zenn.price),
        "chapters": "\n" + "\n".join(f"  - {quoted(c)}" for c in chapters),
    }
    values.update({k: v for k, v in kept.items() if k not in BOOK_KEYS})
    lines = ["# Written by ml-article-pipeline: set these in [tool.pipeline.zenn]; published and keys you add are kept"]
    lines += [yaml_line(k, v) for k, v in values.items()]
    return "\n".join(lines) + "\n"


def chapter_front_matter(chapter: BookChapter, kept: dict[str, str]) -> str:
    """The chapter's title; ``free`` and any other key already in the file are kept as written."""
    return front_matter([("title", quoted(chapter.title))] + [(k, v) for k, v in kept.items() if k != "title"])


def _stage_cover(config: Config, folder: Path, progress: Progress) -> None:
    from PIL import Image

    name = config.zenn.cover
    source = config.root / name
    if not source.is_file():
        raise ExportError(f"tool.pipeline.zenn.cover names {name}, which does not exist; add the image or clear the setting")
    target = folder / f"cover{source.suffix.lower()}"
    target.write_bytes(source.read_bytes())
    message = fit_image(target, ZENN.cover_bytes, f"the book cover {name}")
    if message:
        progress.warn(f"Zenn export: {message}")
    with Image.open(target) as image:
        width, height = image.size
    if round(height / width, 1) != 1.4:
        progress.warn(f"Zenn export: the book cover {name} is {width}x{height}; Zenn shows covers at 500x700 "
                      "and recommends that shape (width:height 1:1.4)")
