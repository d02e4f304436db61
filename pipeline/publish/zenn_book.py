"""The Zenn export's book format, what the Zenn export writes, and its images (called by ``export``).

- ``zenn_entry`` / ``zenn_targets``: in the zenn-cli root, ``articles/<slug>.md`` with
  ``format = "article"``, the folder ``books/<slug>/`` (known by its ``config.yaml``) with
  ``format = "book"``; ``images/<slug>/`` either way.
- ``export_book``: the rendered Zenn article as a book in zenn-cli's layout: ``config.yaml``
  (title, summary, topics, published, price, chapters) and one chapter file per experiment
  (``<name>.md``, front matter ``title``), with ``cover.<ext>`` when ``cover`` is set. What the
  article says before the first experiment (how it was made, the audience, the overview, the
  background) opens the first chapter; the summary and references close the last one. A chapter's
  headings move up one level (its title is the page's title), and links between experiments point
  at the other chapter's page. ``published`` and any key you or zenn-cli added to config.yaml
  (``toc_depth``, say), and ``free`` in a chapter, are kept. Each chapter is checked against Zenn's
  50,000 characters and its dialect, the book against zenn-cli's rules.
- ``fit_images``: a figure over Zenn's 3 MB (a cover over 1 MB) is downscaled, its aspect ratio
  kept, in the Zenn folder only: build/figures and the other exports keep the original.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pipeline.article.anchors import anchors, chapter_starts
from pipeline.article.context import FigureView
from pipeline.article.render import RenderedArticle
from pipeline.config import Config
from pipeline.errors import ExportError
from pipeline.layout import GENERATED_FILE, Layout, owner_file
from pipeline.markdown.platforms import ZENN
from pipeline.markdown.scanner import headings, scan, set_heading_level, tidy_blank_lines
from pipeline.progress import Progress
from pipeline.records import ExperimentRecord
from pipeline.storage import Publication
from pipeline.text import clean_text, quoted

#: config.yaml's keys, in zenn-cli's order (new:book writes them so); the build writes all but a kept published
BOOK_KEYS = ("title", "summary", "topics", "published", "price", "chapters")
#: formats Pillow writes back in the same type (the types Zenn shows)
_SCALABLE = {"PNG": {"optimize": True}, "JPEG": {"quality": 85, "optimize": True}, "WEBP": {"quality": 85}, "GIF": {}}


def zenn_entry(config: Config, layout: Layout) -> Path:
    """The file the Zenn export is known by: the article, or the book's config.yaml."""
    slug = ZENN.slug_for(config)
    if config.zenn.format == "book":
        return layout.zenn / "books" / slug / "config.yaml"
    return layout.zenn / "articles" / f"{slug}.md"


def zenn_images(config: Config, layout: Layout) -> Path:
    """images/<slug>/ in the zenn-cli root: the figures of the article or book (linked as /images/<slug>/)."""
    return layout.zenn / "images" / ZENN.slug_for(config)


def zenn_targets(config: Config, layout: Layout) -> list[Path]:
    """What the Zenn export writes (for the ownership checks and the manifest)."""
    entry = zenn_entry(config, layout)
    return [entry.parent if config.zenn.format == "book" else entry, zenn_images(config, layout)]


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
                          [c.title for c in rendered.context.chapters] if rendered.context else None)
    text = book_config(config, [c.slug for c in chapters], _top_level(_read(target / "config.yaml")))
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


#: the setting that fixes each field the Zenn export may derive (a title from the first H1, topics from
#: the tags, the slug from article.slug), by the word a problem with it starts with
_SETTINGS = {"slug": "tool.pipeline.zenn.slug", "topics": "tool.pipeline.zenn.topics",
             "title": "tool.pipeline.article.title", "emoji": "tool.pipeline.zenn.emoji"}


def with_setting(problem: str) -> str:
    """*problem* (about the article's or book's own front matter or slug) with the setting that fixes
    it, named even where the user never wrote one: the value may be derived."""
    field = re.match(r"(?:front matter: |config\.yaml: )?(?:\d+ )?(\w+)", problem)
    setting = _SETTINGS.get(field.group(1)) if field else None
    return f"{problem} (set {setting})" if setting else problem


def split_book(markdown: str, records: list[ExperimentRecord], titles: list[str] | None = None) -> list[BookChapter]:
    """The rendered Zenn article cut at its chapters (the level-2 headings "N. Title", or the chapter's
    own numbered title from *titles*, as ``anchors.chapter_starts`` finds them): one chapter per experiment, the preamble in the first,
    the closing sections (the first level-2 heading after the last chapter on) in the last."""
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
    parts: list[tuple[str, list[int]]] = []  # each chapter's body, and the article's headings in it
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
        parts.append((tidy_blank_lines("\n\n".join(p.strip("\n") for p in pieces if p.strip())).strip("\n") + "\n",
                      indexes))
        slugs.append(_chapter_slug(records[k].name, k + 1, slugs))
    bodies = _relink([p[0] for p in parts], [p[1] for p in parts], starts, slugs, anchors(found, "zenn"))
    return [BookChapter(k + 1, slugs[k], clean_text(records[k].title) or clean_text(records[k].name), records[k].source,
                        body)
            for k, body in enumerate(bodies)]


def _promoted(markdown: str) -> str:
    """The chapter's headings one level up (### becomes ##): the chapter title is the page's."""
    for number, level, _ in reversed(headings(markdown)):
        if level > 2:
            markdown = set_heading_level(markdown, number, level - 1)
    return markdown


def _relink(bodies: list[str], indexes: list[list[int]], starts: list[int], slugs: list[str],
            ids: list[str]) -> list[str]:
    """Links to headings (``#anchor``, as ``resolve_refs`` wrote them for the whole article) pointed
    at the anchor in the chapter that holds the heading now: ``#anchor`` there, ``<chapter>#anchor``
    from another chapter."""
    def encoded(anchor: str) -> str:
        return re.sub(r"[\s()<>]", lambda m: quote(m.group()), anchor)

    where: dict[str, tuple[int, str]] = {}
    for k, start in enumerate(starts):
        if ids[start]:
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


def book_config(config: Config, chapters: list[str], kept: dict[str, str]) -> str:
    """config.yaml: title, summary, topics, price and chapters from the config; ``published`` and
    any other key already in the file are kept as written."""
    zenn = config.zenn
    values = {
        "title": quoted(config.article.title),
        "summary": quoted(zenn.summary),
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


# ---------------------------------------------------------------------------
# Images: Zenn's size limits
# ---------------------------------------------------------------------------

def fit_images(figures: tuple[FigureView, ...], folder: Path, progress: Progress) -> None:
    """The figure copies in the staged Zenn *folder* within Zenn's limits: a figure over 3 MB is
    downscaled there (a warning says from what to what); one that cannot fit is an ExportError."""
    for figure in figures:
        path = folder / Path(figure.file).relative_to("figures")
        kind = ZENN.image_problems(figure.file, 0)
        if kind:  # a type Zenn does not show: the figure stays, the reader sees a broken image
            progress.warn(f"Zenn export: {kind[0]}")
            continue
        message = fit_image(path, ZENN.image_bytes, figure.file)
        if message:
            progress.warn(f"Zenn export: {message}")


def fit_image(path: Path, limit: int, name: str) -> str | None:
    """Downscale the image at *path* (a copy only the Zenn export uses), keeping its type and
    aspect ratio, until it has at most *limit* bytes. Returns what was done (None when it fit);
    ExportError, naming *name*, when it cannot be read or made small enough."""
    size = path.stat().st_size
    if size <= limit:
        return None
    from PIL import Image, ImageSequence

    fix = f"save it smaller (fewer pixels, a lower dpi, or JPEG for photographs) to fit Zenn's {_size(limit)}"
    try:
        with Image.open(path) as image:
            kind, width, height, info = image.format, image.width, image.height, dict(image.info)
            frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ExportError(f"{name} is {_size(size)}, over Zenn's {_size(limit)}, and cannot be read as an image to "
                          f"downscale it ({exc}); {fix}") from None
    if kind not in _SCALABLE:
        raise ExportError(f"{name} is {_size(size)}, over Zenn's {_size(limit)}, in a format ({kind}) the export "
                          f"cannot downscale; {fix}")
    scale, data, new = 0.97 * (limit / size) ** 0.5, b"", (width, height)
    while min(new) > 16:
        new = (max(1, round(width * scale)), max(1, round(height * scale)))
        data = _encoded(frames, new, kind, info)
        if len(data) <= limit:
            path.write_bytes(data)
            return (f"{name} is {_size(size)} ({width}x{height}), over Zenn's {_size(limit)}: the Zenn copy is "
                    f"downscaled to {new[0]}x{new[1]} ({_size(len(data))}); the other exports keep the original")
        scale *= min(0.9, 0.97 * (limit / len(data)) ** 0.5)
    raise ExportError(f"{name} is {_size(size)} ({width}x{height}), over Zenn's {_size(limit)}, and still "
                      f"{_size(len(data))} downscaled to {new[0]}x{new[1]}; {fix}")


def _encoded(frames: list, size: tuple[int, int], kind: str, info: dict) -> bytes:
    from PIL import Image

    resized = []
    for frame in frames:
        if frame.mode not in ("L", "LA", "RGB", "RGBA"):
            frame = frame.convert("RGBA")
        if kind == "JPEG" and frame.mode in ("LA", "RGBA"):
            frame = frame.convert("RGB")
        resized.append(frame.resize(size, Image.Resampling.LANCZOS))
    options = dict(_SCALABLE[kind])
    if len(resized) > 1:  # an animation keeps its frames and timing
        options.update(save_all=True, append_images=resized[1:], duration=info.get("duration", 100),
                       loop=info.get("loop", 0))
    out = io.BytesIO()
    resized[0].save(out, format=kind, **options)
    return out.getvalue()


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


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:,.0f} KB"


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
