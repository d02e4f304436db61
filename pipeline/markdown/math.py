"""Math: as authors write it, then as each dialect renders it.

Jupyter's MathJax reads more than Markdown renderers do: ``$$ ... $$`` inside a sentence, ``$$``
opened in the middle of a line and closed lines later, ``\\[ ... \\]``, ``\\( ... \\)``, and
``\\begin{align}`` (and the other display environments) with no delimiters at all. ``author_math``
rewrites all of them into the one form every later step reads (``scanner.scan`` marks it):

- display math is a ``$$`` block on lines of its own, at the indentation of the paragraph or list
  item it was in, with blank lines around it (the text before and after it stays, as paragraphs of
  their own, as Jupyter shows it); where a block cannot stand (a table row, a heading, a
  blockquote, a list item holding nothing else) it becomes ``$\\displaystyle ...$`` inline;
- inline math is ``$...$``; an environment gets ``$$`` around it; blank lines inside display math
  are dropped (they would end the block for Python-Markdown).

Then, per dialect (``pipeline.article.chapters``): Qiita gets ```` ```math ```` fences
(``display_math_to_fences``) and `` $`...`$ `` (``inline_math_to_qiita``); Zenn and the MkDocs site
keep ``$$`` blocks with blank lines around them (``display_math_apart``) and ``$...$``.
``math_entities`` puts back the ``<`` and ``>`` the sanitizer escaped inside math, as ``\\lt`` and
``\\gt``, which every renderer's TeX reads and no HTML parser does.
"""

from __future__ import annotations

import bisect
import re
import textwrap
from typing import Callable

from pipeline.markdown.scanner import Line, backtick_run_at, fence_for, find_backtick_run, scan, table_lines

#: environments MathJax (and KaTeX) typeset on their own, as display math
DISPLAY_ENVIRONMENTS = ("align", "align*", "alignat", "alignat*", "equation", "equation*", "gather", "gather*",
                        "multline", "multline*", "flalign", "flalign*", "eqnarray", "eqnarray*")
_BEGIN = re.compile(r"\\begin\{(" + "|".join(re.escape(e) for e in DISPLAY_ENVIRONMENTS) + r")\}")
_LIST_MARKER = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|(?=\n)|$)")
_NO_BLOCK = re.compile(r" {0,3}(?:>|#{1,6}(?:[ \t]|(?=\n)|$))")  # a blockquote or a heading: math stays inline there
_INDENT = re.compile(r"[ \t]*")
_QUOTED = re.compile(r"^[ \t]*(?:>[ \t]?)*")  # a continuation line's blockquote markers


# ---------------------------------------------------------------------------
# As authors write it
# ---------------------------------------------------------------------------

class _Index:
    """Where the newlines, blank lines, dollars and backtick runs of a text are, so that each look
    ahead is a binary search (hostile text full of unclosed delimiters stays linear)."""

    def __init__(self, text: str) -> None:
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.breaks = [m.start() for m in re.finditer(r"\n[ \t]*\n", text)]
        self.dollars = [m.start() for m in re.finditer(r"\$", text)]
        self.runs: dict[int, list[int]] = {}
        for match in re.finditer(r"`+", text):
            self.runs.setdefault(len(match.group()), []).append(match.start())

    @staticmethod
    def next(positions: list[int], at: int) -> int:
        """The first position at or after *at*, or -1."""
        k = bisect.bisect_left(positions, at)
        return positions[k] if k < len(positions) else -1

    def line_start(self, at: int) -> int:
        k = bisect.bisect_left(self.newlines, at)
        return self.newlines[k - 1] + 1 if k else 0

    def line_end(self, at: int, size: int) -> int:
        end = self.next(self.newlines, at)
        return size if end < 0 else end

    def row(self, at: int) -> int:
        return bisect.bisect_left(self.newlines, at)


def _regions(text: str, index: _Index) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, body) of each display ("display") and ``\\(...\\)`` ("inline") math
    in *text* (code spans, ``\\$`` and ``$...$`` skipped); unclosed delimiters are no math."""
    found: list[tuple[str, int, int, str]] = []
    absent: set[str] = set()  # closing delimiters that no longer occur
    i, n = 0, len(text)

    def find(closing: str, at: int) -> int:
        if closing in absent:
            return -1
        close = text.find(closing, at)
        if close < 0:
            absent.add(closing)
        return close

    while i < n:
        c = text[i]
        if c == "`":
            run = backtick_run_at(text, i)
            end = index.next(index.runs.get(run, []), i + run)
            paragraph = index.next(index.breaks, i)
            i = end + run if end >= 0 and (paragraph < 0 or end < paragraph) else i + run
            continue
        closing = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}.get(text[i:i + 2])
        begin = _BEGIN.match(text, i) if c == "\\" else None
        if begin:
            end_tag = f"\\end{{{begin.group(1)}}}"
            close = find(end_tag, begin.end())
            if close >= 0:
                found.append(("display", i, close + len(end_tag), text[i:close + len(end_tag)]))
                i = close + len(end_tag)
                continue
        if closing:
            close = find(closing, i + 2)
            while closing == "$$" and close > 0 and text[close - 1] == "\\":
                close = find(closing, close + 1)
            if close >= 0 and text[i + 2:close].strip() and "\n\n\n" not in text[i:close]:
                found.append(("inline" if closing == "\\)" else "display", i, close + 2, text[i + 2:close]))
                i = close + 2
                continue
            i += 2
            continue
        if c == "\\":
            i += 2
            continue
        if c == "$":  # inline $...$ on this line: skipped whole, so a "$$" inside it is not display math
            close = index.next(index.dollars, i + 1)
            newline = index.next(index.newlines, i)
            i = close + 1 if close > i + 1 and (newline < 0 or close < newline) else i + 1
            continue
        i += 1
    return found


def author_math(markdown: str) -> str:
    """Math as authors write it for Jupyter, in the one form the later steps read (see the module
    docstring). Code fences and code spans are left alone."""
    lines = scan(markdown)
    out: list[str] = []
    run: list[Line] = []
    tables = table_lines(lines)
    for line in [*lines, None]:
        if line is not None and not line.code:
            run.append(line)
            continue
        if run:
            out.append(_rewrite_run("\n".join(l.text for l in run), {l.number - run[0].number for l in run
                                                                       if l.number in tables}))
            run = []
        if line is not None:
            out.append(line.text)
    return display_math_apart("\n".join(out))


class _Out:
    """The rewritten text, appended to piece by piece (``tail``: its last line so far)."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.tail = ""

    def add(self, piece: str) -> None:
        if piece:
            self.pieces.append(piece)
            self.tail = piece.rsplit("\n", 1)[1] if "\n" in piece else self.tail + piece

    def drop_tail(self, count: int) -> None:
        """Take the last *count* characters (all on the last line) off."""
        self.tail = self.tail[:len(self.tail) - count]
        while count > 0 and self.pieces:
            last = self.pieces.pop()
            if len(last) > count:
                self.pieces.append(last[:len(last) - count])
            count -= len(last)

    def ends_with(self, suffix: str) -> bool:
        return "".join(self.pieces[-len(suffix):]).endswith(suffix)

    def text(self) -> str:
        return "".join(self.pieces)


def _rewrite_run(text: str, table_rows: set[int]) -> str:
    """One stretch of lines outside code fences; *table_rows*: its lines (0-based) in tables."""
    index, out = _Index(text), _Out()
    cursor, indent, after_block, listed = 0, "", False, False

    def copy(upto: int) -> None:
        nonlocal after_block
        piece = text[cursor:upto]
        if not after_block:
            out.add(piece)
            return
        rest, newline, remaining = piece.partition("\n")  # the rest of the line after display math: a paragraph
        if rest.strip():  # of its own (in a list item, a blank line after it ends it for Python-Markdown)
            out.add("\n" + indent + (rest.strip() if newline else rest.lstrip()) + newline * (1 + listed) + remaining)
        elif newline:
            out.add("\n" + remaining if remaining.strip() else remaining)
        after_block = bool(not newline and not rest.strip())

    for kind, start, end, body in _regions(text, index):
        first, one_line = index.line_start(start), index.row(start) == index.row(end)
        if kind == "inline":
            copy(start)
            out.add("$" + " ".join(body.split()) + "$" if one_line else text[start:end])
            cursor = end
            continue
        fresh = first >= cursor  # the first region on its line
        marker = _LIST_MARKER.match(text, first) if fresh else None
        if fresh and not marker and text.startswith("$$", start) and "\n\n" not in body and \
                not text[first:start].strip() and not text[end:index.line_end(end, len(text))].strip():
            continue  # already a block of its own
        if index.row(start) in table_rows or _NO_BLOCK.match(text, first) or (
                marker and not text[marker.end():start].strip()):
            if one_line or text.startswith("$$", start):  # no block can stand here: one formula, on one line
                copy(start)  # (a "$$" over lines, left, would open a math block at its closing line)
                rows = body.split("\n")
                rows[1:] = [_QUOTED.sub("", row) for row in rows[1:]]
                out.add("$\\displaystyle " + " ".join(" ".join(rows).split()) + "$")
                cursor = end
            continue
        copy(start)  # the text after the block before goes at that block's indentation
        if fresh:  # in a list item: at least 4 columns, as Python-Markdown (MkDocs) wants its continuation lines
            indent = " " * max(marker.end() - first, 4) if marker else _INDENT.match(text, first).group()
            listed = bool(marker)
        if out.tail.strip():
            out.drop_tail(len(out.tail) - len(out.tail.rstrip(" \t")))
            out.add("\n\n")
        else:
            out.drop_tail(len(out.tail))
            if out.pieces and not out.ends_with("\n\n"):
                out.add("\n")
        rows = [r.rstrip() for r in textwrap.dedent(body.strip("\n")).split("\n") if r.strip()]
        out.add("\n".join(indent + r for r in ["$$", *rows, "$$"]) + "\n")
        cursor, after_block = end, True
    copy(len(text))
    result = out.text()
    return result[:-1] if result.endswith("\n") and not text.endswith("\n") else result


# ---------------------------------------------------------------------------
# Per dialect
# ---------------------------------------------------------------------------

def math_blocks(lines: list[Line]) -> list[tuple[int, int, bool]]:
    """(first, last, closed) indexes into *lines* (from ``scan``) of each $$ block."""
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].math:
            stripped, end = lines[i].text.strip(), i
            closed = len(stripped) >= 4 and stripped.endswith("$$")
            while not closed and end + 1 < len(lines) and lines[end + 1].math:
                end += 1
                closed = lines[end].text.strip().endswith("$$")
            blocks.append((i, end, closed))
            i = end
        i += 1
    return blocks


def display_math_apart(markdown: str) -> str:
    """``$$`` blocks with a blank line before and after them (Zenn's KaTeX and arithmatex need them apart)."""
    lines = scan(markdown)
    firsts, lasts = set(), set()
    for first, last, _ in math_blocks(lines):
        firsts.add(first)
        lasts.add(last)
    out: list[str] = []
    for k, line in enumerate(lines):
        if k in firsts and out and out[-1].strip():
            out.append("")
        if k - 1 in lasts and line.text.strip():
            out.append("")
        out.append(line.text)
    return "\n".join(out)


def display_math_to_fences(markdown: str) -> str:
    """Qiita: ``$$ ... $$`` blocks (one or more lines) become ```` ```math ```` fences, at the
    block's indentation. An unclosed block is left as it is."""
    lines = scan(markdown)
    blocks = {first: last for first, last, closed in math_blocks(lines) if closed}
    out: list[str] = []
    k = 0
    while k < len(lines):
        if k not in blocks:
            out.append(lines[k].text)
            k += 1
            continue
        first, last = k, blocks[k]
        indent = re.match(r"[ \t]*", lines[first].text).group(0)
        head, tail = lines[first].text.strip()[2:], lines[last].text.strip()[:-2]
        if first == last:
            body = [head[:-2].strip()] if head.endswith("$$") else []
        else:
            middle = [l.text.rstrip() for l in lines[first + 1:last]]
            body = [head.strip()] * bool(head.strip()) + middle + [tail.strip()] * bool(tail.strip())
        body = [b if b.startswith(indent) else indent + b.lstrip() for b in body]
        fence = indent + fence_for("\n".join(body))
        out += [fence + "math", *body, fence]
        k = last + 1
    return "\n".join(out)


def inline_math(text: str, wrap: Callable[[str], str]) -> str:
    """*text* (one line) with each inline ``$...$`` replaced by ``wrap(body)``; code spans,
    `` $`...`$ ``, ``\\$`` and ``$$`` are left alone. A ``$`` opens only before a non-space (and
    not after a digit) and closes after a non-space, not before a digit, so "$5 and $10" stays."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            out.append(text[i:i + 2])
            i += 2
            continue
        if c == "`" or text.startswith("$`", i):
            at = i + (c == "$")
            run = backtick_run_at(text, at)
            end = find_backtick_run(text, at + run, run)
            stop = at + run if end < 0 else end + run
            if c == "$" and end >= 0 and text.startswith("$", stop):
                stop += 1  # already $`...`$
            out.append(text[i:stop])
            i = stop
            continue
        if c == "$":
            if text.startswith("$$", i):
                stop = i + len(re.match(r"\$+", text[i:]).group())
                out.append(text[i:stop])
                i = stop
                continue
            close = text.find("$", i + 1)
            while close > 0 and text[close - 1] == "\\":
                close = text.find("$", close + 1)
            body = text[i + 1:close] if close > 0 else ""
            if (body and not body[0].isspace() and not body[-1].isspace() and "`" not in body
                    and not (i and text[i - 1].isdigit()) and not text[close + 1:close + 2].isdigit()):
                out.append(wrap(body))
                i = close + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


def inline_math_to_qiita(markdown: str) -> str:
    """``$x_1$`` becomes Qiita's safe ``$`x_1`$`` outside code, code spans and display math."""
    return "\n".join(line.text if line.code or line.math else inline_math(line.text, lambda body: f"$`{body}`$")
                     for line in scan(markdown))


#: environments KaTeX (Zenn) lacks, as the nearest it has (eqnarray's three columns are array{rcl})
_KATEX = {"eqnarray": ("array}{rcl", "array"), "eqnarray*": ("array}{rcl", "array"), "flalign": ("align", "align"),
          "flalign*": ("align*", "align*")}


def math_for_katex(markdown: str) -> str:
    """Zenn: display environments KaTeX cannot typeset, inside ``$$`` blocks, as ones it can."""
    def replace(match: re.Match) -> str:
        begin, end = _KATEX[match.group(2)]
        return f"\\{match.group(1)}{{{begin if match.group(1) == 'begin' else end}}}"

    pattern = re.compile(r"\\(begin|end)\{(eqnarray\*?|flalign\*?)\}")
    return "\n".join(pattern.sub(replace, line.text) if line.math else line.text for line in scan(markdown))


def _tex(body: str) -> str:
    return re.sub(r"&(lt|gt);\s?", lambda m: f"\\{m.group(1)} ", body)


def math_entities(markdown: str) -> str:
    """``&lt;`` and ``&gt;`` (what the sanitizer made of ``<`` and ``>``) inside math as ``\\lt`` and
    ``\\gt``: inside a ```` ```math ```` fence or a code span they would show as written."""
    return "\n".join(line.text if line.code else _tex(line.text) if line.math
                     else inline_math(line.text, lambda body: "$" + _tex(body) + "$") for line in scan(markdown))
