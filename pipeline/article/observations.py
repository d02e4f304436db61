"""The author's prose and the values it cites.

- Glue: ``{{ vocab_size }}`` in a markdown cell cites a value the experiment
  published with ``glue("vocab_size", ...)``; ``{% if adds_bos %}`` tests the
  recorded value. A cell is treated as a template only when it cites a glued
  name; any other text (a Jinja tutorial's ``{{ x }}``, LaTeX braces) is left
  exactly as written. Cited values read literally: escaped plain text in prose,
  the value itself inside a code span or fenced code.
- Observation cells: the author marks one with the cell tag ``observation``, or
  by starting the cell with a heading 考察 / Observation(s). Only those become
  note boxes; every other markdown cell stays prose.
- Model mismatch: an observation written for another model (``written_for``)
  than the one that ran is flagged.
"""

from __future__ import annotations

import re
from typing import Any, Callable

OBSERVATION_TAG = "observation"
OBSERVATION_HEADINGS = ("考察", "observation", "observations")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")


class GlueRef:
    """A glue value inside prose: prints as its prose text (``{{ ratio }}`` -> "0.1235"),
    tests and compares as its recorded value (``{% if adds_bos %}`` is false for False)."""

    __slots__ = ("value", "text")

    def __init__(self, value: Any, text: str):
        self.value, self.text = value, text

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self):
        return iter(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __hash__(self) -> int:
        return hash(self.text)

    def _other(self, other):
        return other.value if isinstance(other, GlueRef) else other

    def __eq__(self, other):
        return self.value == self._other(other)

    def __lt__(self, other):
        return self.value < self._other(other)

    def __le__(self, other):
        return self.value <= self._other(other)

    def __gt__(self, other):
        return self.value > self._other(other)

    def __ge__(self, other):
        return self.value >= self._other(other)


def glue_context(glue: dict) -> dict[str, GlueRef]:
    """The names prose can cite, from a record's ``glue`` (name -> GlueValue)."""
    return {name: GlueRef(value.value, value.text) for name, value in glue.items()}


def cited_names(source: str) -> set[str] | None:
    """The names a cell's Jinja placeholders use; None when the text is not a valid template."""
    import jinja2
    from jinja2 import meta

    if "{{" not in source and "{%" not in source:
        return set()
    try:
        return set(meta.find_undeclared_variables(jinja2.Environment().parse(source)))
    except jinja2.TemplateSyntaxError:
        return None


def cites_glue(source: str, glue: dict) -> bool:
    names = cited_names(source)
    return bool(names and names & set(glue))


def fill(source: str, glue: dict[str, GlueRef], finalize: Callable[[Any], str] = str) -> str:
    """The text with its glue placeholders filled when it cites glue, else unchanged.

    *finalize* turns each inserted value into text (the renderer escapes it). Raises
    jinja2.TemplateError for a cell that cites glue but names an unknown value, has a syntax
    error, or tries what the sandbox forbids (jinja2.exceptions.SecurityError)."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    if not cites_glue(source, glue):
        return source
    # the text comes from a notebook, possibly someone else's: a sandbox, so that a template
    # cannot reach Python's internals (``{{ x.__init__.__globals__ }}`` is a SecurityError)
    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                                        finalize=lambda value: finalize(value))
    return env.from_string(source).render(**glue)


_SLOT = "\ue000{}\ue001"
_SLOTS = re.compile("\ue000(\\d+)\ue001")


def fill_markdown(source: str, glue: dict[str, GlueRef], table_pipe: str = "\\|") -> str:
    """``fill`` for Markdown: each value reads literally where it lands. In prose it is
    escaped plain text (``escape_inline``); inside a code span or fenced code it is itself,
    since escapes would show there (`` `{{ bos }}` `` reads `` `<s>` ``, not `` `\\<s\\>` ``).
    A code span widens its backticks around a value holding backticks; *table_pipe* is how
    a ``|`` in a value is written inside a code span in a table row (GFM needs ``\\|``)."""
    from pipeline.markdown.scanner import escape_inline

    if "\ue000" in source or "\ue001" in source:  # our slot marks in the text itself: escape everywhere
        return fill(source, glue, finalize=lambda v: escape_inline(str(v)))
    values: list[str] = []

    def slot(value: Any) -> str:
        values.append(str(value))
        return _SLOT.format(len(values) - 1)

    text = fill(source, glue, finalize=slot)
    return _place(text, values, table_pipe) if values else text


def _place(markdown: str, values: list[str], table_pipe: str) -> str:
    from pipeline.markdown.scanner import escape_inline, fence_closing, scan, table_lines

    lines, out, fence = scan(markdown), [], ""
    table = table_lines(lines)
    for line in lines:
        fence = line.fence if line.opens else fence
        if "\ue000" not in line.text:
            out.append(line.text)
        elif line.code and not (line.opens or line.closes):
            out.append(_SLOTS.sub(lambda m, fence=fence: _in_fence(values[int(m.group(1))], fence, fence_closing), line.text))
        elif line.code:  # an info string or a closing line: plain text
            out.append(_SLOTS.sub(lambda m: escape_inline(values[int(m.group(1))]).replace("`", ""), line.text))
        else:
            out.append(_inline(line.text, values, table_pipe if line.number in table else "|"))
    return "\n".join(out)


def _in_fence(value: str, fence: str, fence_closing) -> str:
    from pipeline.markdown.scanner import visible_controls

    value = visible_controls(value)
    return value.replace("\n", " ") if any(fence_closing(part, fence) for part in value.split("\n")) else value


def _inline(text: str, values: list[str], pipe: str) -> str:
    """One line of prose: values in code spans as themselves, elsewhere escaped."""
    from pipeline.markdown.scanner import backtick_run_at, escape_inline, find_backtick_run, visible_controls

    def plain(part: str) -> str:
        return _SLOTS.sub(lambda m: escape_inline(values[int(m.group(1))]), part)

    def code(content: str, ticks: int) -> str:
        new = _SLOTS.sub(lambda m: visible_controls(values[int(m.group(1))].replace("\r\n", " ").replace("\n", " "))
                         .replace("|", pipe), content)
        runs = [len(run) for run in re.findall(r"`+", new)]
        ticks = max(runs) + 1 if ticks in runs else ticks
        if (new.startswith("`") or new.endswith("`")) and not (new.startswith(" ") and new.endswith(" ")):
            new = f" {new} "
        return "`" * ticks + new + "`" * ticks

    out, i, start = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == "`":
            n = backtick_run_at(text, i)
            j = find_backtick_run(text, i + n, n)
            if j < 0:
                i += n
                continue
            out += [plain(text[start:i]), code(text[i + n:j], n)]
            i = start = j + n
        else:
            i += 1
    out.append(plain(text[start:]))
    return "".join(out)


def check_citations(source: str, glue: dict, where: str) -> list[str]:
    """Problems with a markdown cell's placeholders, for an experiment that glues values:
    bad syntax, names no glue value has."""
    if not glue or ("{{" not in source and "{%" not in source):
        return []
    import jinja2

    try:
        jinja2.Environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        if re.search(r"\{\{\s*[A-Za-z_]\w*\s*\}\}", source):
            return [f"{where}: template syntax error in the text: {exc.message} (line {exc.lineno} of the cell)"]
        return []
    names = cited_names(source) or set()
    placeholders = set(re.findall(r"\{\{\s*([A-Za-z_]\w*)", source))
    missing = sorted(n for n in names & placeholders if n not in glue)
    return [f"{where}: cites {{{{ {n} }}}} but the experiment glued no value named {n!r}; "
            "add glue(...) in a code cell or fix the name" for n in missing]


# ---------------------------------------------------------------------------
# Observation cells
# ---------------------------------------------------------------------------

def leading_heading(source: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading on the cell's first non-blank line."""
    for line in source.splitlines():
        if line.strip():
            match = _HEADING.match(line)
            return (len(match.group(1)), match.group(2).strip()) if match else None
    return None


def is_observation(source: str, tags: tuple[str, ...] | list[str]) -> bool:
    if OBSERVATION_TAG in tags:
        return True
    heading = leading_heading(source)
    return bool(heading and heading[1].strip().rstrip(":：").lower() in OBSERVATION_HEADINGS)


def observation_body(source: str) -> str:
    """The observation without its own 考察/Observations heading (the box carries the label)."""
    lines = source.strip().splitlines()
    heading = leading_heading(source)
    if heading and heading[1].strip().rstrip(":：").lower() in OBSERVATION_HEADINGS:
        lines = lines[1:]
    return "\n".join(lines).strip()


def model_mismatch(written_for: Any, model_id: str | None) -> dict[str, str] | None:
    if isinstance(written_for, str) and written_for and model_id and written_for != model_id:
        return {"written_for": written_for, "model": model_id}
    return None
