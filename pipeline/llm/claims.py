"""What a draft claims, and about what: each number and quoted token of a draft tied to the
subject the draft gives it (``claim_subjects``), checked against the subjects the records give
their values (``pipeline.llm.subjects.facts_of``).

- ``misattributed``: a value the records give another subject, and not this one ("異なる続きの数は
  Greedy で 9" where 9 is Sampling's count and Greedy's is 3);
- ``misranked``: a subject ranked first or last ("the tree performs best", "Osaka が最も多い") where,
  among the values recorded alike for it and its peers, it holds neither end.

A claim is judged only where the draft names a *label* of the records (a word that tells values
recorded alike apart: "logreg"/"knn", "greedy"/"sampled", "heads"/"tails") and the records tie
the value to subjects; otherwise the fact check's plain "recorded somewhere" rule stands.
"""

from __future__ import annotations

import math
import re

from pipeline.llm.subjects import CLAUSE, NUMBER, Fact, named, number, same_value, stem, stems, values_in, words

_SENTENCE = re.compile(r"[。．！？!?;；\n]|[:：](?=\s|$)|\.(?=\s|$)")
_OBJECT = re.compile(r"を|に|へ|から|より|まで")
_NEXT_WORD = re.compile(r"\s*(?:[\u4e00-\u9fff\u3040-\u309f]{0,2}の|(?:for|of|by)\s+(?:the\s+)?)?\s*"
                        r"([A-Za-z][A-Za-z0-9]*|[\u30a1-\u30fa\u30fc]{2,})", re.I)
_JOIN = re.compile(r",|、|，|\b(?:and|while|whereas|but)\b")


def _rescaled(claim: str, recorded: str) -> bool:
    """*claim* is *recorded* times a power of ten, not the same value (a share, a percentage)."""
    a, b = number(claim), number(recorded)
    if not a or not b or same_value(claim, recorded):
        return False
    ratio = math.log10(abs(a / b))
    return abs(ratio - round(ratio)) < 1e-9


def claim_subjects(text: str) -> list[tuple[str, str, set[str], set[str], set[str]]]:
    """``(claim as written, value, next, before, sentence)`` for each number and quoted token of a draft,
    as stems: the word right after it ("537 heads", "4 列の a", "0.947 for knn"), and the words between the
    sentence's start (or the previous number, its last "and" or comma) and it; the label of its
    line ("- Greedy: ...") counts as before. Words before a Japanese object or direction particle
    (を, に, へ, から, より, まで) name what is acted on, not what the number counts, and are left out."""
    found = []
    for line in text.splitlines():
        label = stems(named(line.split(":", 1)[0])) if ":" in line[:30] else set()
        sentences = [m.end() for m in _SENTENCE.finditer(line)]
        clauses = [m.start() for m in CLAUSE.finditer(line)]
        numbers = [(s, e) for v, s, e in values_in(line) if NUMBER.fullmatch(v)]
        for value, start, end in values_in(line):
            clause_start = max([e for e in sentences if e <= start], default=0)
            clause_end = min([s for s in clauses if s >= end], default=len(line))
            before_start = max([clause_start] + [e for s, e in numbers if e <= start])
            after_end = min([clause_end] + [s for s, e in numbers if s >= end])
            before = line[before_start:start]
            if before_start > clause_start:  # "0.921 on the test split and 0.933": after the last "and" or comma
                before = _JOIN.split(before)[-1]
            before = _OBJECT.split(before)[-1]  # "row を 3 行": 3 is not row's
            right = _NEXT_WORD.match(line[end:after_end])
            found.append((line[start:end], value, stems(named(right.group(1))) if right else set(),
                          stems(named(before)) | label, stems(named(line[clause_start:after_end]))))
    return found


def _label_groups(identities: list[set[str]]) -> list[set[str]]:
    """The words that tell values recorded alike in one place apart, each group of them: "logreg",
    "knn" and "tree" in "logreg: test accuracy 0.947" / "knn: test accuracy 0.974" / ...,
    "greedy" and "sampled" in two glue names; not the words they share ("test", "accuracy"), nor
    the author's words around a glue placeholder (``_identity``). These are the records' labels."""
    shapes: dict[frozenset, set[str]] = {}
    for found in identities:
        for word in found:
            if not word.startswith("@"):
                shapes.setdefault(frozenset(found - {word}), set()).add(word)
    return [found for found in shapes.values() if len(found) >= 2]


def _peers(known: set[str], groups: list[set[str]]) -> bool:
    """*known* names two labels of one group: math and english, logreg and knn."""
    return any(len(known & group) >= 2 for group in groups)


def _kind(value: str, subject: str = "") -> set[str]:
    """What sort of value: a whole number, a decimal (a percentage may restate either), or a token
    (recorded in an output: a string in code is a setting, not a result). Only values of one sort
    are weighed against each other: "30 人分の math" counts scores, it is not a score."""
    if NUMBER.fullmatch(value):
        return {"int", "decimal"} if value.endswith("%") else {"decimal" if "." in value else "int"}
    return set() if subject.split()[:1] and subject.split()[0].endswith(".0") else {"token"}


def misattributed(text: str, facts: tuple[Fact, ...] | list[Fact]) -> list[tuple[str, str]]:
    """``(claim, what the records hold instead)`` for each claim of *text* tied to a subject the
    records give another value (of the same sort, ``_kind``) and not this one: the
    draft names a label of the records ("Greedy で 9", "537 tails"), and another value's
    subject holds every label this value's does, and more."""
    subjects = [(value, subject, stems(words(subject)), _kind(value, subject)) for value, subject in facts]
    groups = _label_groups([_identity(held) for _, held, _, _ in subjects])
    labels = set().union(*groups)
    wrong = []
    for claim, value, right, before, sentence in claim_subjects(text):
        known, kind = (right & labels) or (before & labels), _kind(value)
        if not known:  # the draft names no label of the records next to the claim
            continue
        matches = [(recorded, held, known & found) for recorded, held, found, recorded_kind in subjects
                   if kind & recorded_kind and not _rescaled(value, recorded)]  # 0.537 restates 537 of 1000
        own = [matched for recorded, _, matched in matches if same_value(value, recorded)]
        if not own:
            continue  # recorded only where no subject is known (or nowhere): the plain check decides
        closest = max(own, key=len)
        if len(closest) < 2 and _peers(known, groups):
            continue  # "math と english の相関は -0.355": a value about two peers at once
        closer = [(len(m), len(sentence & stems(words(held))), recorded, held) for recorded, held, m in matches
                  if m > closest and not held.split()[0].endswith(".0")  # a result, not a setting in code
                  and not any(same_value(value, r) for r, _, m2 in matches if m2 == m)]
        if closer:  # named as the one with the most labels, then words of the sentence, in common
            *_, recorded, held = max(closer, key=lambda c: c[:2])
            wrong.append((claim, f"the records give {' '.join(words(held))}: {recorded}"))
    return wrong


_RANKS = (  # (pattern, +1: the largest / -1: the smallest, whether it means "better" rather than "larger")
    (re.compile(r"\b(?:highest|largest|most|maximum)\b|最も(?:高|多|大き)|一番(?:高|多|大き)|最大", re.I), 1, False),
    (re.compile(r"\b(?:lowest|smallest|fewest|least|minimum)\b|最も(?:低|少な|小さ)|一番(?:低|少な|小さ)|最小", re.I), -1, False),
    (re.compile(r"\b(?:best|outperform\w*|strongest|most accurate|top)\b|最も(?:良|優れ)|一番(?:良|優れ)|最良|最高", re.I), 1, True),
    (re.compile(r"\b(?:worst|weakest|underperform\w*|least accurate)\b|最も悪|一番悪|最悪|最低", re.I), -1, True),
)
NEAR_RANK = 4  # the ranked subject is among the last words before the ranking word
_LOWER_IS_BETTER = {"loss", "error", "mse", "rmse", "mae", "std", "time", "seconds", "perplexity", "損失", "誤差"}


def misranked(text: str, facts: tuple[Fact, ...] | list[Fact]) -> list[tuple[str, str]]:
    """``(claim, what the records show)`` for each clause of *text* that ranks a subject first or
    last ("the tree performs best", "Osaka が最も多い") where the records rank it otherwise: in
    every group of values recorded alike for it and its peers (lines that differ only in that
    subject), another one is at that end."""
    numeric = [(float(value.rstrip("%").replace(",", "")), _identity(subject)) for value, subject in facts
               if NUMBER.fullmatch(value) and not subject.split()[0].endswith(".0")]  # results, not settings in code
    labels = set().union(*(found for _, found in numeric))
    wrong = []
    for clause in CLAUSE.split(text):
        for pattern, end, better in _RANKS:
            match = pattern.search(clause)
            near = named(clause[:match.start()])[-NEAR_RANK:] if match else []  # "the tree performing best"
            before = [w for w in near if stem(w) & labels]
            said = stems(named(clause))
            verdicts = {}
            for subject in stem(before[-1]) if before else ():  # the label nearest the ranking word
                groups = _peer_groups(subject, numeric)
                groups = [g for g in groups if g[0][2] & said] or groups  # the measure the clause names, if it does
                if groups:
                    verdicts[subject] = any(_ranked(subject, group, end, better) for group in groups)
            if verdicts and not any(verdicts.values()):
                wrong.append((clause.strip()[:60], f"the records do not rank {before[-1]} {'first' if end > 0 else 'last'}"))
    return wrong


def _identity(subject: str) -> set[str]:
    """What a fact's subject says it is, as stems with its place ("@3.1"): its words before any
    "~" (the author's words around a glue placeholder describe it, they do not tell it apart)."""
    identity = subject.split("~")[0]
    place = identity.split()[0] if identity.startswith("@") else ""
    return stems(words(identity)) | ({place} if place else set())


def _peer_groups(subject: str, numeric: list[tuple[float, set[str]]]) -> list[list[tuple[str, float, set[str]]]]:
    """For each way *subject*'s values are recorded (its line's other words), the values recorded
    the same way for other subjects: ``(subject, value, shared words)``."""
    groups = []
    for shape in {frozenset(found - {subject}) for _, found in numeric if subject in found}:
        if not shape - {w for w in shape if w.startswith("@")}:
            continue
        group = [(next(iter(found - shape)), value, set(shape)) for value, found in numeric
                 if shape <= found and len(found - shape) == 1]
        if len({label for label, _, _ in group}) >= 2:
            groups.append(group)
    return groups


def _ranked(subject: str, group: list[tuple[str, float, set[str]]], end: int, better: bool) -> bool:
    """Whether *subject* holds the group's largest (end > 0) or smallest value; for "best" and
    "worst", the smallest is the best where the values are losses, errors or times."""
    shared = group[0][2]
    if better and shared & _LOWER_IS_BETTER:
        end = -end
    extreme = (max if end > 0 else min)(value for _, value, _ in group)
    return any(label == subject and value == extreme for label, value, _ in group)
