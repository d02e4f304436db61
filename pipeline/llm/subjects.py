"""What each recorded value counts: its *subject*, so that a draft's claim can be tied to it.

A number or a quoted token in the records is recorded *for* something: a glue value for its
name (and for the words the author's prose puts before its ``{{ placeholder }}``), a value in an
output line for the words of that line (its label, the words just before it, the banner above
it, a pandas Series' name), a table's cell for its row and column, a printed value for the
variable ``print(a, b)`` printed, a value in code for the variable or argument beside it.
``facts_of`` lists them as ``(value, subject)`` pairs, the subject led by where the value was
recorded ("@3.1": cell 3's printed text), so that values recorded alike in one place are peers;
rows of numbers (tensors, arrays) have no subject. ``pipeline.llm.claims`` checks a draft
against them. Also here: the words, stems and values both sides are read with.
"""

from __future__ import annotations

import re

from pipeline.article.observations import cited_names
from pipeline.records import Cell, ExperimentRecord, ResultOutput, StreamOutput

Fact = tuple[str, str]  # (value as recorded, the words it is recorded for)

NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?%?")
QUOTED = re.compile(r"`([^`\n]{1,60})`|\"([^\"\n]{1,60})\"|'([^'\n]{1,60})'")
_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9]*|[\u30a1-\u30fa\u30fc]{2,}|[\u4e00-\u9fff]{2,}")
CLAUSE = re.compile(r"[。．！？!?;；、，\n]|[,:：.](?=\s|$)|\s[-–]\s")
_BANNER = re.compile(r"^\s*(?:[-=#*~]{3,}.*[-=#*~]{3,}|[^\d:]{2,40}:)\s*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)[^}]*\}\}")
_STOP = {"the", "and", "for", "with", "from", "that", "this", "are", "was", "were", "its", "into", "per", "than",
         "import", "print", "return", "def", "class", "self", "none", "true", "false", "len", "int", "str", "float",
         "list", "dict", "tuple", "range", "np", "pd", "plt", "as", "in", "of", "to", "on", "at", "by", "is", "it",
         "an", "or", "if", "else", "not", "be", "we", "our", "all", "glue", "pipeline", "name", "dtype", "object",
         "tensor", "output", "value", "values", "times", "cell"}
MAX_NUMBERS_A_LINE = 8  # a line with more numbers is a dump (a tensor, a long row): no subjects
DUMP_NUMBERS = 4  # nor has a line of this many numbers with no word between them
MAX_FACTS = 400


def words(text: str) -> list[str]:
    """The subject words of *text*: Latin words (identifiers split at ``_``), katakana words and kanji runs."""
    return _WORDS.findall(text)


def named(text: str) -> list[str]:
    """The words a draft names: ``words`` without common code and function words, except
    those it quotes (`` `the` `` names a token)."""
    quoted = {w for m in QUOTED.finditer(text) for w in words(m.group(0))}
    return [w for w in words(text) if (w.lower() not in _STOP and w not in ("a", "A", "I")) or w in quoted]


def stem(word: str) -> set[str]:
    """Comparable forms of a word: a Latin word by its first five letters ("sampling" and
    "sampled" meet, "stories" and "story"); a kanji run by its pairs ("語彙数" meets "語彙")."""
    if word.isascii():
        lower = word.lower()
        if any(ch.isupper() or ch.isdigit() for ch in word[1:]):  # an identifier: RidgeCV is not Ridge
            return {lower}
        lower = lower[:-3] + "y" if lower.endswith("ies") else lower
        return {lower[:5]}
    if "\u4e00" <= word[0] <= "\u9fff":
        return {word[i:i + 2] for i in range(len(word) - 1)}
    return {word}


def stems(found: list[str]) -> set[str]:
    return set().union(*(stem(w) for w in found)) if found else set()


def values_in(text: str) -> list[tuple[str, int, int]]:
    """``(value, start, end)`` of the numbers and quoted tokens in *text*."""
    found = [(m.group(0), m.start(), m.end()) for m in NUMBER.finditer(text)]
    found += [(next(g for g in m.groups() if g is not None), m.start(), m.end()) for m in QUOTED.finditer(text)]
    return sorted(found, key=lambda v: v[1])


def _dump(line: str, values: list[tuple[str, int, int]]) -> bool:
    """A row of numbers (a tensor's, an array's): many of them, or several with no word between."""
    numbers = [(start, end) for value, start, end in values if NUMBER.fullmatch(value)]
    between = "".join(line[a[1]:b[0]] for a, b in zip(numbers, numbers[1:]))
    return len(numbers) > MAX_NUMBERS_A_LINE or (len(numbers) >= DUMP_NUMBERS and not words(between))


def _line_facts(line: str, extra: str = "") -> list[Fact]:
    """Each value on *line* with its subject: the words before the line's first number (its
    label), the words between the previous number and it, and *extra* (a banner, a row or column)."""
    values = values_in(line)
    if not values or _dump(line, values):
        return []
    first_number = next((start for value, start, _ in values if NUMBER.fullmatch(value)), values[0][1])
    label = line[:first_number]  # '"math": np.concatenate([rng.normal(' for each of its arguments
    facts, previous = [], values[0][1]
    for value, start, end in values:
        segment = line[previous:start] if start > previous else ""
        subject = " ".join(words(f"{label} {segment} {extra}"))
        if subject:
            facts.append((value, subject))
        if NUMBER.fullmatch(value):  # a quoted token may name the number after it
            previous = end
    return facts


def _table_facts(markdown: str) -> list[Fact]:
    """A Markdown table: each cell's value, for its row's labels and its column's header."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in markdown.splitlines()
            if line.strip().startswith("|")]
    if len(rows) < 3:
        return []
    header, facts = rows[0], []
    first = 0 if header[0] else 1  # pandas' index column has no header
    for row in rows[2:]:
        labels = " ".join(c for c in row if not NUMBER.fullmatch(c))
        for column, cell in enumerate(row):
            if column >= first and NUMBER.fullmatch(cell) and column < len(header):
                subject = " ".join(words(f"{labels} {header[column]}"))
                if subject:
                    facts.append((cell, subject))
    return facts


def _output_facts(text: str, fallback: str) -> list[Fact]:
    """Values in an output: per line, with the banner above the line ("--- greedy ---",
    "Greedy:"), a pandas Series' name, or *fallback* (what printed it) for a line with no words."""
    facts, banner = [], ""
    lines = text.splitlines()
    footer = next((line for line in reversed(lines) if line.startswith("Name: ")), "")
    for line in lines:
        if _BANNER.match(line) and words(line):
            banner = line
            continue
        extra = f"{banner} {footer}"
        line_facts = _line_facts(line, extra)
        if not line_facts and not words(line) and fallback:
            line_facts = _line_facts(f"{fallback}: {line}", extra)
        facts += line_facts
    return facts


def _ends_with_print(source: str) -> bool:
    lines = [line for line in source.strip().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and lines[-1].startswith("print(")


def _printed(source: str) -> list[str]:
    """The arguments of the top-level ``print(...)`` calls of some code, in order."""
    return [m.group(1) for m in re.finditer(r"^print\((.*)\)\s*$", source, re.M)]


def _at(where: str, facts: list[Fact]) -> list[Fact]:
    """*facts* marked with where they were recorded ("@3.0": cell 3's code, "@3.1": its printed
    text, "@3.2", "@3.3"...: its results; "@0": glue): values recorded alike in one place are peers."""
    return [(value, f"{where} {subject}") for value, subject in facts]


def _arguments(call: str) -> list[str]:
    """The top-level arguments of a call's text ("a.mean(), round(b, 2)" -> two)."""
    found, depth, start = [], 0, 0
    for i, ch in enumerate(call):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            found.append(call[start:i])
            start = i + 1
    return found + [call[start:]]


def _printed_facts(call: str, line: str) -> list[Fact]:
    """What ``print(call)`` printed: with as many bare values as arguments, each value is its
    argument's ("print(x.mean(), x.std())" -> "169.59 5.69"); a line with words of its own keeps
    them as its subject, and the call's words describe it ("step_0 -> 0" printed var_0)."""
    values = [v for v, _, _ in values_in(line)]
    arguments = _arguments(call)
    if not words(line) and len(values) == len(arguments) > 1:
        return [(value, " ".join(words(argument))) for value, argument in zip(values, arguments) if words(argument)]
    printed = " ".join(words(call))
    return [(value, f"{subject} ~ {printed}" if words(line) and printed else subject)
            for value, subject in _output_facts(line, call)]


def _code_facts(line: str) -> list[Fact]:
    """Values in a line of code: ``a, b = 537, 463`` gives each name its value; otherwise a value
    belongs to the words before it (the variable or argument beside it)."""
    match = re.match(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)+)\s*=\s*([^=].*)$", line)
    if match:
        names, values = match.group(1).split(","), _arguments(match.group(2))
        if len(names) == len(values) and all(NUMBER.fullmatch(v.strip()) for v in values):
            return [(v.strip(), " ".join(words(n))) for n, v in zip(names, values)]
    return _line_facts(line)


def _cell_facts(cell: Cell) -> list[Fact]:
    if cell.kind != "code":
        return []
    code = []
    for line in cell.source.splitlines():
        code += _code_facts(line.split("#", 1)[0]) if not line.lstrip().startswith("#") else []
    facts, place = _at(f"@{cell.index + 1}.0", code), f"@{cell.index + 1}.1"
    stream = "".join(o.text for o in cell.outputs if isinstance(o, StreamOutput) and o.name == "stdout")
    printed = _printed(cell.source)
    lines = stream.splitlines()
    if printed and len(printed) == len(lines):  # one line per print: the line is what its call printed
        for call, line in zip(printed, lines):
            facts += _at(place, _printed_facts(call, line))
    elif printed and lines and _ends_with_print(cell.source):  # an array printed over lines, then "5": the last print's
        facts += _at(place, _output_facts("\n".join(lines[:-1]), cell.title) + _printed_facts(printed[-1], lines[-1]))
    elif stream:
        facts += _at(place, _output_facts(stream, cell.title))
    last = cell.source.strip().splitlines()[-1] if cell.source.strip() else ""
    results = [o for o in cell.outputs if isinstance(o, ResultOutput)]
    for number, out in enumerate(results, 2):
        found = _table_facts(out.markdown) if out.markdown and "|" in out.markdown else _output_facts(out.text, last)
        facts += _at(f"@{cell.index + 1}.{number}", found)
    return facts


def _placeholder_context(record: ExperimentRecord) -> dict[str, str]:
    """For each glue name the author's prose cites, the words before its placeholder, back to the
    previous placeholder or the start of the sentence (a wrapped line continues its sentence)."""
    context: dict[str, list[str]] = {}
    for cell in record.cells:
        if cell.kind != "markdown" or not cited_names(cell.source):
            continue
        text = re.sub(r"\{%.*?%\}", " ", cell.source)
        text = re.sub(r"\n(?![ \t]*(?:[-*+]|\d+[.)]|#|\n))[ \t]*", " ", text)  # join wrapped lines
        previous = 0
        for match in _PLACEHOLDER.finditer(text):
            segment = re.split(r"[。．！？!?\n]|[:：](?=\s)", text[previous:match.start()])[-1]
            context.setdefault(match.group(1), []).extend(words(segment))
            previous = match.end()
    return {name: " ".join(found) for name, found in context.items()}


def facts_of(record: ExperimentRecord, cells: list[Cell] | None = None) -> tuple[Fact, ...]:
    """The ``(value, subject)`` facts a draft about *cells* of *record* (default: all) may be
    tied to: the glue values, then the values in the cells' code and outputs."""
    context = _placeholder_context(record)
    facts: list[Fact] = []
    for name, value in record.glue.items():
        subject = " ".join(words(name)) + (f" ~ {context[name]}" if context.get(name) else "")
        facts += [(value.text, f"@0 {subject}")] if NUMBER.fullmatch(value.text) or len(value.text) <= 60 else []
    for cell in record.cells if cells is None else cells:
        facts += _cell_facts(cell)
    return tuple(dict.fromkeys(facts))[:MAX_FACTS]


def same_value(claim: str, recorded: str) -> bool:
    """*claim* states *recorded*: equal text, or numbers equal to the digits the claim shows
    (a percentage may restate a fraction)."""
    if claim.strip() == recorded.strip():
        return True
    a, b = number(claim), number(recorded)
    if a is None or b is None:
        return False
    plain = claim.rstrip("%").replace(",", "")
    tolerance = 0.5 * 10 ** -(len(plain.split(".")[1]) if "." in plain else 0) + 1e-12
    return abs(a - b) <= tolerance or (claim.endswith("%") and abs(a - b * 100) <= tolerance)


def number(text: str) -> float | None:
    try:
        return float(text.rstrip("%").replace(",", ""))
    except ValueError:
        return None
