"""Qiita Markdown rules the export must follow, checked on the finished text.

``check_qiita(markdown)`` returns one message per problem (empty when clean):
- every fence closed, and python fences carry a file name (```` ```python:path ````);
- ``:::note`` blocks balanced and of a known kind;
- no ``$$`` display math (Qiita wants ```` ```math ````);
- no ``data:`` URIs (Qiita strips them);
- no hard-wrapped paragraphs (Qiita turns every single newline into a line break);
- only HTML tags Qiita keeps.
"""

from __future__ import annotations

import re

#: tags Qiita's sanitizer keeps that the article may use
ALLOWED_TAGS = {"details", "summary", "br", "a", "img", "sup", "sub", "kbd", "b", "i", "strong", "em", "code",
                "pre", "p", "div", "span", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol", "li", "blockquote",
                "hr", "h1", "h2", "h3", "h4", "h5", "h6", "del", "ins", "s", "q", "dl", "dt", "dd", "ruby", "rt", "rp"}
NOTE_KINDS = ("info", "warn", "alert")
_BLOCK = re.compile(r"\s*(#{1,6}\s|[-*+]\s|\d+[.)]\s|>|\||:::|<|!\[|```|~~~)")


def check_qiita(markdown: str) -> list[str]:
    problems: list[str] = []
    lines = markdown.split("\n")
    fence = ""
    fence_line = 0
    notes: list[int] = []
    previous_text = False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if fence:
            if re.fullmatch(re.escape(fence[0]) + "{%d,}" % len(fence), stripped):
                fence = ""
            continue
        opening = re.match(r"(`{3,}|~{3,})(.*)$", stripped)
        if opening:
            fence, info = opening.group(1), opening.group(2).strip()
            fence_line = number
            if info.split(":")[0] == "python" and ":" not in info:
                problems.append(f"line {number}: python fence without a file name (```python:path)")
            previous_text = False
            continue
        if stripped.startswith(":::"):
            kind = stripped[3:].strip()
            if kind.startswith("note"):
                if kind.split()[1:2] and kind.split()[1] not in NOTE_KINDS:
                    problems.append(f"line {number}: unknown note kind {kind!r}")
                notes.append(number)
            elif kind == "":
                if not notes:
                    problems.append(f"line {number}: ':::' closes no open note")
                else:
                    notes.pop()
            previous_text = False
            continue
        if "$$" in line:
            problems.append(f"line {number}: '$$' math does not render on Qiita; use a ```math block")
        if re.search(r"\(\s*data:", line) or re.search(r"src=[\"']data:", line):
            problems.append(f"line {number}: data: URI (Qiita strips it)")
        for tag in re.findall(r"</?([A-Za-z][A-Za-z0-9-]*)[^>]*>", _without_code_spans(line)):
            if tag.lower() not in ALLOWED_TAGS:
                problems.append(f"line {number}: HTML tag <{tag}> is not kept by Qiita")
        is_text = bool(stripped) and not _BLOCK.match(line)
        if is_text and previous_text:
            problems.append(f"line {number}: paragraph continues on a new line (hard wrap); join it to the line before")
        previous_text = bool(stripped) and not re.match(r"\s*(#{1,6}\s|\||:::|```|<)", line)
    if fence:
        problems.append(f"line {fence_line}: fence {fence} never closed")
    for number in notes:
        problems.append(f"line {number}: :::note never closed")
    return problems


def _without_code_spans(line: str) -> str:
    return re.sub(r"(`+)(.+?)\1", "", line)
