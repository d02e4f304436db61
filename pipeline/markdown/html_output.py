"""An output's HTML (``display(HTML(...))``, a styled table) made ready for the article: the
elements that cannot be shown (scripts, styles, embedded pages and drawings) go with their
content, tags the article never keeps are dropped with their text kept, and text is written so
that no renderer reads Markdown or math into it. The result is still untrusted: it goes through
``pipeline.markdown.sanitize`` like any other output Markdown, whose allow-list decides what stays.

``html_markdown`` also gives the text a reader sees (for the fact check), and "" for both where
nothing would show.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from pipeline.markdown.sanitize import ALLOWED_TAGS, WRAPPER_TAGS
from pipeline.markdown.urls import scheme_of

#: elements shown by running or embedding something: left out with all they hold
_HIDDEN = frozenset("script style template noscript head title iframe object embed svg math canvas video audio "
                    "select textarea button".split())
_BLOCK = frozenset("address article aside blockquote caption center dd details div dl dt figcaption figure footer "
                   "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody td tfoot th thead "
                   "tr ul".split())
MAX_ROWS = 20  # a table's rows shown; the others are counted
MAX_CHARS = 20_000  # an output's HTML shown; the rest is left out with a note
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_CELL = frozenset({"td", "th"})  # block tags that stay on their row's line
#: tags whose text the article may read as Markdown: ``pipeline.markdown.boxes.html_apart`` puts these
#: on lines of their own, and the sanitizer drops the wrappers
_APART = frozenset({"div", "details", "blockquote", "section", "center"})
#: text characters some renderer reads as Markdown or math anywhere ("_" only at a word's edge) ...
_INLINE = re.compile(r"[\\`*{}\[\]$|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
#: ... and at a line's start (headings, lists, quotes, Qiita, Zenn and MkDocs blocks, setext lines)
_LINE_START = re.compile(r"^(?:[#+=:!?>-]|\d+(?=[.)](?:\s|$)))")


def _entities(text: str, line_start: bool) -> str:
    text = _INLINE.sub(lambda m: f"&#{ord(m.group())};", html.escape(text, quote=False))
    if line_start:
        text = _LINE_START.sub(lambda m: "".join(f"&#{ord(c)};" for c in m.group()), text)
    return text


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []  # the HTML, each block tag on a line of its own
        self.text: list[str] = []  # what a reader sees
        self.hidden: list[str] = []  # the hidden elements open around the current point
        self.pre = 0
        self.images = 0
        self.block = False
        self.tables: list[list[int]] = []  # for each open table: rows seen, rows left out
        self.size = 0  # of the HTML so far: past MAX_CHARS, the rest is *cut*
        self.cut = False

    def _line(self) -> None:
        if self.out and not self.out[-1].endswith("\n"):
            self.out[-1] = self.out[-1].rstrip(" ")
            self._add("\n")

    def _tag(self, tag: str, text: str, closing: bool = False) -> None:
        """A block tag starts a line (an opening one) or ends it (a closing one, but ``</pre>``, ``</td>``)."""
        if not closing and tag in _BLOCK - _CELL:
            self._line()
        elif not closing and tag in _CELL and self.out and self.out[-1].startswith(("</td", "</th")):
            self.out.append(" ")  # cells apart, where the tags are dropped (Zenn)
        self._add(text)
        if closing and tag in _BLOCK - _CELL and tag != "pre":
            self._line()
        self.block = tag in _APART or tag in WRAPPER_TAGS  # the text after it may start a line of its own

    def _add(self, text: str) -> None:
        self.out.append(text)
        self.size += len(text)

    def _note(self, text: str) -> None:
        self._line()
        self._add(_entities(text, line_start=True))
        self._line()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cut |= not self.hidden and self.size > MAX_CHARS
        if self.hidden or tag in _HIDDEN or self.size > MAX_CHARS:
            if tag not in _VOID:
                self.hidden.append(tag)
            return
        if tag == "table":
            self.tables.append([0, 0])
        elif tag == "tr" and self.tables:
            self.tables[-1][0] += 1
            if self.tables[-1][0] > MAX_ROWS:
                self.tables[-1][1] += 1
                self.hidden.append(tag)
                return
        if tag == "img" and scheme_of(dict(attrs).get("src") or "") not in ("http", "https"):
            self.handle_data(dict(attrs).get("alt") or "")  # a file beside the notebook, or data: the article has neither
            return
        self.images += tag == "img"
        self.pre += tag == "pre"
        self.text.append(" " if tag in _CELL else "\n" if tag in _BLOCK or tag == "br" else "")
        name = "b" if re.fullmatch(r"h[1-6]", tag) else tag  # a heading inside an output is no heading of the article
        if name in ALLOWED_TAGS or name in WRAPPER_TAGS:
            attributes = [k if v is None else f'{k}="{html.escape(v)}"' for k, v in attrs]
            self._tag(tag, "<" + " ".join([name, *attributes]) + ">")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.hidden:
            if tag in self.hidden:
                del self.hidden[len(self.hidden) - 1 - self.hidden[::-1].index(tag):]
            return
        if tag in _VOID:
            return
        self.pre -= tag == "pre" and self.pre > 0
        name = "b" if re.fullmatch(r"h[1-6]", tag) else tag
        self.text.append("\n" if tag in _BLOCK - _CELL else "")
        if name in ALLOWED_TAGS or name in WRAPPER_TAGS:
            self._tag(tag, f"</{name}>", closing=True)
        left_out = self.tables.pop()[1] if tag == "table" and self.tables else 0
        if left_out:
            self._note(f"... ({left_out} more rows; the full output is in build/executed/)")

    def handle_data(self, data: str) -> None:
        if self.hidden or not data:
            return
        if self.size > MAX_CHARS:
            self.cut = True
            return
        self.text.append(data)
        line_start = not self.out or self.out[-1].endswith("\n") or self.block
        self.block = False
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            data = data.lstrip(" ") if line_start else data
        if data:
            self._add(_entities(data, line_start))


def html_markdown(markup: str) -> tuple[str, str]:
    """``(HTML for the article, the text a reader sees)`` of an output's HTML; ``("", "")`` where it
    shows nothing (only scripts, styles, widgets or embedded pages)."""
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    if reader.cut:
        reader._note("... (the rest of this output is in build/executed/)")
    text = re.sub(r"[ \t]*\n\s*", "\n", re.sub(r"[ \t\r\f\v]+", " ", "".join(reader.text))).strip()
    if not text and not reader.images:
        return "", ""
    return "".join(reader.out).strip("\n"), text  # blank lines only inside <pre>, where they belong
