"""The author's prose and the values it cites.

- Glue: ``{{ vocab_size }}`` in a markdown cell cites a value the experiment
  published with ``glue("vocab_size", ...)``; ``{% if adds_bos %}`` tests the
  recorded value. A cell is treated as a template only when it cites a glued
  name; any other text (a Jinja tutorial's ``{{ x }}``, LaTeX braces) is left
  exactly as written. Cited values are inserted as escaped plain text.
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
