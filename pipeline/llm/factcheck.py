"""Checking drafted prose against the records it was drafted from.

- ``unsupported_claims``: numbers, token ids and quoted tokens in a draft that
  the records do not contain (a number may be rounded to the digits shown, and a
  percentage may restate a recorded fraction);
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

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?%?")
_QUOTED = re.compile(r"`([^`\n]{1,60})`|\"([^\"\n]{1,60})\"|'([^'\n]{1,60})'")
_CODE_LINE = re.compile(r"^\s*(def |class |import |from \S+ import|return\b|print\(|for .+ in .+:|if .+:|[\w.]+\s*=\s*[\w\[({'\"])")
_CODE_CHARS = set("{}[]();=<>_`\\/|#$")
MIN_CHARS = 12  # visible characters; Japanese says a lot in few


def _number_value(text: str) -> float | None:
    try:
        return float(text.rstrip("%").replace(",", ""))
    except ValueError:
        return None


def _supported_number(raw: str, known: set[str], values: list[float]) -> bool:
    plain = raw.rstrip("%").replace(",", "")
    if plain in known:
        return True
    number = _number_value(raw)
    if number is None:
        return False
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    tolerance = 0.5 * 10 ** -decimals + 1e-12
    if any(abs(number - v) <= tolerance for v in values):
        return True
    return raw.endswith("%") and any(abs(number - v * 100) <= tolerance for v in values)


def claims(draft_text: str) -> list[str]:
    """Every number and quoted token in *draft_text* (what the fact check looks at)."""
    found = [m.group(0) for m in _NUMBER.finditer(draft_text)]
    found += [m.group(0) for m in _QUOTED.finditer(draft_text)]
    return found


def unsupported_claims(draft_text: str, evidence: str) -> list[str]:
    """Numbers, token ids and quoted tokens in *draft_text* that *evidence* does not contain."""
    known = {m.group(0).rstrip("%").replace(",", "") for m in _NUMBER.finditer(evidence)}
    values = [v for v in (_number_value(k) for k in known) if v is not None]
    found = [m.group(0) for m in _NUMBER.finditer(draft_text) if not _supported_number(m.group(0), known, values)]
    for match in _QUOTED.finditer(draft_text):
        quoted = next(g for g in match.groups() if g is not None)
        if quoted.strip() and quoted not in evidence:
            found.append(match.group(0))
    return list(dict.fromkeys(found))


def mark_claims(text: str, unsupported: list[str], mark: str = "<sup>要確認</sup>") -> str:
    """Mark each unsupported claim where it stands, so a reader sees it needs checking."""
    for claim in sorted(unsupported, key=len, reverse=True):
        text = re.sub(r"(?<![\w.])" + re.escape(claim) + r"(?![\w])", lambda m: m.group(0) + mark, text)
    return text


def _is_japanese(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(("HIRAGANA", "KATAKANA", "CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH"))


def language_share(text: str, language: str) -> float:
    """The share of letters in *text* that belong to *language* ("ja": kana and kanji; else Latin)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    if language == "ja":
        return sum(_is_japanese(ch) for ch in letters) / len(letters)
    return sum(ch.isascii() for ch in letters) / len(letters)


def code_likeness(text: str) -> float:
    """How much *text* looks like code: the larger of the share of code-like lines and
    (scaled) the share of code punctuation among visible characters."""
    lines = [line for line in text.splitlines() if line.strip()]
    code_lines = sum(bool(_CODE_LINE.match(line)) for line in lines) / len(lines) if lines else 0.0
    visible = [ch for ch in text if not ch.isspace()]
    symbols = sum(ch in _CODE_CHARS for ch in visible) / len(visible) if visible else 0.0
    return max(code_lines, min(1.0, symbols * 4))


def assess(text: str, evidence: str, language: str, max_unsupported_share: float) -> tuple[str | None, list[str]]:
    """``(reason it is rejected or None, unsupported claims)`` for a drafted section."""
    unsupported = unsupported_claims(text, evidence)
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
