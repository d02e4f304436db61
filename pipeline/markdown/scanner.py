"""Line-level Markdown work on one fence-aware scanner, and the untrusted-text policy.

``scan`` reads a document once and tells, for every line, whether it is fenced code or
``$$`` display math, with CommonMark's closing rule everywhere (same character, at least as
long, then only whitespace). ``unwrap``, ``tidy_blank_lines``, the math rewrites
(``pipeline.markdown.math``), the heading helpers, the sanitizer (``pipeline.markdown.sanitize``), the URL rewriter (``pipeline.markdown.urls``)
and the dialect checks (``pipeline.markdown.dialects``) all ask it; none scans fences itself.

Untrusted text policy. Text we did not write ourselves (an author's notebook Markdown,
``display(Markdown(...))`` outputs, LLM-drafted prose, glue values, model ids, exception
messages) reaches an article only through one of three doors:

- Markdown passes ``pipeline.markdown.sanitize.sanitize_markdown`` (before any dialect
  rewrite). Its module docstring states the policy; docs/security.md lists what it keeps.
- Plain text put into prose passes ``escape_inline``: one line that every renderer shows
  literally, with no HTML, link, code, math, list, heading, fence or ``:::`` in it.
- Text shown inside a code fence passes ``visible_controls``, with ``fence_for`` choosing
  a fence longer than any backtick run in it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """One line of a scanned document (``number`` is 1-based)."""

    number: int
    text: str
    code: bool = False  # inside a fenced code block, fence lines included
    opens: bool = False
    closes: bool = False
    fence: str = ""  # the fence run on an opening or closing line
    info: str = ""  # the info string of an opening line
    math: bool = False  # a line of a $$ display-math block outside code


_OPENING = re.compile(r"([ \t]*)(`{3,}|~{3,})(.*)$")


def fence_opening(text: str) -> tuple[str, str, str] | None:
    match = _OPENING.match(text)
    if not match or (match.group(2)[0] == "`" and "`" in match.group(3)):
        return None
    return match.group(1), match.group(2), match.group(3).strip()


def fence_closing(text: str, fence: str) -> str:
    match = re.fullmatch(r"[ \t]*(%s{%d,})[ \t]*" % (re.escape(fence[0]), len(fence)), text)
    return match.group(1) if match else ""


class Scanner:
    """Feeds lines one at a time; the sanitizer drives it directly to insert lines."""

    def __init__(self) -> None:
        self.number, self.fence, self.math = 0, "", False

    def feed(self, text: str) -> Line:
        self.number += 1
        if self.fence:
            run = fence_closing(text, self.fence)
            if run:
                self.fence = ""
                return Line(self.number, text, code=True, closes=True, fence=run)
            return Line(self.number, text, code=True)
        stripped = text.strip()
        if self.math:
            self.math = not stripped.endswith("$$")
            return Line(self.number, text, math=True)
        opening = fence_opening(text)
        if opening:
            self.fence = opening[1]
            return Line(self.number, text, code=True, opens=True, fence=opening[1], info=opening[2])
        if stripped.startswith("$$"):
            self.math = not (len(stripped) >= 4 and stripped.endswith("$$"))
            return Line(self.number, text, math=True)
        return Line(self.number, text)


def scan(markdown: str) -> list[Line]:
    """Every line of *markdown* ("\\n" newlines) with its code and math status."""
    scanner = Scanner()
    return [scanner.feed(text) for text in markdown.split("\n")]


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run inside *text* (at least three)."""
    longest = max((len(run) for run in re.findall(r"`+", text or "")), default=0)
    return "`" * max(3, longest + 1)


def table_lines(lines: list[Line]) -> set[int]:
    """Numbers of the lines that may belong to a table: every line of a block (lines between
    blank lines, outside code) that holds something like a delimiter row. Generous on
    purpose: list markers and ``>`` may stand before the row."""
    table: set[int] = set()
    block: list[Line] = []
    for line in [*lines, Line(0, "")]:
        if line.code or line.math or not line.text.strip():
            if any(_DELIMITER_ROW.fullmatch(b.text) and "|" in b.text and "-" in b.text for b in block):
                table.update(b.number for b in block)
            block = []
        else:
            block.append(line)
    return table


_DELIMITER_ROW = re.compile(r"[ \t>*+\d.)|:-]*")


# ---------------------------------------------------------------------------
# Paragraph joining, blank lines
# ---------------------------------------------------------------------------

#: a line that starts its own block, so it is never joined to the line before (escaped ones included)
_STRUCTURE_START = r"(?::::|&#58;::|!!!|&#33;!!|\?\?\?|&#63;\?\?)"  # Qiita, Zenn and MkDocs blocks, or escaped
_BLOCK_START = re.compile(r"#{1,6}(\s|$)|[-*+](\s|$)|\d{1,9}[.)](\s|$)|>|\||" + _STRUCTURE_START + r"|<|\$\$|```|~~~"
                          r"|!\[|@\[|\[[^\]]+\]:|[-=]+\s*$|(?:[*_]\s*){3,}$")
#: a line after which the next line starts anew
_NO_CONTINUATION = re.compile(r"#|\||<|" + _STRUCTURE_START + r"|!\[|@\[|\[[^\]]+\]:|[-=]+\s*$|(?:[*_]\s*){3,}$")
_CJK_PUNCT = "、。「」『』（）【】："


def _joins_without_space(before: str, after: str) -> bool:
    """Japanese runs on without spaces; a space stays between Japanese and Latin words,
    except next to Japanese punctuation and brackets."""
    if ord(before) >= 0x2E80 and ord(after) >= 0x2E80:
        return True
    return before in _CJK_PUNCT or after in _CJK_PUNCT


def _continuations(lines: list[Line]) -> list[bool]:
    """For each line, whether it continues the paragraph or list item of the line before."""
    result, joinable = [], False
    for line in lines:
        stripped = line.text.strip()
        if line.code or line.math or not stripped:
            result.append(False)
            joinable = False
            continue
        starts = bool(_BLOCK_START.match(stripped)) or (line.text.startswith(("    ", "\t")) and not joinable)
        result.append(joinable and not starts)
        if not result[-1]:
            joinable = not _NO_CONTINUATION.match(stripped)
    return result


def hard_wrapped(markdown: str) -> list[int]:
    """Numbers of the lines that ``unwrap`` would join to the line before."""
    lines = scan(markdown)
    return [line.number for line, joins in zip(lines, _continuations(lines)) if joins]


def unwrap(markdown: str) -> str:
    """Join hard-wrapped paragraph and list-item lines (Qiita and Zenn turn each newline
    into <br>). Code and math are left alone; CJK text is joined without a space."""
    lines = scan(markdown)
    out: list[str] = []
    for line, joins in zip(lines, _continuations(lines)):
        if joins:
            previous, stripped = out[-1].rstrip(), line.text.strip()
            out[-1] = previous + ("" if _joins_without_space(previous[-1], stripped[0]) else " ") + stripped
        else:
            out.append(line.text)
    return "\n".join(out)


def tidy_blank_lines(markdown: str) -> str:
    """At most one blank line in a row outside fences; a single trailing newline."""
    out: list[str] = []
    for line in scan(markdown):
        if line.code or line.text.strip():
            out.append(line.text)
        elif not out or out[-1].strip():
            out.append("")
    return "\n".join(out).strip("\n") + "\n"


def backtick_run_at(text: str, i: int) -> int:
    j = i
    while j < len(text) and text[j] == "`":
        j += 1
    return j - i


def find_backtick_run(text: str, start: int, length: int) -> int:
    """Start of the next backtick run of exactly *length* at or after *start*, or -1."""
    for match in re.finditer(r"`+", text[start:]):
        if len(match.group()) == length:
            return start + match.start()
    return -1


# ---------------------------------------------------------------------------
# Headings
# ---------------------------------------------------------------------------

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")


def _headings(lines: list[Line]) -> list[tuple[int, int, int, str]]:
    """(first index, last index, level, text) of every heading outside code and math."""
    found, joins = [], _continuations(lines)
    for i, line in enumerate(lines):
        if line.code or line.math:
            continue
        atx = _ATX.match(line.text)
        if atx:
            text = re.sub(r"(?:^|[ \t]+)#+[ \t]*$", "", (atx.group(2) or "").strip())
            found.append((i, i, len(atx.group(1)), text))
            continue
        underline = _SETEXT.match(line.text)
        if underline and i > 0:
            start = i - 1
            while start > 0 and joins[start]:
                start -= 1
            first = lines[start]
            if not (first.code or first.math or not first.text.strip() or _BLOCK_START.match(first.text.strip())
                    or first.text.startswith(("    ", "\t"))):
                text = " ".join(l.text.strip() for l in lines[start:i])
                found.append((start, i, 1 if underline.group(1)[0] == "=" else 2, text))
    return found


def headings(markdown: str) -> list[tuple[int, int, str]]:
    """(line number, level, text) of the ATX and setext headings outside code and math."""
    return [(first + 1, level, text) for first, _, level, text in _headings(scan(markdown))]


def set_heading_level(markdown: str, line_number: int, level: int) -> str:
    """The heading at *line_number* rewritten as an ATX heading of *level* (a setext
    heading loses its underline). ValueError if no heading starts there."""
    if not 1 <= level <= 6:
        raise ValueError(f"heading level {level} is not between 1 and 6")
    lines = scan(markdown)
    for first, last, _, text in _headings(lines):
        if first + 1 == line_number:
            out = [line.text for line in lines]
            out[first:last + 1] = [("#" * level + " " + text).rstrip()]
            return "\n".join(out)
    raise ValueError(f"line {line_number} is not a heading")


# ---------------------------------------------------------------------------
# Untrusted text
# ---------------------------------------------------------------------------

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: what no title, file name or setting may hold: C0 controls, DEL, C1 controls, the bidirectional embedding,
#: override and isolate controls (U+202A-U+202E, U+2066-U+2069: "Trojan Source" text shown in another order
#: than it is written), lone surrogates and the Unicode noncharacters (U+FDD0-U+FDEF and the last two code
#: points of every plane)
UNWANTED = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufdd0-\ufdef"
                      + "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(17)) + "]")


def unwanted_characters(text: str) -> list[str]:
    """The control characters, lone surrogates and noncharacters in *text*, as U+XXXX (each once)."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in UNWANTED.findall(text)))


def visible_controls(text: str) -> str:
    """C0 controls other than tab and newline, and DEL, as Unicode Control Pictures
    (NUL -> U+2400, DEL -> U+2421). "\\r\\n" counts as a newline; a lone "\\r" is shown."""
    return CONTROL.sub(lambda m: "\u2421" if m.group() == "\x7f" else chr(0x2400 + ord(m.group())),
                        text.replace("\r\n", "\n"))


def escape_inline(text: str, line_start: bool = True) -> str:
    """Plain text shown literally inside a paragraph: one line, no HTML, no Markdown syntax
    (emphasis, code, links, math, footnotes, headings, lists, fences, ``:::``, autolinks).

    Characters that only mean something at the start of a line (list and heading markers,
    ``:::``) are escaped only there, and ``_`` only where it could start or end emphasis,
    so that model ids, dates and ``snake_case`` names stay readable in the Markdown source.
    With *line_start* False the text is a piece inside a line, and those stay as they are."""
    text = html.escape(visible_controls(text.replace("\r\n", " ").replace("\n", " ")), quote=False)
    text = re.sub(r"[\\`*{}|$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\\g<0>", text)
    # Python-Markdown has no "\~" escape, and arithmatex reads "\[ \]" as math: use references
    text = re.sub(r"[\[\]~]", lambda m: f"&#{ord(m.group())};", text)
    text = re.sub(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z]{2})", r"\\.", text)  # example.com, www.x: no autolinks
    if not line_start:
        return text
    # line-start syntax: "1." list marker, "-"/"+"/"#" markers, ":::", setext "=", MkDocs "!!!"/"???"
    return re.sub(r"^([ \t]*)(?:(\d+)\.(?=[ \t]|$)|([-+#])(?=[ \t#]|$)|(:)|([=?!]))",
                  lambda m: m.group(1) + (m.group(2) + "\\." if m.group(2) else "\\" + m.group(3) if m.group(3)
                                          else f"&#{ord(m.group(4) or m.group(5))};"), text)


def code_span(text: str) -> str:
    """Plain text as an inline code span (a path, a command): shown literally, on one line."""
    text = visible_controls(text.replace("\r\n", " ").replace("\n", " "))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"
