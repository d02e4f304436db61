"""Checking drafted prose against the records it was drafted from.

- ``unsupported_claims``: numbers, token ids and quoted tokens in a draft that
  the records do not contain (a number may be rounded to the digits shown, and a
  percentage may restate a recorded fraction);
- ``pipeline.llm.claims.misattributed``: claims whose subject the records give another
  value ("Greedy で 9" where 9 is Sampling's count), and ``misranked``: a subject ranked first
  or last where the records rank it otherwise ("the tree performs best"): false statements, so
  the draft is rejected;
- ``mark_claims``: each unsupported claim marked where it stands (要確認);
- ``assess``: whether a draft is publishable at all. A draft that is not prose
  in the article's language (code-like fragments, another language), or whose
  share of unsupported claims passes ``llm.max_unsupported_share``, is rejected
  and the author's text is used instead: Qiita asks authors not to post
  unverified AI text, and this gate is how the pipeline honours that.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.llm.claims import misattributed, misranked
from pipeline.llm.subjects import NUMBER, QUOTED, Fact, same_value

_CODE_LINE = re.compile(r"^\s*(def |class |import |from \S+ import|return\b|print\(|for .+ in .+:|if .+:|[\w.]+\s*=\s*[\w\[({'\"])")
_KANA = re.compile(r"[\u3040-\u309f]")  # a line of Japanese prose may begin "x = 3.0 で..."
_CODE_CHARS = set("{}[]();=<>_`\\/|#$")
MIN_CHARS = 12  # visible characters; Japanese says a lot in few


def claims(draft_text: str) -> list[str]:
    """Every number and quoted token in *draft_text* (what the fact check looks at)."""
    found = [m.group(0) for m in NUMBER.finditer(draft_text)]
    found += [m.group(0) for m in QUOTED.finditer(draft_text)]
    return found


def unsupported_claims(draft_text: str, evidence: str) -> list[str]:
    """Numbers, token ids and quoted tokens in *draft_text* that *evidence* does not contain."""
    known = {m.group(0).rstrip("%").replace(",", "") for m in NUMBER.finditer(evidence)}
    found = [m.group(0) for m in NUMBER.finditer(draft_text)
             if m.group(0).rstrip("%").replace(",", "") not in known and not any(same_value(m.group(0), k) for k in known)]
    for match in QUOTED.finditer(draft_text):
        quoted = next(g for g in match.groups() if g is not None)
        if quoted.strip() and quoted not in evidence:
            found.append(match.group(0))
    return list(dict.fromkeys(found))


def mark_claims(text: str, unsupported: list[str], mark: str = "<sup>要確認</sup>") -> str:
    """Mark each unsupported claim where it stands, so a reader sees it needs checking."""
    for claim in sorted(unsupported, key=len, reverse=True):
        text = re.sub(r"(?<![\w.])" + re.escape(claim) + r"(?![\w])", lambda m: m.group(0) + mark, text)
    return text


def is_japanese(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(("HIRAGANA", "KATAKANA", "CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH"))


def language_share(text: str, language: str) -> float:
    """The share of letters in *text* that belong to *language* ("ja": kana and kanji; else Latin)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    if language == "ja":
        return sum(is_japanese(ch) for ch in letters) / len(letters)
    return sum(ch.isascii() for ch in letters) / len(letters)


def code_likeness(text: str) -> float:
    """How much *text* looks like code: the larger of the share of code-like lines (without
    kana: a line of Japanese prose may begin with an assignment) and
    (scaled) the share of code punctuation among visible characters."""
    lines = [line for line in text.splitlines() if line.strip()]
    code_lines = sum(bool(_CODE_LINE.match(line)) and not _KANA.search(line) for line in lines) / len(lines) if lines else 0.0
    visible = [ch for ch in text if not ch.isspace()]
    symbols = sum(ch in _CODE_CHARS for ch in visible) / len(visible) if visible else 0.0
    return max(code_lines, min(1.0, symbols * 4))


def assess(text: str, evidence: str, language: str, max_unsupported_share: float,
           facts: tuple[Fact, ...] = ()) -> tuple[str | None, list[str]]:
    """``(reason it is rejected or None, unsupported claims)`` for a drafted section; *facts*
    tie the recorded values to their subjects."""
    unsupported = unsupported_claims(text, evidence)
    mixed = [(claim, holder) for claim, holder in misattributed(text, facts) if claim not in unsupported]
    if mixed:
        stated = "; ".join(f"{claim} ({holder})" for claim, holder in mixed[:3])
        return f"states values the records give another subject: {stated}", unsupported + [c for c, _ in mixed]
    ranked = misranked(text, facts)
    if ranked:
        stated = "; ".join(f"{claim!r} ({shown})" for claim, shown in ranked[:3])
        return f"ranks a subject against the records: {stated}", unsupported
    visible = "".join(text.split())
    if len(visible) < MIN_CHARS:
        return f"too short to be prose ({len(visible)} characters)", unsupported
    likeness = code_likeness(text)
    if likeness > 0.5:
        return f"looks like code, not prose (code-likeness {likeness:.2f})", unsupported
    share = language_share(text, language)
    minimum = 0.3 if language == "ja" else 0.8
    if share < minimum:
        return (f"not prose in the article's language ({share:.0%} of its letters are "
                f"{'Japanese' if language == 'ja' else 'Latin'}, at least {minimum:.0%} needed)"), unsupported
    total = len(list(dict.fromkeys(claims(text))))
    if total and len(unsupported) / total > max_unsupported_share:
        return (f"{len(unsupported)} of its {total} numbers and quoted tokens appear in no record "
                f"(more than tool.pipeline.llm.max_unsupported_share = {max_unsupported_share:g})"), unsupported
    return None, unsupported
