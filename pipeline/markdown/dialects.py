"""Qiita and Zenn Markdown rules, checked on the finished text of every export.

``check_qiita`` and ``check_zenn`` return one message per problem, each starting with
``line N: `` (empty when clean); both read the document through ``markdown.scan``, so they
agree with every other stage about what is code and what is math. The front-matter checks
follow qiita-cli's and zenn-cli's validators (see shared/PLATFORMS.md); their messages
start with ``front matter: ``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

from pipeline.markdown.scanner import Line, hard_wrapped, inline_math_to_qiita, math_blocks, scan

#: tags Qiita's sanitizer keeps (qiita-markdown, filters/final_sanitizer.rb)
QIITA_TAGS = frozenset(
    "a b blockquote br caption code dd del details div dl dt em font h1 h2 h3 h4 h5 h6 h7 h8 hr i img input ins"
    " kbd li ol p pre q rp rt ruby s samp section span strike strong sub summary sup table tbody td tfoot th"
    " thead tr tt ul var".split())
NOTE_KINDS = ("info", "warn", "alert")
ZENN_IMAGE_TYPES = ("png", "jpg", "jpeg", "webp", "gif")
JST = timezone(timedelta(hours=9))

_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9-]*)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]*)")
_WRAP = "paragraph continues on a new line (hard wrap); join it to the line before"


def _prose(line: Line) -> str:
    """The line without its code spans (a line of prose: not code, not math)."""
    return _CODE_SPAN.sub("", line.text)


def _fences(lines: list[Line], problems: list[str]) -> None:
    opened = next((line for line in reversed(lines) if line.opens), None)
    if lines and lines[-1].code and not lines[-1].closes and opened:
        problems.append(f"line {opened.number}: fence {opened.fence} never closed")


def check_qiita(markdown: str) -> list[str]:
    """Problems Qiita would show or hide: unclosed fences, python fences without a file
    name, bad ``:::note`` blocks, ``$$`` and plain ``$x$`` math, data: URIs, hard wraps,
    HTML that Qiita's sanitizer drops, and ``style`` outside span/td/th."""
    lines = scan(markdown)
    problems: list[str] = []
    notes: list[int] = []
    for line in lines:
        stripped = line.text.strip()
        if line.code:
            continue
        if stripped.startswith(":::") and not line.math:
            kind = stripped[3:].strip()
            if not kind:
                if notes:
                    notes.pop()
                else:
                    problems.append(f"line {line.number}: ':::' closes no open note")
            elif kind.split()[0] != "note":
                problems.append(f"line {line.number}: ':::{kind}' is not a Qiita note (use :::note info|warn|alert)")
            else:
                if kind.split()[1:] and kind.split()[1] not in NOTE_KINDS:
                    problems.append(f"line {line.number}: unknown note kind {kind!r}")
                notes.append(line.number)
            continue
        if "$$" in line.text:
            problems.append(f"line {line.number}: '$$' math does not render on Qiita; use a ```math block")
        elif inline_math_to_qiita(line.text) != line.text:
            problems.append(f"line {line.number}: inline math $...$ is fragile on Qiita; write $`...`$")
        prose = _prose(line)
        if re.search(r"\(\s*<?data:", prose, re.I) or re.search(r"""(?:src|href)\s*=\s*["']?\s*data:""", prose, re.I):
            problems.append(f"line {line.number}: data: URI (Qiita strips it)")
        for _, tag, attributes in _TAG.findall(prose):
            name = tag.lower()
            if name not in QIITA_TAGS:
                problems.append(f"line {line.number}: HTML tag <{tag}> is not kept by Qiita")
            elif re.search(r"(?:^|\s)style\s*=", attributes, re.I) and name not in ("span", "td", "th"):
                problems.append(f"line {line.number}: style on <{tag}> is dropped by Qiita "
                                "(only span, td and th keep it)")
    problems += [f"line {number}: {_WRAP}" for number in hard_wrapped(markdown)]
    _fences(lines, problems)
    problems += [f"line {number}: :::note never closed" for number in notes]
    return sorted(problems, key=_line_number)


def check_zenn(markdown: str) -> list[str]:
    """Problems Zenn would show or hide: unclosed fences, unbalanced ``:::message`` and
    ``:::details`` blocks, raw HTML other than <br>, ```` ```math ```` fences, ``$$`` blocks
    without blank lines around them, images Zenn cannot serve, hard wraps."""
    lines = scan(markdown)
    problems: list[str] = []
    blocks: list[tuple[int, int]] = []  # (colons, line number) of the open ::: blocks
    for line in lines:
        if line.opens and line.info.split(":")[0].strip() == "math":
            problems.append(f"line {line.number}: Zenn does not render ```math as math; use a $$ block")
        if line.code or line.math:
            continue
        container = re.fullmatch(r"\s*(:{3,})\s*(.*?)\s*", line.text)
        if container:
            colons, params = len(container.group(1)), container.group(2)
            if not params:
                if blocks and colons >= blocks[-1][0]:
                    blocks.pop()
                else:
                    problems.append(f"line {line.number}: '{container.group(1)}' closes no open block")
            elif not re.fullmatch(r"message\s*(alert)?|details\s+.+", params):
                problems.append(f"line {line.number}: unknown block ':::{params}' "
                                "(Zenn has :::message, :::message alert and :::details title)")
            else:
                if blocks and colons >= blocks[-1][0]:
                    problems.append(f"line {line.number}: a block nested in the one at line {blocks[-1][1]} needs "
                                    "fewer colons than it (give the outer block more, e.g. ::::details)")
                blocks.append((colons, line.number))
            continue
        prose = _prose(line)
        for _, tag, _ in _TAG.findall(prose):
            if tag.lower() != "br":
                problems.append(f"line {line.number}: Zenn shows the HTML tag <{tag}> as text (only <br> works)")
        for url in _IMAGE.findall(prose):
            path = re.split(r"[?#]", url)[0].lower()
            if not (url.startswith("/images/") or re.match(r"https?://", url, re.I)) \
                    or not path.endswith(tuple("." + kind for kind in ZENN_IMAGE_TYPES)):
                problems.append(f"line {line.number}: image {url!r} must be an /images/... path or an http(s) URL "
                                "of a png, jpg, jpeg, webp or gif file")
    for first, last, closed in math_blocks(lines):
        if not closed:
            problems.append(f"line {first + 1}: $$ block never closed")
        after = lines[last + 1].text.strip() if closed and last + 1 < len(lines) else ""
        if first > 0 and lines[first - 1].text.strip() or after:
            problems.append(f"line {first + 1}: a $$ block needs a blank line before and after it")
    problems += [f"line {number}: {_WRAP}" for number in hard_wrapped(markdown)]
    _fences(lines, problems)
    problems += [f"line {number}: ':::' block never closed" for _, number in blocks]
    return sorted(problems, key=_line_number)


def _line_number(message: str) -> int:
    return int(message.split(":")[0].split()[1])


# ---------------------------------------------------------------------------
# Front matter
# ---------------------------------------------------------------------------

def check_qiita_front_matter(values: dict) -> list[str]:
    """qiita-cli's rules: types of each field, a title, 1-5 non-empty tags, no private
    article in an organization or a campaign, a campaign only with its term agreed."""
    problems = []
    title = values.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("front matter: title must be a non-empty string")
    tags = values.get("tags")
    if not isinstance(tags, list) or not 1 <= len(tags) <= 5:
        problems.append("front matter: tags must list 1 to 5 tags")
    elif not all(isinstance(tag, str) and tag.strip() for tag in tags):
        problems.append("front matter: every tag must be a non-empty string")
    for key in ("private", "slide"):
        if not isinstance(values.get(key), bool):
            problems.append(f"front matter: {key} must be true or false")
    if not isinstance(values.get("agreed_posting_campaign_term", False), bool):
        problems.append("front matter: agreed_posting_campaign_term must be true or false")
    for key in ("updated_at", "id", "organization_url_name", "posting_campaign_uuid"):
        if values.get(key) is not None and not isinstance(values[key], str):
            problems.append(f"front matter: {key} must be a string or null")
    private, campaign = values.get("private") is True, values.get("posting_campaign_uuid")
    if private and values.get("organization_url_name"):
        problems.append("front matter: a private article cannot belong to an organization; "
                        "set private: false or organization_url_name: null")
    if private and campaign:
        problems.append("front matter: a private article cannot join a posting campaign")
    if campaign and values.get("agreed_posting_campaign_term") is not True:
        problems.append("front matter: a posting campaign needs agreed_posting_campaign_term: true")
    return problems


def _js_length(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units), as zenn-cli does."""
    return len(text.encode("utf-16-le")) // 2


def _emoji_end(text: str, i: int) -> int:
    """End of the emoji element starting at *i* (with its modifiers), or -1."""
    if i < len(text) and text[i] in "0123456789#*":
        i += 1 + (text[i + 1:i + 2] == "\ufe0f")
        return i + 1 if text[i:i + 1] == "\u20e3" else -1
    if i >= len(text) or 0x1F1E6 <= ord(text[i]) <= 0x1F1FF \
            or not (unicodedata.category(text[i]) == "So" or 0x1F000 <= ord(text[i]) <= 0x1FAFF):
        return -1  # a lone regional indicator is half a flag
    i += 1
    while i < len(text) and (text[i] == "\ufe0f" or 0x1F3FB <= ord(text[i]) <= 0x1F3FF  # variation, skin tone
                             or 0xE0020 <= ord(text[i]) <= 0xE007F):  # tag sequences (subdivision flags)
        i += 1
    return i


def is_one_emoji(text: str) -> bool:
    """Exactly one emoji: a flag, a keycap, or a pictograph with its modifiers and ZWJ joins."""
    if len(text) == 2 and all(0x1F1E6 <= ord(c) <= 0x1F1FF for c in text):
        return True
    end = _emoji_end(text, 0)
    while 0 < end < len(text) and text[end] == "\u200d":
        end = _emoji_end(text, end + 1)
    return end == len(text)


def check_zenn_front_matter(values: dict, *, now: datetime | None = None) -> list[str]:
    """zenn-cli's fatal rules for an article (a missing emoji or topics, or ``tags``
    instead of ``topics``, are only warnings there and are not reported)."""
    problems = []
    title = values.get("title")
    if not isinstance(title, str) or not title:
        problems.append("front matter: title must be a non-empty string")
    elif _js_length(title) > 70:
        problems.append(f"front matter: title is {_js_length(title)} characters; Zenn allows 70")
    emoji = values.get("emoji")
    if isinstance(emoji, str) and emoji and not is_one_emoji(emoji):
        problems.append(f"front matter: emoji must be exactly one emoji, not {emoji!r}")
    if values.get("type") not in ("tech", "idea"):
        problems.append("front matter: type must be tech or idea")
    topics = values.get("topics")
    if isinstance(topics, list):
        if len(topics) > 5:
            problems.append(f"front matter: {len(topics)} topics; Zenn allows 5")
        if not all(isinstance(topic, str) and topic for topic in topics):
            problems.append("front matter: every topic must be a non-empty string")
        elif any(_js_length(topic) > 18 for topic in topics):
            problems.append("front matter: a topic is longer than 18 characters")
    published = values.get("published")
    if not isinstance(published, bool):
        problems.append("front matter: published must be true or false (not a quoted string)")
    when = values.get("published_at")
    if when is not None:
        parsed = None
        if isinstance(when, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?", when):
            try:
                parsed = datetime.strptime(when, "%Y-%m-%d %H:%M" if " " in when else "%Y-%m-%d").replace(tzinfo=JST)
            except ValueError:
                pass
        if parsed is None:
            problems.append("front matter: published_at must be 'YYYY-MM-DD' or 'YYYY-MM-DD hh:mm' (JST)")
        elif published is not True and parsed > (now or datetime.now(timezone.utc)):
            problems.append("front matter: a future published_at needs published: true")
    name = values.get("publication_name")
    if name and not (isinstance(name, str) and re.fullmatch(r"[0-9a-z_]{2,15}", name)):
        problems.append("front matter: publication_name must be 2-15 characters of a-z, 0-9 and '_'")
    return problems


def check_zenn_slug(slug: str) -> list[str]:
    """Zenn's article slug rule (``articles/<slug>.md``)."""
    if isinstance(slug, str) and re.fullmatch(r"[0-9a-z\-_]{12,50}", slug):
        return []
    return [f"slug {slug!r}: use 12-50 characters of a-z, 0-9, '-' and '_'"]


def zenn_slug(config) -> str:
    """The Zenn article's slug: zenn.slug, else article.slug made to fit Zenn's rule."""
    import hashlib

    if config.zenn.slug:
        return config.zenn.slug
    slug = re.sub(r"[^0-9a-z_-]+", "-", config.article.slug.lower()).strip("-")[:50]
    if len(slug) < 12:
        slug = f"{slug}-{hashlib.sha1(config.article.title.encode()).hexdigest()[:8]}".strip("-")[:50]
    return slug


def zenn_topics(config) -> tuple[str, ...]:
    """At most 5 topics: zenn.topics, else the Qiita tags made to fit Zenn's rule."""
    topics = config.zenn.topics or tuple(re.sub(r"[\s\W]+", "", t.lower()) for t in config.article.tags)
    return tuple(t for t in topics if t)[:5]
