"""The Zenn export (called by ``export``): where it writes, its article, and Zenn's limits on images.

- ``zenn_paths`` (``zenn_entry``): in the zenn-cli root, ``articles/<slug>.md`` with
  ``format = "article"``, the folder ``books/<slug>/`` (known by its ``config.yaml``) with
  ``format = "book"`` (``pipeline.publish.zenn_book``); ``images/<slug>/`` either way.
- ``export_article``: the article with zenn-cli's front matter (``zenn_front_matter``); ``published``,
  ``published_at`` and ``publication_name`` already in the file are kept, so a build never
  unpublishes an article.
- ``fit_images``: a figure over Zenn's 3 MB (a cover over 1 MB) is downscaled, its aspect ratio
  kept, in the Zenn folder only: build/figures and the other exports keep the original.
- ``with_setting``: a refusal about a value the export derives names the setting that fixes it.
- ``hosted_links``: figures linked under the names their copies got in ``images/<slug>/``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.article.context import FigureView
from pipeline.article.render import RenderedArticle
from pipeline.config import ArticleConfig, Config, ZennConfig
from pipeline.errors import ExportError
from pipeline.layout import Layout, owner_mark
from pipeline.markdown.platforms import ZENN
from pipeline.progress import Progress
from pipeline.publish.frontmatter import front_matter, front_problems, read_front_matter
from pipeline.storage import Publication
from pipeline.text import quoted

#: Zenn's front matter, in zenn-cli's order; the last three are kept from an existing file
ZENN_KEYS = ("title", "emoji", "type", "topics", "published", "published_at", "publication_name")
#: formats Pillow writes back in the same type (the types Zenn shows)
_SCALABLE = {"PNG": {"optimize": True}, "JPEG": {"quality": 85, "optimize": True}, "WEBP": {"quality": 85}, "GIF": {}}


@dataclass(frozen=True)
class ZennPaths:
    """Where the Zenn export writes, in the zenn-cli root."""

    #: the file the export is known by: articles/<slug>.md, or the book's books/<slug>/config.yaml
    entry: Path
    #: images/<slug>/: the figures of the article or book (linked as /images/<slug>/)
    images: Path
    #: what it writes (the ownership checks, the manifest): the article or the book's folder, and images/
    targets: tuple[Path, ...]


def zenn_paths(zenn: ZennConfig, article: ArticleConfig, layout: Layout) -> ZennPaths:
    """From the config's Zenn and article tables (the slug is resolved once: ``article.title.titled``)."""
    slug = zenn.slug or ZENN.slug_for(zenn, article)
    book = zenn.format == "book"
    entry = layout.zenn / "books" / slug / "config.yaml" if book else layout.zenn / "articles" / f"{slug}.md"
    images = layout.zenn / "images" / slug
    return ZennPaths(entry, images, (entry.parent if book else entry, images))


def zenn_entry(config: Config, layout: Layout) -> Path:
    """The file the Zenn export is known by: the article, or the book's config.yaml."""
    return zenn_paths(config.zenn, config.article, layout).entry


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


def export_article(zenn: RenderedArticle, config: Config, progress: Progress, publication: Publication, layout: Layout,
                   target: Path) -> None:
    """Stage the Zenn article at *target*; ExportError (nothing staged) where zenn-cli or Zenn would refuse it."""
    front = zenn_front_matter(config, existing=target)
    refused = ZENN.article_problems(zenn.markdown) + [
        with_setting(p) for p in front_problems(ZENN, front) + ZENN.slug_problems(config.zenn.slug)]
    if refused:  # zenn-cli or Zenn would refuse the article: an error, never a silent export
        raise ExportError("the Zenn article breaks Zenn's limits, so it was not published (the last good one "
                          "stays):\n" + "\n".join(f"  - {p}" for p in refused)
                          + "\n(or set enabled = false under [tool.pipeline.zenn] to skip the Zenn export)")
    for problem in ZENN.check(zenn.markdown) + ZENN.topic_warnings(config.zenn.topics):
        progress.warn(f"Zenn export: {problem}")
    publication.write(target, front + owner_mark(target, layout) + "\n" + zenn.markdown)


def hosted_links(markdown: str, figures: tuple[FigureView, ...], places: dict[str, Path]) -> str:
    """*markdown* (the Zenn article, or a part of it) with each of *figures* linked under the name its
    copy got in images/<slug>/ (*places*: build/ file -> its copy)."""
    for figure in figures:
        place = places.get(figure.file)
        old = Path(figure.file).name
        if place is None or place.name == old or not figure.src.endswith(Path(old).suffix):
            continue
        suffix = Path(old).suffix
        new = figure.src[:len(figure.src) - len(suffix)] + place.name[len(Path(old).stem):]
        markdown = markdown.replace(f"]({figure.src})", f"]({new})")
    return markdown


def zenn_front_matter(config: Config, existing: Path | None = None) -> str:
    """YAML front matter for zenn-cli. Title, emoji, type and topics come from the config;
    published, published_at and publication_name already in the file are kept."""
    zenn = config.zenn
    kept = read_front_matter(existing) if existing and existing.is_file() else {}
    values = {
        "title": quoted(config.article.title),
        "emoji": quoted(zenn.emoji),
        "type": quoted(zenn.type),
        "topics": "[" + ", ".join(quoted(t) for t in config.zenn.topics) + "]",
        "published": "true" if zenn.published else "false",
        "publication_name": quoted(zenn.publication_name) if zenn.publication_name else None,
    }
    for key in ("published", "published_at", "publication_name"):
        if key in kept:
            values[key] = kept[key]
    return front_matter((key, values[key]) for key in ZENN_KEYS if values.get(key) is not None)


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

    fix = f"save it smaller (fewer pixels, a lower dpi, or JPEG for photographs) to fit Zenn's {size_text(limit)}"
    try:
        with Image.open(path) as image:
            kind, width, height, info = image.format, image.width, image.height, dict(image.info)
            frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ExportError(f"{name} is {size_text(size)}, over Zenn's {size_text(limit)}, and cannot be read as an image to "
                          f"downscale it ({exc}); {fix}") from None
    if kind not in _SCALABLE:
        raise ExportError(f"{name} is {size_text(size)}, over Zenn's {size_text(limit)}, in a format ({kind}) the export "
                          f"cannot downscale; {fix}")
    scale, data, new = 0.97 * (limit / size) ** 0.5, b"", (width, height)
    while min(new) > 16:
        new = (max(1, round(width * scale)), max(1, round(height * scale)))
        data = _encoded(frames, new, kind, info)
        if len(data) <= limit:
            path.write_bytes(data)
            return (f"{name} is {size_text(size)} ({width}x{height}), over Zenn's {size_text(limit)}: the Zenn copy is "
                    f"downscaled to {new[0]}x{new[1]} ({size_text(len(data))}); the other exports keep the original")
        scale *= min(0.9, 0.97 * (limit / len(data)) ** 0.5)
    raise ExportError(f"{name} is {size_text(size)} ({width}x{height}), over Zenn's {size_text(limit)}, and still "
                      f"{size_text(len(data))} downscaled to {new[0]}x{new[1]}; {fix}")


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


def size_text(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:,.0f} KB"


