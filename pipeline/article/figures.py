"""Figures the harvester writes: images a cell output (``output_image``), images the author's
Markdown shows (``author_images``: relative files in the project and cell attachments), each
checked (its bytes are what its type says, an SVG is made safe) and written into the
notebook's figures folder, an SVG with a PNG drawing beside it (``write_figure``)."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from pipeline.errors import HarvestError
from pipeline.records import Experiment, ImageOutput

IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
               "image/svg+xml": "svg"}
_MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",), "gif": (b"GIF87a", b"GIF89a"), "webp": (b"RIFF",)}
AUTHOR_IMAGE_TYPES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".gif": "gif", ".webp": "webp", ".svg": "svg"}


def output_image(raw, mime: str, cell, index: int, number: int, name: str, figures: Path, where: str) -> ImageOutput | None:
    """An image a cell output (*number* in the cell), written as ``NAME-cellNN-N.ext``."""
    filename = f"{name}-cell{index + 1:02d}-{number}.{IMAGE_TYPES[mime]}"
    write_figure(figures / filename, decode(raw, mime, f"{where}, image {number}"), f"{where}, image {number}")
    return ImageOutput(path=f"figures/{name}/{filename}", mime=mime, alt=_alt(cell, number))


def author_images(cell, index: int, experiment: Experiment, root: Path, figures: Path, where: str,
                  warnings: list[str]) -> dict[str, str]:
    """Copy the images a markdown cell shows (relative files next to the notebook, inside the project
    folder *root*, and the cell's own attachments) into the figures folder; returns {reference as
    written: path under build/}."""
    from urllib.parse import unquote, urlparse

    from pipeline.markdown.sanitize import sanitize_markdown
    from pipeline.markdown.urls import rewrite_urls

    found: dict[str, str] = {}
    attachments = cell.get("attachments") or {}

    def seen(kind: str, url: str) -> str:
        if kind != "image" or url in found:
            return url
        parts = urlparse(url)
        if parts.scheme == "attachment":
            name = unquote(parts.path)
            bundle = attachments.get(name) or {}
            mime = next((m for m in IMAGE_TYPES if m in bundle), None)
            if mime is None:
                warnings.append(f"{where}: attachment {name!r} is not in the cell (or not an image); it is shown as its alt text")
                return url
            target = f"attachments/cell{index + 1:02d}-{_safe_name(name)}"
            data = decode(bundle[mime], mime, f"{where}: attachment {name!r}")
        elif parts.scheme or url.startswith(("/", "#")) or not parts.path:
            return url
        else:
            source = (experiment.path.parent / unquote(parts.path)).resolve()
            ext = AUTHOR_IMAGE_TYPES.get(source.suffix.lower())
            try:
                relative = source.relative_to(root)
            except ValueError:
                warnings.append(f"{where}: image {url!r} lies outside the project; it is shown as its alt text")
                return url
            if ext is None or not source.is_file():
                warnings.append(f"{where}: image {url!r} not found (looked for {relative}); it is shown as its alt text")
                return url
            target = _author_target(relative, experiment.name)
            data = source.read_bytes()
            if ext == "svg":
                from pipeline.markdown.svg import sanitize_svg

                data = sanitize_svg(data)
                if data is None:
                    warnings.append(f"{where}: SVG image {url!r} cannot be made safe; it is shown as its alt text")
                    return url
        destination = figures / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        write_figure(destination, data, f"{where}: image {url!r}")
        found[url] = f"figures/{experiment.name}/{target}"
        return url

    rewrite_urls(sanitize_markdown(cell.source), seen)  # as the renderer will see the URLs
    return found


def _author_target(relative: Path, name: str) -> str:
    """Where an author's image goes in the notebook's figures folder: its path in the project
    (``images/flow.png``, ``experiments/images/flow.png``), each folder once. A path that could be
    one of ours (``attachments/...``, an output figure ``NAME-cellNN-N.png``) goes under ``_/``,
    which no project path becomes (``_safe_name`` strips a leading ``_``)."""
    target = "/".join(_safe_name(p) for p in relative.parts)
    if target.startswith("attachments/") or "/" not in target and target.startswith(f"{name}-cell"):
        target = "_/" + target
    return target


def write_figure(path: Path, data: bytes, where: str) -> None:
    """Write a figure file; an SVG also gets a PNG drawing beside it (``x.svg`` -> ``x.svg.png``),
    which the platforms that do not show SVG link instead (``chapters.shown_file``)."""
    path.write_bytes(data)
    if path.suffix.lower() == ".svg":
        from pipeline.markdown.svg import png_drawing, svg_to_png

        try:
            png = svg_to_png(data)
        except ValueError as exc:
            raise HarvestError(f"{where}: {exc}; Zenn and Qiita need a PNG of it: save the figure as PNG") from None
        path.with_name(png_drawing(path.name)).write_bytes(png)


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "image"


def decode(raw, mime: str, where: str) -> bytes:
    if mime == "image/svg+xml":
        from pipeline.markdown.svg import sanitize_svg

        data = sanitize_svg(bundle_text(raw).encode("utf-8"))
        if data is None:
            raise HarvestError(f"{where}: SVG image cannot be made safe (it does not parse, or declares entities); "
                               "save the figure as PNG instead")
        return data
    try:
        data = base64.b64decode(re.sub(r"\s+", "", bundle_text(raw)), validate=True)
    except (binascii.Error, ValueError):
        raise HarvestError(f"{where}: image ({mime}) is not valid base64; re-run the cell, "
                           "or clear its output if it came from another tool") from None
    if not data.startswith(_MAGIC[IMAGE_TYPES[mime]]):
        raise HarvestError(f"{where}: image claims to be {mime} but its bytes are not; re-run the cell, or clear its output")
    return data


def _alt(cell, number: int) -> str:
    """The author's alt text for the figure (``alt="..."`` on the cell, or a list for several), else ""."""
    alt = cell.metadata.get("alt")
    if isinstance(alt, list) and alt:
        alt = alt[min(number, len(alt)) - 1]
    return alt.strip() if isinstance(alt, str) else ""


def bundle_text(value) -> str:
    """A MIME bundle's value as text (nbformat keeps multi-line text as a list of lines)."""
    return "".join(str(v) for v in value) if isinstance(value, list) else str(value)
