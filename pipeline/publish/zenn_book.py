"""The Zenn export's book format (``format = "book"``, called by ``export``).

``export_book``: the rendered Zenn article as a book in zenn-cli's layout: ``config.yaml`` (title,
summary, topics, published, price, chapters) and one chapter file per experiment (``<name>.md``,
front matter ``title``), with ``cover.<ext>`` when ``cover`` is set. What the article says before
the first experiment (how it was made, the audience, the overview, the background) opens the first
chapter; the summary and references close the last one. A chapter's headings move up one level (its
title is the page's title), and links between experiments point at the other chapter's page. A
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
from urllib.parse import quote

from pipeline.article.anchors import anchors, chapter_starts
from pipeline.article.render import RenderedArticle
from pipeline.config import Config
from pipeline.errors import ExportError
from pipeline.layout import GENERATED_FILE, Layout, owner_file
from pipeline.markdown.platforms import ZENN, js_length
from pipeline.markdown.scanner import headings, scan, set_heading_level, tidy_blank_lines
from pipeline.progress import Progress
from pipeline.publish.zenn import fit_image, with_setting
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


def export_book(rendered: RenderedArticle, records: list[ExperimentRecord], config: Config, progress: Progress,
                publication: Publication, layout: Layout) -> Path:
    """Stage ``books/<slug>/`` into *publication*; ExportError (nothing staged) when Zenn would refuse it."""
    slug = ZENN.slug_for(config)
    target = layout.zenn / "books" / slug
    chapters = split_book(rendered.markdown, records,
                          [c.title for c in rendered.context.chapters] if rendered.context else None,
                          limit=ZENN.chapter_limit)
    summary = config.zenn.summary or book_lead(rendered, config)
    text = book_config(config, [c.slug for c in chapters], _top_level(_read(target / "config.yaml")), summary)
    refused = [with_setting(p) for p in ZENN.book_problems(_yaml(text)) + ZENN.slug_problems(slug)]
    files: dict[str, str] = {}
    for chapter in chapters:
        where = f"chapter {chapter.number} ({chapter.source}, books/{slug}/{chapter.slug}.md)"
        kept = _top_level(_front_matter(_read(target / f"{chapter.slug}.md")))
        front = chapter_front_matter(chapter, kept)
        refused += [f"{where}: {p}" for p in ZENN.chapter_problems(chapter.slug, _yaml(front))]
        refused += ZENN.article_problems(chapter.body, limit=ZENN.chapter_limit, what=where)
        files[f"{chapter.slug}.md"] = front + chapter.body
    if refused:  # zenn-cli or Zenn would refuse the book: an error, never a silent export
        raise ExportError("the Zenn book breaks Zenn's limits, so nothing was published (the last good articles "
                          "stay):\n" + "\n".join(f"  - {p}" for p in refused)
                          + "\n(or set enabled = false under [tool.pipeline.zenn] to skip the Zenn export)")
    for chapter in chapters:
        for problem in ZENN.check(chapter.body):
            progress.warn(f"Zenn book, {chapter.slug}.md: {problem}")
    for problem in ZENN.topic_warnings(ZENN.topics_for(config)):
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


def split_book(markdown: str, records: list[ExperimentRecord], titles: list[str] | None = None,
               limit: int | None = None) -> list[BookChapter]:
    """The rendered Zenn article cut at its chapters (the level-2 headings "N. Title", or the chapter's
    own numbered title from *titles*, as ``anchors.chapter_starts`` finds them): one chapter per experiment, the preamble in the first,
    the closing sections (the first level-2 heading after the last chapter on) in the last. A chapter
    longer than *limit* characters is cut further at its own headings (``_split_long``): several
    chapters, titled "Title (1/3)", ... and named ``<name>``, ``<name>-2``, ..."""
    if not records:
        raise ExportError("a Zenn book needs at least one experiment; add one, or set format = \"article\"")
    found = headings(markdown)
    starts: list[int] = []
    found_starts = chapter_starts(found, titles, len(records))
    for number in range(1, len(records) + 1):
        index = found_starts.get(number)
        if index is None:
            raise ExportError(f"the Zenn book is cut at each experiment's level-2 heading \"{number}. <title>\", "
                              f"and the article has none for chapter {number}; restore that heading in "
                              "templates/article.md.j2 (see the package's default template)")
        starts.append(index)
    end = next((i for i in range(starts[-1] + 1, len(found)) if found[i][1] <= 2), len(found))
    lines = markdown.split("\n")

    def line(index: int) -> int:
        return found[index][0] - 1 if index < len(found) else len(lines)

    slugs: list[str] = []
    #: each chapter's body, the article's headings in it, its heading (None: a later piece), source, title
    parts: list[tuple[str, list[int], int | None, str, str]] = []
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else end
        content = _promoted("\n".join(lines[line(start) + 1:line(stop)]))
        pieces, indexes = [content], list(range(start + 1, stop))
        if k == 0:
            pieces.insert(0, "\n".join(lines[:line(start)]))
            indexes = list(range(start)) + indexes
        if k == len(starts) - 1:
            pieces.append("\n".join(lines[line(end):]))
            indexes += list(range(end, len(found)))
        body = tidy_blank_lines("\n\n".join(p.strip("\n") for p in pieces if p.strip())).strip("\n") + "\n"
        title = clean_text(records[k].title) or clean_text(records[k].name)
        slug = _chapter_slug(records[k].name, k + 1, slugs)
        cut = _split_long(body, indexes, limit) if limit else [(body, indexes)]
        for i, (piece, its) in enumerate(cut, 1):
            parts.append((piece, its, start if i == 1 else None, records[k].source,
                          _part_title(title, i, len(cut))))
            slugs.append(slug if i == 1 else _chapter_slug(f"{slug[:45]}-{i}", k + 1, slugs))
    bodies = _relink([p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts], slugs,
                     anchors(found, "zenn"))
    return [BookChapter(k + 1, slugs[k], part[4], part[3], body) for k, (part, body) in enumerate(zip(parts, bodies))]


def _split_long(body: str, indexes: list[int], limit: int) -> list[tuple[str, list[int]]]:
    """*body* (a chapter, with the article's heading *indexes* of its headings) when it is over *limit*
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


def _relink(bodies: list[str], indexes: list[list[int]], starts: list[int | None], slugs: list[str],
            ids: list[str]) -> list[str]:
    """Links to headings (``#anchor``, as ``resolve_refs`` wrote them for the whole article) pointed
    at the anchor in the chapter that holds the heading now: ``#anchor`` there, ``<chapter>#anchor``
    from another chapter."""
    def encoded(anchor: str) -> str:
        return re.sub(r"[\s()<>]", lambda m: quote(m.group()), anchor)

    where: dict[str, tuple[int, str]] = {}
    for k, start in enumerate(starts):
        if start is not None and ids[start]:
            where.setdefault(encoded(ids[start]), (k, ""))
        local = anchors(headings(bodies[k]), "zenn")
        if len(local) == len(indexes[k]):  # the same headings, in the same order
            for i, anchor in zip(indexes[k], local):
                if ids[i] and anchor:
                    where.setdefault(encoded(ids[i]), (k, encoded(anchor)))
    out = []
    for k, body in enumerate(bodies):
        def point(match: re.Match, k: int = k) -> str:
            chapter, anchor = where.get(match.group(1), (None, ""))
            if chapter is None:
                return match.group(0)
            if not anchor:  # the chapter itself: its page
                return f"]({slugs[chapter]})"
            return f"]({'' if chapter == k else slugs[chapter]}#{anchor})"

        out.append("\n".join(line.text if line.code else re.sub(r"\]\(#([^)\s]+)\)", point, line.text)
                             for line in scan(body)))
    return out


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
        "topics": "[" + ", ".join(quoted(t) for t in ZENN.topics_for(config)) + "]",
        "published": kept.get("published", "true" if zenn.published else "false"),
        "price": str(zenn.price),
        "chapters": "\n" + "\n".join(f"  - {quoted(c)}" for c in chapters),
    }
    values.update({k: v for k, v in kept.items() if k not in BOOK_KEYS})
    lines = ["# Written by ml-article-pipeline: set these in [tool.pipeline.zenn]; published and keys you add are kept"]
    lines += [f"{k}:{v}" if v.startswith("\n") else f"{k}: {v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def chapter_front_matter(chapter: BookChapter, kept: dict[str, str]) -> str:
    """The chapter's title; ``free`` and any other key already in the file are kept as written."""
    lines = ["---", f"title: {quoted(chapter.title)}"]
    lines += [f"{k}:{v}" if v.startswith("\n") else f"{k}: {v}" for k, v in kept.items() if k != "title"]
    return "\n".join(lines + ["---", ""])


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


# ---------------------------------------------------------------------------
# Reading what is already there
# ---------------------------------------------------------------------------

def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return ""


def _front_matter(text: str) -> str:
    match = re.match(r"---\n(.*?)\n---(\n|$)", text, re.S)
    return match.group(1) if match else ""


def _top_level(text: str) -> dict[str, str]:
    """A YAML mapping's top-level keys and their values as written (a value that continues on
    indented lines, a list say, whole, from the text after its colon)."""
    values: dict[str, str] = {}
    key = None
    for line in text.split("\n"):
        match = re.match(r"([A-Za-z_][\w-]*):(.*)$", line)
        if match:
            key = match.group(1)
            values[key] = match.group(2)
        elif line.startswith("#"):
            key = None
        elif key is not None and (line.startswith((" ", "\t", "-")) or not line.strip()):
            values[key] += "\n" + line
    return {k: (v.strip() if "\n" not in v.rstrip() else v.rstrip()) for k, v in values.items() if v.strip()}


def _yaml(text: str) -> dict:
    """*text* (a YAML mapping, or front matter between ``---`` lines) as YAML reads it."""
    import yaml

    try:
        data = yaml.safe_load(_front_matter(text) if text.startswith("---\n") else text) or {}
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}
