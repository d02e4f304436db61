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

import re
import textwrap
from typing import Callable

from pipeline.markdown.scanner import Line, backtick_run_at, fence_for, find_backtick_run, scan, table_lines

#: environments MathJax (and KaTeX) typeset on their own, as display math
DISPLAY_ENVIRONMENTS = ("align", "align*", "alignat", "alignat*", "equation", "equation*", "gather", "gather*",
                        "multline", "multline*", "flalign", "flalign*", "eqnarray", "eqnarray*")
_BEGIN = re.compile(r"\\begin\{(" + "|".join(re.escape(e) for e in DISPLAY_ENVIRONMENTS) + r")\}")
_LIST_MARKER = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_NO_BLOCK = re.compile(r" {0,3}(?:>|#{1,6}(?:[ \t]|$))")  # a blockquote or a heading: math stays inline there


# ---------------------------------------------------------------------------
# As authors write it
# ---------------------------------------------------------------------------

def _regions(text: str) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, body) of each display ("display") and ``\\(...\\)`` ("inline") math
    in *text* (code spans, ``\\$`` and ``$...$`` skipped); unclosed delimiters are no math."""
    found: list[tuple[str, int, int, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "`":
            run = backtick_run_at(text, i)
            end = find_backtick_run(text, i + run, run)
            paragraph = text.find("\n\n", i)
            i = end + run if end >= 0 and (paragraph < 0 or end < paragraph) else i + run
            continue
        closing = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}.get(text[i:i + 2])
        begin = _BEGIN.match(text, i) if c == "\\" else None
        if begin:
            close = text.find(f"\\end{{{begin.group(1)}}}", begin.end())
            if close >= 0:
                stop = close + len(f"\\end{{{begin.group(1)}}}")
                found.append(("display", i, stop, text[i:stop]))
                i = stop
                continue
        if closing:
            close = text.find(closing, i + 2)
            while closing == "$$" and close > 0 and text[close - 1] == "\\":
                close = text.find(closing, close + 1)
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
            close = text.find("$", i + 1)
            newline = text.find("\n", i)
            i = close + 1 if close > i + 1 and (newline < 0 or close < newline) else i + 1
            continue
        i += 1
    return found


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    return text.rfind("\n", 0, start) + 1, (text.find("\n", end) + 1 or len(text) + 1) - 1


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


def _rewrite_run(text: str, table_rows: set[int]) -> str:
    """One stretch of lines outside code fences; *table_rows*: its lines (0-based) in tables."""
    out, cursor, indent, after_block, listed = "", 0, "", False, False

    def copy(upto: int) -> None:
        nonlocal out, after_block
        piece = text[cursor:upto]
        if after_block:  # the rest of the line after display math: a paragraph of its own
            rest, newline, remaining = piece.partition("\n")
            if rest.strip() or not newline:  # in a list item, a blank line ends that paragraph for Python-Markdown
                out += "\n" + indent + (rest.strip() if newline else rest.lstrip()) + newline * (1 + listed) \
                    + remaining if rest.strip() else ""
            else:
                out += "\n" + remaining if remaining.strip() else remaining
            after_block = bool(not newline and not rest.strip())
            return
        out += piece

    for kind, start, end, body in _regions(text):
        first, last = _line_bounds(text, start, end)
        line, one_line = text[first:last], "\n" not in text[start:end]
        if kind == "inline":
            copy(start)
            out += "$" + " ".join(body.split()) + "$" if one_line else text[start:end]
            cursor = end
            continue
        marker = _LIST_MARKER.match(line)
        alone = not text[first:start].strip() and not text[end:last].strip()
        if alone and text.startswith("$$", start) and "\n\n" not in body and not marker and first >= cursor:
            continue  # already a block of its own
        if text.count("\n", 0, start) in table_rows or _NO_BLOCK.match(line) or (
                marker and first >= cursor and not text[first + marker.end():start].strip()):
            if one_line:  # no block can stand here
                copy(start)
                out += "$\\displaystyle " + " ".join(body.split()) + "$"
                cursor = end
            continue
        if first >= cursor:
            # in a list item: at least 4 columns, as Python-Markdown (MkDocs) wants its continuation lines
            indent = " " * max(marker.end(), 4) if marker else re.match(r"[ \t]*", line).group()
            listed = bool(marker)
        copy(start)
        head, _, current = out.rpartition("\n")
        if current.strip():
            out = out.rstrip(" \t") + "\n\n"
        else:
            out = out[:len(out) - len(current)]
            if out and not out.endswith("\n\n"):
                out += "\n"
        rows = [r.rstrip() for r in textwrap.dedent(body.strip("\n")).split("\n") if r.strip()]
        out += "\n".join(indent + r for r in ["$$", *rows, "$$"]) + "\n"
        cursor, after_block = end, True
    copy(len(text))
    return out[:-1] if out.endswith("\n") and not text.endswith("\n") else out


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
    texts = [line.text for line in lines]
    for first, last, _ in reversed(math_blocks(lines)):
        if last + 1 < len(texts) and texts[last + 1].strip():
            texts.insert(last + 1, "")
        if first > 0 and texts[first - 1].strip():
            texts.insert(first, "")
    return "\n".join(texts)


def display_math_to_fences(markdown: str) -> str:
    """Qiita: ``$$ ... $$`` blocks (one or more lines) become ```` ```math ```` fences, at the
    block's indentation. An unclosed block is left as it is."""
    lines = scan(markdown)
    out = [line.text for line in lines]
    for first, last, closed in reversed(math_blocks(lines)):
        if not closed:
            continue
        indent = re.match(r"[ \t]*", lines[first].text).group(0)
        head, tail = lines[first].text.strip()[2:], lines[last].text.strip()[:-2]
        if first == last:
            body = [head[:-2].strip()] if head.endswith("$$") else []
        else:
            middle = [l.text.rstrip() for l in lines[first + 1:last]]
            body = [head.strip()] * bool(head.strip()) + middle + [tail.strip()] * bool(tail.strip())
        body = [b if b.startswith(indent) else indent + b.lstrip() for b in body]
        fence = indent + fence_for("\n".join(body))
        out[first:last + 1] = [fence + "math", *body, fence]
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
