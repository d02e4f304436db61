"""Boxes in the author's Markdown: Jupyter's alert divs, GitHub's alerts and ``<details>`` blocks
become each dialect's own box, with the Markdown inside rendered, not shown with its asterisks.

``sanitize_boxes`` takes the place of ``sanitize_markdown`` for author Markdown. ``split``
finds the boxes in the raw text with the fence-aware scanner (nothing inside a code fence is
touched), then every part, a box's content included, is sanitized on its own: each comes out
self-contained (fences, ``$$`` blocks and tags closed, ``:::``/``!!!``/``???`` lines escaped), so
nothing in a box's content can end the box early or reach past it. The box lines are written
afterwards, by this module, and are the only structure lines in the result.

What becomes what (source: Qiita / Zenn / MkDocs). GitHub's NOTE, TIP and IMPORTANT read as
information, WARNING as a warning, CAUTION as danger; Zenn has only two kinds of message:

- ``<div class="alert alert-info">``: ``:::note info`` / ``:::message`` / ``!!! note``
- ``alert-success``: ``:::note info`` / ``:::message`` / ``!!! success``
- ``alert-warning``: ``:::note warn`` / ``:::message`` / ``!!! warning``
- ``alert-danger``: ``:::note alert`` / ``:::message alert`` / ``!!! danger``
- ``> [!NOTE]``, ``[!TIP]``, ``[!IMPORTANT]``: ``:::note info`` / ``:::message`` / ``!!! note``, ``tip``, ``info``
- ``> [!WARNING]``: ``:::note warn`` / ``:::message`` / ``!!! warning``
- ``> [!CAUTION]``: ``:::note alert`` / ``:::message alert`` / ``!!! danger``
- ``<details><summary>T</summary>``: ``<details>`` with blank lines / ``:::details T`` / ``??? note "T"``

The markup mirrors the ``note`` and ``details`` macros of templates/<dialect>/blocks.md.j2
(an admonition without a title bar: ``!!! note ""``). Boxes are not nested: an alert inside a
box stays an ordinary (sanitized) HTML block or blockquote. Other block-level HTML (``div``,
``details``, ``blockquote``, ``section``) gets its tags on lines of their own with blank lines
around them, so CommonMark (Qiita) parses the Markdown between them, and MkDocs gets
``markdown="1"`` on them (the md_in_html extension in mkdocs.yml) for the same reason.
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass

from pipeline.markdown.sanitize import sanitize_markdown
from pipeline.markdown.scanner import Line, escape_inline, scan, visible_controls
from pipeline.markdown.urls import TAG_ATTRS

#: a box's neutral kind -> (Qiita note kind, Zenn message kind, MkDocs admonition type)
KINDS = {
    "info": ("info", "", "note"), "success": ("info", "", "success"),
    "warning": ("warn", "", "warning"), "danger": ("alert", "alert", "danger"),
    "note": ("info", "", "note"), "tip": ("info", "", "tip"), "important": ("info", "", "info"),
    "caution": ("alert", "alert", "danger"),
}
_DIALECTS = ("qiita", "zenn", "mkdocs")

_DIV = re.compile(r" {0,3}<div((?:\s[^<>]*)?)>", re.I)
_ALERT_CLASS = re.compile(r"alert-(info|warning|danger|success)", re.I)
_GITHUB = re.compile(r" {0,3}> ?\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\][ \t]*", re.I)
_QUOTED = re.compile(r" {0,3}> ?")
_DETAILS = re.compile(r" {0,3}<details((?:\s[^<>]*)?)>", re.I)
_SUMMARY = re.compile(r"\s*<summary(?:\s[^<>]*)?>(.*?)</summary\s*>", re.I | re.S)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)")
#: block-level tags whose Markdown content needs them on lines of their own
_BLOCK_TAG = re.compile(r"</?(?:div|details|blockquote|section)(?:\s[^<>]*)?>|<summary(?:\s[^<>]*)?>.*?</summary\s*>",
                        re.I)


@dataclass(frozen=True)
class Part:
    """A piece of the author's text: plain Markdown, a box (``kind`` from ``KINDS``) or a
    details block (``kind`` "details", with its summary as plain text)."""

    text: str
    kind: str = ""
    summary: str = ""
    open: bool = False

    def __repr__(self) -> str:
        return f"Part({self.kind or 'text'}, lines={self.text.count(chr(10)) + 1})"


def _class_of(attributes: str) -> str:
    for key, value in TAG_ATTRS.findall(attributes):
        if key.lower() == "class":
            return html.unescape(value.strip("\"'"))
    return ""


def _closing(lines: list[Line], index: int, column: int, tag: str) -> tuple[int, int, int] | None:
    """(line index, start, end) of the tag that closes the ``<tag>`` opened before *column* on
    line *index*, counting nested ones; code lines and code spans are skipped."""
    depth = 1
    token = re.compile(rf"<(/?){tag}(?=[\s>])[^<>]*>", re.I)
    for i in range(index, len(lines)):
        if lines[i].code or lines[i].math:
            continue
        text = lines[i].text
        masked = _CODE_SPAN.sub(lambda m: " " * len(m.group()), text)
        for match in token.finditer(masked, column if i == index else 0):
            depth += -1 if match.group(1) else 1
            if depth == 0:
                return i, match.start(), match.end()
    return None


def _html_box(lines: list[Line], i: int, opening: re.Match, tag: str) -> tuple[str, int, str]:
    """The content of the element opened on line *i*, the index of the line after it, and what
    follows its closing tag on that line."""
    end = _closing(lines, i, opening.end(), tag)
    if end is None:  # never closed: the rest of the text is its content (the sanitizer closes what it opens)
        return "\n".join([lines[i].text[opening.end():]] + [line.text for line in lines[i + 1:]]), len(lines), ""
    last, start, stop = end
    if last == i:
        return lines[i].text[opening.end():start], i + 1, lines[i].text[stop:]
    content = [lines[i].text[opening.end():]] + [line.text for line in lines[i + 1:last]] + [lines[last].text[:start]]
    return "\n".join(content), last + 1, lines[last].text[stop:]


def split(markdown: str) -> list[Part]:
    """The text cut into plain parts, boxes and details blocks (found outside code only)."""
    lines = scan(markdown)
    parts: list[Part] = []
    plain: list[str] = []
    i = 0

    def flush() -> None:
        if "\n".join(plain).strip():
            parts.append(Part("\n".join(plain)))
        plain.clear()

    while i < len(lines):
        line = lines[i]
        if line.code or line.math:
            plain.append(line.text)
            i += 1
            continue
        div, details = _DIV.match(line.text), _DETAILS.match(line.text)
        alert = _ALERT_CLASS.search(_class_of(div.group(1))) if div else None
        github = _GITHUB.fullmatch(line.text)
        if github and not (i and _QUOTED.match(lines[i - 1].text) and not lines[i - 1].code):
            j = i + 1
            while j < len(lines) and _QUOTED.match(lines[j].text):
                j += 1
            flush()
            body = "\n".join(_QUOTED.sub("", line.text, count=1) for line in lines[i + 1:j])
            parts.append(Part(body, github.group(1).lower()))
            i = j
        elif alert or details:
            opening = div if alert else details
            content, i, rest = _html_box(lines, i, opening, "div" if alert else "details")
            flush()
            if alert:
                parts.append(Part(textwrap.dedent(content), alert.group(1).lower()))
            else:
                summary = _SUMMARY.match(content)
                title = html.unescape(re.sub(r"<[^>]*>", "", summary.group(1))) if summary else ""
                body = content[summary.end():] if summary else content
                is_open = any(key.lower() == "open" for key, _ in TAG_ATTRS.findall(details.group(1)))
                parts.append(Part(textwrap.dedent(body), "details", " ".join(visible_controls(title).split()) or "Details", is_open))
            if rest.strip():
                plain.append(rest.strip())
        else:
            plain.append(line.text)
            i += 1
    flush()
    return parts


def html_apart(markdown: str, dialect: str) -> str:
    """Block-level HTML tags (div, details, blockquote, section) on lines of their own, with a
    blank line before and after, so the Markdown between them is parsed (Qiita needs the blank
    lines; MkDocs also needs ``markdown="1"``, which md_in_html reads). Only lines outside code
    that start with such a tag (up to three spaces in) are touched."""
    out: list[str] = []

    def blank() -> None:
        if out and out[-1].strip():
            out.append("")

    for line in scan(markdown):
        if line.code or line.math or not re.match(r" {0,3}" + _BLOCK_TAG.pattern, line.text, re.I):
            out.append(line.text)
            continue
        pieces = re.split(r"((?:\s*(?:" + _BLOCK_TAG.pattern + r"))+)", line.text.strip(), flags=re.I)
        for k, piece in enumerate(pieces):
            piece = piece.strip()
            if not piece:
                continue
            if k % 2 and dialect == "mkdocs":
                piece = re.sub(r"<(div|details|blockquote|section)(?=[\s>])", r'<\1 markdown="1"', piece, flags=re.I)
            blank()
            out.append(piece)
        blank()
    return "\n".join(out)


def _lines_apart(text: str) -> str:
    return re.sub(r"^(?:[ \t]*\n)+|(?:\n[ \t]*)+$", "", text)


def _box(part: Part, body: str, dialect: str) -> str:
    qiita, zenn, mkdocs = KINDS[part.kind]
    if dialect == "qiita":  # after raw HTML the closing ::: needs a blank line, or it stays inside the HTML block
        return f":::note {qiita}\n{body}\n" + ("\n" if body.endswith(">") else "") + ":::"
    if dialect == "zenn":
        return f":::message{' ' + zenn if zenn else ''}\n{body}\n:::"
    return f'!!! {mkdocs} ""\n\n' + textwrap.indent(body, "    ")


def _details(part: Part, body: str, dialect: str) -> str:
    if dialect == "qiita":
        summary = html.escape(part.summary, quote=False)
        return f"<details{' open' if part.open else ''}><summary>{summary}</summary>\n\n{body}\n\n</details>"
    if dialect == "zenn":
        return f":::details {part.summary}\n\n{body}\n\n:::"  # Zenn shows the title as plain text
    title = escape_inline(part.summary).replace('"', "'")
    return f'???{"+" if part.open else ""} note "{title}"\n\n' + textwrap.indent(body, "    ")


def sanitize_boxes(markdown: str, dialect: str) -> str:
    """``sanitize_markdown`` for the author's Markdown in *dialect* ("qiita", "zenn" or
    "mkdocs"), with its boxes written as the dialect's own (see the module docstring)."""
    if dialect not in _DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {', '.join(_DIALECTS)}")
    parts = split(markdown)
    if len(parts) == 1 and not parts[0].kind:
        return html_apart(sanitize_markdown(markdown), dialect)
    out = []
    for part in parts:
        body = _lines_apart(html_apart(sanitize_markdown(_lines_apart(part.text)), dialect))
        if not part.kind:
            out.append(body)
        elif part.kind == "details":
            out.append(_details(part, body, dialect))
        elif body.strip():
            out.append(_box(part, body, dialect))
    return "\n\n".join(piece for piece in out if piece.strip())
