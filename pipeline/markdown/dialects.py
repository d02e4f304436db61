"""Qiita's and Zenn's Markdown dialects, checked line by line on the finished text of every export.

``check_qiita`` and ``check_zenn`` return one message per problem, each starting with
``line N: `` (empty when clean); both read the document through ``scanner.scan``, so they
agree with every other stage about what is code and what is math. The platforms' other
rules (front matter, slugs, tags, limits) live in ``pipeline.markdown.platforms``, whose
platform objects call these checks.
"""

from __future__ import annotations

import re

from pipeline.markdown.math import inline_math_to_qiita, math_blocks
from pipeline.markdown.scanner import Line, hard_wrapped, scan

#: tags Qiita's sanitizer keeps (qiita-markdown, filters/final_sanitizer.rb)
QIITA_TAGS = frozenset(
    "a b blockquote br caption code dd del details div dl dt em font h1 h2 h3 h4 h5 h6 h7 h8 hr i img input ins"
    " kbd li ol p pre q rp rt ruby s samp section span strike strong sub summary sup table tbody td tfoot th"
    " thead tr tt ul var".split())
NOTE_KINDS = ("info", "warn", "alert")
#: images Zenn shows (zenn-cli refuses other types in /images/; SVG was refused for XSS)
ZENN_IMAGE_TYPES = ("png", "jpg", "jpeg", "webp", "gif")

_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9-]*)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]*)")
_WRAP = "paragraph continues on a new line (hard wrap); join it to the line before"


def _prose(line: Line) -> str:
    """The line without its code spans (a line of prose: not code, not math)."""
    return _CODE_SPAN.sub("", line.text)


def _fences(lines: list[Line], problems: list[str]) -> None:
    opened = next((line for line in reversed(lines) if line.opens), None)
    if lines and lines[-1].code and not lines[-1].closes and opened:
        problems.append(f"line {opened.number}: fence {opened.fence} never closed")


#: Qiita and Zenn draw a mermaid diagram of at most this many characters
MERMAID_LIMIT = 2_000


def _mermaid(lines: list[Line], problems: list[str]) -> None:
    """A ```mermaid block longer than the platforms draw."""
    start, size = None, 0
    for line in lines:
        if line.opens:
            start, size = (line.number, 0) if line.info.split(":")[0].strip() == "mermaid" else (None, 0)
        elif line.closes and start is not None:
            if size > MERMAID_LIMIT:
                problems.append(f"line {start}: a mermaid diagram of {size:,} characters; Qiita and Zenn draw "
                                f"at most {MERMAID_LIMIT:,} (split the diagram)")
            start = None
        elif start is not None:
            size += len(line.text) + 1


def check_qiita(markdown: str) -> list[str]:
    """Problems Qiita would show or hide: unclosed fences, python fences without a file
    name, bad ``:::note`` blocks, ``$$`` and plain ``$x$`` math, data: URIs, hard wraps,
    HTML that Qiita's sanitizer drops, and ``style`` outside span/td/th."""
    lines = scan(markdown)
    problems: list[str] = []
    notes: list[int] = []
    for line in lines:
        stripped = line.text.strip()
        if line.code:
            continue
        if stripped.startswith(":::") and not line.math:
            kind = stripped[3:].strip()
            if not kind:
                if notes:
                    notes.pop()
                else:
                    problems.append(f"line {line.number}: ':::' closes no open note")
            elif kind.split()[0] != "note":
                problems.append(f"line {line.number}: ':::{kind}' is not a Qiita note (use :::note info|warn|alert)")
            else:
                if kind.split()[1:] and kind.split()[1] not in NOTE_KINDS:
                    problems.append(f"line {line.number}: unknown note kind {kind!r}")
                notes.append(line.number)
            continue
        if "$$" in line.text:
            problems.append(f"line {line.number}: '$$' math does not render on Qiita; use a ```math block")
        elif inline_math_to_qiita(line.text) != line.text:
            problems.append(f"line {line.number}: inline math $...$ is fragile on Qiita; write $`...`$")
        prose = _prose(line)
        if re.search(r"\(\s*<?data:", prose, re.I) or re.search(r"""(?:src|href)\s*=\s*["']?\s*data:""", prose, re.I):
            problems.append(f"line {line.number}: data: URI (Qiita strips it)")
        for _, tag, attributes in _TAG.findall(prose):
            name = tag.lower()
            if name not in QIITA_TAGS:
                problems.append(f"line {line.number}: HTML tag <{tag}> is not kept by Qiita")
            elif re.search(r"(?:^|\s)style\s*=", attributes, re.I) and name not in ("span", "td", "th"):
                problems.append(f"line {line.number}: style on <{tag}> is dropped by Qiita "
                                "(only span, td and th keep it)")
    problems += [f"line {number}: {_WRAP}" for number in hard_wrapped(markdown)]
    _fences(lines, problems)
    _mermaid(lines, problems)
    problems += [f"line {number}: :::note never closed" for number in notes]
    return sorted(problems, key=_line_number)


def check_zenn(markdown: str) -> list[str]:
    """Problems Zenn would show or hide: unclosed fences, unbalanced ``:::message`` and
    ``:::details`` blocks, raw HTML other than <br>, ```` ```math ```` fences, ``$$`` blocks
    without blank lines around them, images Zenn cannot serve, hard wraps."""
    lines = scan(markdown)
    problems: list[str] = []
    blocks: list[tuple[int, int]] = []  # (colons, line number) of the open ::: blocks
    for line in lines:
        if line.opens and line.info.split(":")[0].strip() == "math":
            problems.append(f"line {line.number}: Zenn does not render ```math as math; use a $$ block")
        if line.code or line.math:
            continue
        container = re.fullmatch(r"\s*(:{3,})\s*(.*?)\s*", line.text)
        if container:
            colons, params = len(container.group(1)), container.group(2)
            if not params:
                if blocks and colons >= blocks[-1][0]:
                    blocks.pop()
                else:
                    problems.append(f"line {line.number}: '{container.group(1)}' closes no open block")
            elif not re.fullmatch(r"message\s*(alert)?|details\s+.+", params):
                problems.append(f"line {line.number}: unknown block ':::{params}' "
                                "(Zenn has :::message, :::message alert and :::details title)")
            else:
                if blocks and colons >= blocks[-1][0]:
                    problems.append(f"line {line.number}: a block nested in the one at line {blocks[-1][1]} needs "
                                    "fewer colons than it (give the outer block more, e.g. ::::details)")
                blocks.append((colons, line.number))
            continue
        prose = _prose(line)
        for _, tag, _ in _TAG.findall(prose):
            if tag.lower() != "br":
                problems.append(f"line {line.number}: Zenn shows the HTML tag <{tag}> as text (only <br> works)")
        for url in _IMAGE.findall(prose):
            path = re.split(r"[?#]", url)[0].lower()
            if not (url.startswith("/images/") or re.match(r"https?://", url, re.I)) \
                    or not path.endswith(tuple("." + kind for kind in ZENN_IMAGE_TYPES)):
                problems.append(f"line {line.number}: image {url!r} must be an /images/... path or an http(s) URL "
                                "of a png, jpg, jpeg, webp or gif file")
    for first, last, closed in math_blocks(lines):
        if not closed:
            problems.append(f"line {first + 1}: $$ block never closed")
        after = lines[last + 1].text.strip() if closed and last + 1 < len(lines) else ""
        if first > 0 and lines[first - 1].text.strip() or after:
            problems.append(f"line {first + 1}: a $$ block needs a blank line before and after it")
    problems += [f"line {number}: {_WRAP}" for number in hard_wrapped(markdown)]
    _fences(lines, problems)
    _mermaid(lines, problems)
    problems += [f"line {number}: ':::' block never closed" for _, number in blocks]
    return sorted(problems, key=_line_number)


def _line_number(message: str) -> int:
    return int(message.split(":")[0].split()[1])
