"""What only Zenn needs, on sanitized Markdown: Zenn escapes raw HTML (only ``<br>`` passes) and
shows no SVG image.

- ``html_for_zenn``: sanitized tags become Markdown where they can (an image, a link) and are
  dropped, keeping their text, where they cannot;
- ``badges_for_zenn``: remote SVG images (shields.io and Colab badges, any ``.svg``) become plain
  links with their alt text; a badge that was already a link keeps its target.

Code (fences and code spans) is left alone by both.
"""

from __future__ import annotations

import html
import re
from typing import Callable
from urllib.parse import urlparse

from pipeline.markdown.sanitize import ALLOWED_TAGS
from pipeline.markdown.scanner import escape_inline, fence_for, scan
from pipeline.markdown.urls import OPEN_TAG, TAG_ATTRS, destination, encode_url, is_safe_url

#: hosts that serve status badges as SVG (their URLs often have no .svg ending)
BADGE_HOSTS = ("img.shields.io", "badge.fury.io", "badgen.net", "mybinder.org", "codecov.io", "app.codecov.io",
               "readthedocs.org", "travis-ci.org", "travis-ci.com", "circleci.com", "zenodo.org", "pepy.tech",
               "static.pepy.tech", "deepnote.com", "kaggle.com", "studiolab.sagemaker.aws", "hits.seeyoufarm.com")
_CODE_SPAN = re.compile(r"((`+)(?!`).+?(?<!`)\2(?!`))")
_DEST = r"(<[^<>\n]*>|[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)"
_IMAGE = r"!\[((?:\\.|[^\[\]\\])*)\]\(\s*" + _DEST + r"(?:\s+(?:\"[^\"]*\"|'[^']*'|=\d*x\d*))*\s*\)"
_LINKED_BADGE = re.compile(r"\[\s*" + _IMAGE + r"\s*\]\(\s*" + _DEST + r"(\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_BADGE = re.compile(_IMAGE)
_PRE = re.compile(r"([ \t]*)<pre(?:\s[^<>]*)?>(.*)$", re.I)
_LINK_OPEN = re.compile(r"<a[\s>]", re.I)
_LINK_CLOSE = re.compile(r"</a\s*>", re.I)


def _outside_code(markdown: str, change: Callable[[str], str]) -> str:
    out = []
    for line in scan(markdown):
        if line.code:
            out.append(line.text)
            continue
        pieces = _CODE_SPAN.split(line.text)  # [text, span, ticks, text, span, ticks, ...]
        out.append("".join(change(piece) if i % 3 == 0 else piece for i, piece in enumerate(pieces) if i % 3 != 2))
    return "\n".join(out)


def html_for_zenn(markdown: str) -> str:
    """Sanitized HTML as Zenn can show it: ``<img>`` becomes an image (its alt text escaped, its
    address encoded, its pixel width as Zenn's ``=250x``), ``<a href>`` on one line a link, ``<br>``
    stays, and other allowed tags are dropped, keeping their text."""

    def attributes(tag: str) -> dict[str, str]:
        return {k.lower(): html.unescape(v.strip("\"'")) for k, v in TAG_ATTRS.findall(tag)}

    def image(match: re.Match) -> str:
        name = match.group(1).lower()
        if name == "br":
            return match.group()
        if name != "img":
            return match.group() if name == "a" else ""
        found = attributes(match.group(2))
        alt, src = escape_inline(found.get("alt", "")), found.get("src", "")
        if not (src and is_safe_url(src, image=True)):
            return alt
        link = destination(encode_url(src))
        width = re.fullmatch(r"\s*(\d{1,4})(?:px)?\s*", found.get("width", ""))
        return f"![{alt}]({link}{f' ={width.group(1)}x' if width and not link.startswith('<') else ''})"

    def link(match: re.Match) -> str:
        href = attributes(match.group(1) or "").get("href", "")
        text = match.group(2)
        if not (href and is_safe_url(href)) or not text.strip():
            return text
        return f"[{text}]({destination(encode_url(href))})"

    def change(text: str) -> str:
        if "<" not in text:
            return text
        text = OPEN_TAG.sub(image, text)
        text = re.sub(r"<a(\s[^<>]*)?>((?:(?!</?a[\s>]).)*)</a\s*>", link, text, flags=re.I)
        return re.sub(r"</?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>",
                      lambda m: "" if m.group(1).lower() in ALLOWED_TAGS and m.group(1).lower() != "br" else m.group(),
                      text)

    return _outside_code(_links_on_one_line(_pre_as_fences(markdown)), change)


def _pre_as_fences(markdown: str) -> str:
    """Each ``<pre>`` block that starts a line as a fence holding its text (tags dropped, entities
    read): on Zenn it would be a paragraph, its spaces collapsed and its backticks paired."""
    lines, out, k = scan(markdown), [], 0
    while k < len(lines):
        opening = None if lines[k].code or lines[k].math else _PRE.match(lines[k].text)
        if not opening:
            out.append(lines[k].text)
            k += 1
            continue
        indent, rows, rest = opening.group(1), [], opening.group(2)
        while "</pre" not in rest.lower() and k + 1 < len(lines):
            rows.append(rest)
            k += 1
            rest = lines[k].text
        end = rest.lower().find("</pre")
        rows.append(rest[:end] if end >= 0 else rest)
        text = html.unescape(re.sub(r"<[^<>]*>", "", "\n".join(rows))).strip("\n")
        fence = fence_for(text)
        out += [indent + fence + "text", *(indent + row for row in text.split("\n")), indent + fence]
        after = rest[end:].split(">", 1)[1].strip() if end >= 0 and ">" in rest[end:] else ""
        out += [indent + after] if after else []
        k += 1
    return "\n".join(out)


def _links_on_one_line(markdown: str) -> str:
    """A link (``<a href>``) over several lines of one paragraph (Colab's badge as notebooks paste
    it), joined onto one line, so that ``html_for_zenn`` makes it one link; an ``<a>`` the paragraph
    does not close joins nothing."""
    lines, out, k = scan(markdown), [], 0
    while k < len(lines):
        text, end = lines[k].text, k
        if not (lines[k].code or lines[k].math) and _LINK_OPEN.search(text):
            depth = 0
            while True:
                row = lines[end].text
                depth += len(_LINK_OPEN.findall(row)) - len(_LINK_CLOSE.findall(row))
                if depth <= 0 or end + 1 >= len(lines) or lines[end + 1].code or lines[end + 1].math \
                        or not lines[end + 1].text.strip():
                    break
                end += 1
            if depth > 0 or "href=" not in text:
                end = k  # not closed in its paragraph, or no link: left as it is
        out.append(" ".join([text.rstrip()] + [line.text.strip() for line in lines[k + 1:end + 1]]) if end > k else text)
        k = end + 1
    return "\n".join(out)


def is_badge(url: str) -> bool:
    """A remote image Zenn does not show: an SVG file, or an image from a badge service."""
    parts = urlparse(url.strip("<>"))
    if parts.scheme not in ("http", "https"):
        return False
    host = (parts.hostname or "").lower()
    return parts.path.lower().endswith(".svg") or host in BADGE_HOSTS or host.endswith(".shields.io")


def badges_for_zenn(markdown: str) -> tuple[str, list[str]]:
    """Remote SVG images as links with their alt text (``[alt](target)``, the badge's own link when
    it had one, else the image's address), and the addresses of the images so replaced."""
    found: list[str] = []

    def linked(match: re.Match) -> str:
        if not is_badge(match.group(2)):
            return match.group()
        found.append(match.group(2).strip("<>"))
        return f"[{match.group(1).strip() or _host(match.group(2))}]({match.group(3)}{match.group(4) or ''})"

    def bare(match: re.Match) -> str:
        if not is_badge(match.group(2)):
            return match.group()
        found.append(match.group(2).strip("<>"))
        return f"[{match.group(1).strip() or _host(match.group(2))}]({match.group(2)})"

    text = _outside_code(markdown, lambda piece: _BADGE.sub(bare, _LINKED_BADGE.sub(linked, piece)))
    return text, found


def _host(url: str) -> str:
    return escape_inline(urlparse(url.strip("<>")).hostname or "badge")
