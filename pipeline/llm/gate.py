"""The gate: whether a drafted answer may be published, and why not.

Small models fail in a few recognisable ways (``tests/llm_corpus/`` holds real examples from
SmolLM2-135M, and ``tests/benchmarks/bench_gate.py`` measures this gate on them). An answer
is rejected when it:

- repeats lines or sentences (a generation loop), or keeps repeating the same phrase;
- echoes the prompt: copies the instructions, lists the article's chapters, or is mostly lines
  copied from the code and outputs it was given;
- is a lead-in with no content ("以下のコードで…", "Here is the code:");
- was cut off (``finish_reason = "length"``) in the middle of a sentence;
- is mostly the section's own headings;
- is about a different section: it names the code of other parts of the chapter and none of
  the part it was asked about;

and, from ``pipeline.llm.factcheck``: too short, code rather than prose, not in the article's
language, or too many numbers and quoted tokens that no record holds.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from pipeline.llm.claims import claim_subjects
from pipeline.llm.factcheck import assess, is_japanese
from pipeline.llm.sections import terms
from pipeline.llm.subjects import NUMBER, same_value, stems, words

_BULLET = re.compile(r"^\s*(?:[-*+・•]|\d+\s*[.)．、]|\(\d+\)|\*\*\d+\.)\s*")
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=\.)\s+")
_LEADIN = re.compile(r"^\s*(?:(?:以下|次|下記|上記)の|これは|ここでは|(?:here (?:is|are)|the following|below (?:is|are)|"
                     r"this code|the code below)\b)", re.I)
_HEADING = re.compile(r"^\s*(#{1,6}\s|\*\*[^*]+\*\*\s*[:：]?\s*$|__[^_]+__\s*$)")
_ENDS_SENTENCE = tuple("。．.!?！？」』)）:：*`")
_HEADING_LABEL = re.compile(r"^\s*(?:見出し|heading|title|タイトル)\s*[:：]\s*(.+?)\s*$", re.I)
_CHATTER = re.compile(r"^\s*(?:sure|certainly|of course|absolutely|okay)\b[,!.]|\b(?:you'?ve|you have) (?:already )?"
                      r"(?:provided|given|written|shared|asked)|^\s*here'?s\b|\bi hope (?:this|that) helps|\blet me know\b|"
                      r"\bas an ai\b|^\s*(?:this|that|it) is (?:a |an )?(?:great|good|nice|excellent|fantastic|wonderful) "
                      r"(?:example|question|article|explanation|idea)\b|\bI(?:'m| am| think| believe| feel)\b|"
                      r"承知しました|かしこまりました|お役に立て|いかがでしょうか|ご質問", re.M | re.I)
_STRUCTURE = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])?[ \t]*\**(?:introduction|background|methods?|methodology|results?|discussion|"
                        r"conclusions?|summary|overview|導入|背景|方法|手法|結果|考察|結論|まとめ|概要)\**\s*[:：]", re.I | re.M)
NEAR_MIN_CHARS, NEAR_RATIO = 20, 0.8  # two lines this long and this alike are a loop
REFRAIN_CHARS, REFRAIN_LINES = 12, 4  # one phrase this long in this many lines is a loop
HEADING_RATIO = 0.75  # a line this alike a heading or chapter title restates it
REUSE_SHARE = 0.6  # a draft this much made of the prompt's own runs of text is an echo
CODE_BLOCK_SHARE = 0.5
_OUTPUT_TALK = re.compile(r"\b(?:outputs?|prints?|printed|results?|shows?|displays?)\b|出力|表示|結果", re.I)
SAYS_CHARS, SAYS_WORDS = 6, 3  # what a sentence says beyond the names in it
PROPOSAL_EXTRA = 80  # characters beyond the title and tags lines that a proposal may hold
PHRASE_CHARS, PHRASE_WORDS = 40, 12  # a line this short that ends no sentence is a phrase
_SENTENCE_ENDS = tuple("。．.!?！？")


@dataclass(frozen=True)
class GateContext:
    """What the gate knows about the request an answer came from."""

    prompt: str  # the user message: the section's code, outputs and the author's text
    instructions: str  # the system message and the request's own instruction
    language: str = "ja"
    evidence: str = ""  # the records the draft may quote (the fact check)
    chapters: tuple[str, ...] = ()  # the article's chapter titles
    headings: tuple[str, ...] = ()  # the chapter's headings (its title and the author's)
    own_terms: tuple[str, ...] = ()  # identifiers in the code of the part asked about
    other_terms: tuple[str, ...] = ()  # identifiers only in the chapter's other parts
    anchors: tuple[str, ...] = ()  # what the section's own code and outputs hold (``sections.anchors``)
    results: tuple[str, ...] = ()  # what its outputs hold (a part's, the chapter's for its notes)
    facts: tuple[tuple[str, str], ...] = ()  # (value, the subject it is recorded for) (``subjects.facts_of``)


@dataclass(frozen=True)
class Verdict:
    text: str  # the answer, cleaned (no code blocks, headings, proposed-heading line)
    reasons: tuple[str, ...] = ()  # why it is rejected; () = publishable
    claims: tuple[str, ...] = ()  # its unsupported numbers and quoted tokens
    heading: str = ""  # a heading it proposes ("見出し: ..."), when one was asked for

    @property
    def ok(self) -> bool:
        return not self.reasons


def clean_answer(text: str) -> str:
    """Drop code blocks and headings: drafts are prose only."""
    text = re.sub(r"```.*?(```|$)", "", text, flags=re.S)
    lines = [line for line in text.splitlines() if not re.match(r"\s*#{1,6}\s", line)]
    return "\n".join(lines).strip()


def split_heading(text: str) -> tuple[str, str]:
    """``(proposed heading, rest)`` of an answer asked to begin with "見出し: ..." / "Heading: ..."."""
    lines = text.strip().splitlines()
    if lines:
        match = _HEADING_LABEL.match(lines[0].strip().strip("*#").strip())
        if match:
            return match.group(1).strip("*「」\"' "), "\n".join(lines[1:]).strip()
    return "", text


def _norm(text: str) -> str:
    text = _BULLET.sub("", text)
    text = re.sub(r"[*_`>#\"'「」『』()（）\[\]]", "", text)
    text = re.sub(r"\d+", "0", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def _units(text: str) -> list[str]:
    """Its lines, and the sentences in them, normalised (bullets, numbering, digits, markup)."""
    units = []
    for line in text.splitlines():
        pieces = [p for p in _SENTENCE_END.split(line) if p and p.strip()]
        units += [_norm(p) for p in pieces]
    return [u for u in units if len(u) >= 6]


def repetition(text: str) -> str | None:
    units = _units(text)
    if units:
        unit, count = Counter(units).most_common(1)[0]
        if count >= 3 or (count >= 2 and len(unit) >= 15):
            return f"repeats itself ({count} times: {unit[:40]!r}), a generation loop"
        near = _near_identical(units)
        if near:
            return f"holds near-identical lines ({near[0][:30]!r} / {near[1][:30]!r}), a generation loop"
        phrase = _refrain(units)
        if phrase:
            return f"ends or fills {phrase[1]} of its lines with the same phrase ({phrase[0]!r}), a generation loop"
    compact = re.sub(r"\s+", "", re.sub(r"\d+", "0", text))
    n = 10
    if len(compact) >= 80:
        grams = [compact[i:i + n] for i in range(len(compact) - n + 1)]
        counts = Counter(grams)
        looping = sum(1 for g in grams if counts[g] >= 3) / len(grams)
        if looping > 0.25:
            return f"keeps repeating the same phrases ({looping:.0%} of it), a generation loop"
    return None


def _refrain(units: list[str]) -> tuple[str, int] | None:
    """A phrase (``REFRAIN_CHARS`` characters, twice that in Latin text, spaces aside) in ``REFRAIN_LINES`` or more of the
    lines and sentences: "...の最初の生成を実験して記事を書いてください。" seven times."""
    seen: Counter = Counter()
    for unit in dict.fromkeys(units):
        compact = re.sub(r"\s+", "", unit)
        for size in (REFRAIN_CHARS, 2 * REFRAIN_CHARS):  # Latin text takes twice the characters
            seen.update({g for i in range(len(compact) - size + 1)
                         if (g := compact[i:i + size]).isascii() == (size > REFRAIN_CHARS)})
    if seen:
        phrase, count = seen.most_common(1)[0]
        if count >= REFRAIN_LINES:
            return phrase, count
    return None


def _near_identical(units: list[str]) -> tuple[str, str] | None:
    """Two lines or sentences that differ in a few characters only (a value, a word)."""
    from difflib import SequenceMatcher

    long = list(dict.fromkeys(u for u in units if len(u) >= NEAR_MIN_CHARS))
    for i, a in enumerate(long):
        for b in long[i + 1:]:
            if 0.8 * len(a) <= len(b) <= 1.25 * len(a) and SequenceMatcher(None, a, b).ratio() >= NEAR_RATIO:
                return a, b
    return None


def _title_lines(text: str, chapters: tuple[str, ...]) -> tuple[int, int]:
    """(lines that are mostly a chapter title, distinct chapter titles named anywhere)."""
    titles = [_norm(t) for t in chapters if len(_norm(t)) >= 4]
    norm_text = _norm(text.replace("\n", " "))
    named = sum(1 for t in set(titles) if t in norm_text)
    lines = 0
    for line in text.splitlines():
        n = _norm(line)
        if n and any(t in n and len(t) >= 0.6 * len(n) for t in titles):
            lines += 1
    return lines, named


def echo(text: str, ctx: GateContext) -> str | None:
    size = 12 if ctx.language == "ja" else 24
    instructions = re.sub(r"\s+", "", ctx.instructions)
    compact = re.sub(r"\s+", "", text)
    for i in range(0, max(0, len(instructions) - size + 1)):
        if instructions[i:i + size] in compact:
            return f"repeats the instructions ({instructions[i:i + size]!r})"
    lines, named = _title_lines(text, ctx.chapters)
    if lines >= 2 or named >= 3:
        return f"lists the article's chapters ({max(lines, named)} chapter titles), echoing the prompt"
    prompt = _norm(ctx.prompt.replace("\n", " "))
    own = [_norm(line) for line in text.splitlines() if len(_norm(line)) >= 8]
    copied = [line for line in own if line in prompt]
    if own and sum(map(len, copied)) >= 0.5 * sum(map(len, own)):
        return f"is mostly copied from the prompt ({len(copied)} of its {len(own)} lines)"
    reused = reuse(text, ctx.prompt, ctx.language)
    if reused >= REUSE_SHARE:
        return f"mostly re-uses the prompt's own sentences ({reused:.0%} of it), an echo, not a supplement"
    return None


def reuse(text: str, prompt: str, language: str) -> float:
    """The share of *text* made of runs of characters that the prompt also holds (whitespace,
    markup and digits aside): the author's sentences, re-used or scrambled."""
    size = 8 if language == "ja" else 20

    def compact(value: str) -> str:
        return re.sub(r"\s+", "", _norm(value.replace("\n", " ")))

    mine, theirs = compact(text), compact(prompt)
    if len(mine) < 2 * size:
        return 0.0
    grams = {theirs[i:i + size] for i in range(len(theirs) - size + 1)}
    covered = [False] * len(mine)
    for i in range(len(mine) - size + 1):
        if mine[i:i + size] in grams:
            covered[i:i + size] = [True] * size
    return sum(covered) / len(mine)


def phrases(text: str, language: str) -> str | None:
    """Prose was asked, and every line is a short phrase that ends no sentence (a list of titles)."""
    lines = [line.strip().rstrip("*_` ") for line in text.splitlines() if line.strip()]
    short = all(len(line) <= PHRASE_CHARS if language == "ja" else len(line.split()) <= PHRASE_WORDS for line in lines)
    if lines and short and not any(line.endswith(_SENTENCE_ENDS) for line in lines):
        return f"a list of {len(lines)} phrases, not sentences ({lines[0][:40]!r})"
    return None


def structure(text: str) -> str | None:
    """Bullets labelled with an article's generic parts ("Methods:", "Results:", "Conclusion:"):
    what an article has, not what this one says."""
    labels = [m.group(0).strip(" -*+:：") for m in _STRUCTURE.finditer(text)]
    if len(labels) >= 2:
        return f"describes an article's parts ({', '.join(labels[:3])}), not what this one says"
    return None


def chatter(text: str) -> str | None:
    """Talks to the one who asked ("Here's a polished version", "I hope this helps", "承知しました"),
    not to the article's reader."""
    match = _CHATTER.search(text)
    return f"talks to the requester ({match.group(0).strip()[:40]!r}), not to the reader" if match else None


def ungrounded(text: str, ctx: GateContext) -> str | None:
    """Says nothing about its own section: no sentence names something the section's code or
    outputs hold (``ctx.anchors``) and says something about it."""
    if not ctx.anchors:
        return None
    for sentence in _SENTENCE_END.split(text.replace("\n", "。")):
        named = [a for a in ctx.anchors if _names(sentence, a)]
        rest = sentence
        for anchor in sorted(named, key=len, reverse=True):
            rest = re.sub(re.escape(anchor), " ", rest, flags=re.I)
        if named and _says_something(rest, ctx.language):
            return None
    return "names nothing its own code or outputs hold (an identifier, a call, a value) or says nothing about it"


def no_results(text: str, ctx: GateContext) -> str | None:
    """Speaks of the outputs ("the output shows...", "出力から...") without naming anything they
    hold (a value, a word of theirs): a description of results it did not read."""
    if not ctx.results or not _OUTPUT_TALK.search(text):
        return None
    values = [r for r in ctx.results if NUMBER.fullmatch(r)]
    if values:  # outputs that hold values: a draft that speaks of them states one
        return None if _states_a_value(text, values, ctx.facts) else "speaks of the outputs but states none of their values"
    if any(_names(text, result) for result in ctx.results):
        return None
    return "speaks of the outputs but names nothing they hold (none of their values or words)"


def _states_a_value(text: str, values: list[str], facts: tuple[tuple[str, str], ...]) -> bool:
    """*text* states one of the outputs' *values*: one of two digits or more, or a single digit in
    a sentence that names what it counts ("ones.sum() は 5"; a bare "0" or "2" is in any code)."""
    for _, value, _, _, sentence in claim_subjects(text):
        if not any(same_value(value, v) for v in values):
            continue
        if len(re.sub(r"\D", "", value)) >= 2:
            return True
        held = [stems(words(subject)) for recorded, subject in facts
                if same_value(value, recorded) and not subject.split()[0].endswith(".0")]
        if any(sentence & found for found in held):
            return True
    return False


def _names(sentence: str, anchor: str) -> bool:
    if anchor.isascii():
        return re.search(r"(?<![\w.])" + re.escape(anchor) + r"(?![\w])", sentence, re.I) is not None
    return anchor in sentence


def _says_something(rest: str, language: str) -> bool:
    if language == "ja":
        return sum(1 for ch in rest if is_japanese(ch)) >= SAYS_CHARS
    return len(re.findall(r"[A-Za-z]{2,}", rest)) >= SAYS_WORDS


def lead_in(text: str) -> str | None:
    lines = [line for line in text.splitlines() if line.strip()]
    rest = [line for line in lines if not (_LEADIN.match(line) and len(line.strip()) <= 60)]
    visible = "".join("".join(rest).split())
    if len(lines) > len(rest) and len(visible) < 20:
        return f"a lead-in with no content ({lines[0].strip()[:40]!r})"
    return None


def truncated(text: str, finish_reason: str) -> str | None:
    if finish_reason == "length" and not text.rstrip().endswith(_ENDS_SENTENCE):
        return "cut off mid-sentence (finish_reason = length: max_tokens ran out)"
    return None


def code_blocks(raw: str) -> str | None:
    """Mostly code blocks: code the model wrote (the article shows the real code; prose is asked)."""
    fenced = sum(len(m.group(0).strip()) for m in re.finditer(r"```.*?(?:```|$)", raw, flags=re.S))
    if fenced and fenced >= CODE_BLOCK_SHARE * len(raw.strip()):
        return f"is mostly code blocks ({fenced / len(raw.strip()):.0%} of it), not prose"
    return None


def mostly_headings(raw: str, ctx: GateContext) -> str | None:
    """Mostly Markdown headings, or lines that are (nearly) the chapter's headings or titles."""
    known = {_norm(h) for h in (*ctx.headings, *ctx.chapters) if h.strip()}
    lines = [line for line in raw.splitlines() if line.strip()]
    if not lines:
        return None
    heading_chars = sum(len(line.strip()) for line in lines if _HEADING.match(line) or _is_heading(_norm(line), known))
    if heading_chars >= 0.5 * sum(len(line.strip()) for line in lines):
        return "is mostly headings, not an explanation"
    return None


def _is_heading(line: str, known: set[str]) -> bool:
    from difflib import SequenceMatcher

    return line in known or any(SequenceMatcher(None, line, h).ratio() >= HEADING_RATIO for h in known if len(h) >= 4)


def off_topic(text: str, ctx: GateContext) -> str | None:
    if not ctx.own_terms or not ctx.other_terms:
        return None
    mentioned = terms(text)
    others = sorted(mentioned & set(ctx.other_terms))
    if len(others) >= 2 and not mentioned & set(ctx.own_terms):
        return f"is about another part of the chapter (names {', '.join(others[:3])}, none of this part's code)"
    return None


def judge(raw: str, finish_reason: str, ctx: GateContext, max_unsupported_share: float,
          wants_heading: bool = False) -> Verdict:
    """The gate's verdict on one answer (every reason that applies, in the order above)."""
    heading, body = split_heading(raw) if wants_heading else ("", raw)
    text = clean_answer(body)
    reasons = [r for r in (repetition(text), echo(text, ctx), lead_in(text), truncated(body, finish_reason),
                           mostly_headings(raw, ctx), off_topic(text, ctx), code_blocks(body), phrases(text, ctx.language), chatter(text), structure(text),
                           ungrounded(text, ctx), no_results(text, ctx)) if r]
    reason, claims = assess(text, ctx.evidence, ctx.language, max_unsupported_share, ctx.facts)
    if reason:
        reasons.append(reason)
    if heading and (len(heading) > 40 or repetition(heading + "\n" + text) or echo(heading, ctx)):
        heading = ""  # a bad heading is dropped, not the explanation
    return Verdict(text, tuple(dict.fromkeys(reasons)), tuple(claims), heading)


def proposal(raw: str, ctx: GateContext) -> tuple[str, tuple[str, ...], str | None]:
    """``(title, tags, reason it is rejected)`` from an answer asked for "タイトル: ..." and "タグ: ..."."""
    title, tags, other = "", (), 0
    for line in raw.splitlines():
        match = re.match(r"^\s*[*#-]*\s*(タイトル|title|タグ|tags)\s*[:：]\s*(.+?)\s*$", line, re.I)
        if match and match.group(1).lower() in ("タイトル", "title") and not title:
            title = match.group(2).strip("*「」\"' ")
        elif match and not tags:
            tags = tuple(dict.fromkeys(t.strip(" #*`") for t in re.split(r"[,、，]", match.group(2)) if t.strip(" #*`")))[:5]
        else:
            other += len(line.strip())
    if not title:
        return "", (), "no title line (タイトル: ...) in the answer"
    if other > PROPOSAL_EXTRA:
        return title, tags, f"says more than the title and tags asked for ({other} more characters)"
    problem = (None if 4 <= len(title) <= 60 else f"a title of {len(title)} characters") or echo(title, ctx) \
        or repetition(title) or repetition(clean_answer(raw)) \
        or ("a title made of list numbers" if len(re.findall(r"(?:^|\s)\d+\.(?:\s|$)", title)) >= 2 else None)
    if not problem and tags and any(len(t) > 30 or " " in t.strip() and len(t.split()) > 3 for t in tags):
        tags = ()  # odd tags are dropped, the title stays
    return title, tags, problem
