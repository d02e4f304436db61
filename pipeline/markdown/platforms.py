"""Each platform's rules, stated once: ``QIITA``, ``ZENN`` and ``MKDOCS``.

One object per platform holds its published limits, its Markdown dialect check and its
front-matter rules (from qiita-cli's and zenn-cli's validators; see shared/PLATFORMS.md).
Config validation (``pipeline.config``) and the export checks (``pipeline.publish.export``)
both ask these objects, so the two can never disagree.

Rule methods return plain messages (empty when the value is fine); callers add where the
value came from (``tool.pipeline.zenn.slug: ``, ``front matter: ``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime, timedelta, timezone

from pipeline.markdown.dialects import ZENN_IMAGE_TYPES, check_qiita, check_zenn
from pipeline.markdown.scanner import unwanted_characters

JST = timezone(timedelta(hours=9))


def unwanted_problems(what: str, text: str) -> list[str]:
    """*what* holds control characters, lone surrogates or noncharacters (no platform shows them)."""
    found = unwanted_characters(text)
    return [f"{what} holds {', '.join(found)} (control characters or noncharacters); remove them"] if found else []


def js_length(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units), as the platforms' validators do."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class Qiita:
    """qiita.com and qiita-cli."""

    name = "qiita"
    max_tags = 5
    #: the qiita-cli file public/<slug>.md: a file name that is the same on every system and in a URL
    slug_rule = re.compile(r"[0-9A-Za-z_-]{1,100}")
    #: a title of this many characters or more is refused (qiita-discussions #1083)
    title_limit = 256
    #: images with these extensions are shown when linked from a raw repository URL
    #: (raw hosts serve SVG as text/plain, so it is not)
    hosted_image_types = ZENN_IMAGE_TYPES

    def check(self, markdown: str) -> list[str]:
        return check_qiita(markdown)

    def tag_problems(self, tags) -> list[str]:
        if not isinstance(tags, (list, tuple)) or not 1 <= len(tags) <= self.max_tags:
            count = len(tags) if isinstance(tags, (list, tuple)) else "no list of"
            return [f"Qiita takes 1 to {self.max_tags} tags, got {count}"]
        if not all(isinstance(tag, str) and tag.strip() for tag in tags):
            return ["Qiita refuses empty tags"]
        spaced = [tag for tag in tags if re.search(r"\s", tag)]
        if spaced:
            return [f"a Qiita tag has no spaces or line breaks: {', '.join(map(repr, spaced))}"]
        return [p for tag in tags for p in unwanted_problems(f"the tag {ascii(tag)}", tag)]

    def title_problems(self, title) -> list[str]:
        if not isinstance(title, str) or not title.strip():
            return ["the title must be non-empty text"]
        if len(title) >= self.title_limit:
            return [f"the title is {len(title)} characters; Qiita refuses {self.title_limit} or more"]
        return unwanted_problems("the title", title)

    def slug_problems(self, slug) -> list[str]:
        if isinstance(slug, str) and self.slug_rule.fullmatch(slug):
            return []
        return [f"slug {slug!r}: Qiita (qiita-cli's public/<slug>.md) wants 1 to 100 ASCII letters, digits, '-' and '_'"]

    def privacy_problems(self, private: bool, organization: str | None, campaign: str | None = None) -> list[str]:
        problems = []
        if private and organization:
            problems.append("a private (limited-sharing) Qiita article cannot belong to an Organization; "
                            "make it public or leave the Organization out")
        if private and campaign:
            problems.append("a private article cannot join a posting campaign")
        return problems

    def front_matter_problems(self, values: dict) -> list[str]:
        """qiita-cli's rules for ``public/*.md``: field types, a title, 1-5 tags, no private
        article in an organization or a campaign, a campaign only with its term agreed."""
        problems = self.title_problems(values.get("title")) + self.tag_problems(values.get("tags"))
        for key in ("private", "slide"):
            if not isinstance(values.get(key), bool):
                problems.append(f"{key} must be true or false")
        if not isinstance(values.get("agreed_posting_campaign_term", False), bool):
            problems.append("agreed_posting_campaign_term must be true or false")
        for key in ("updated_at", "id", "organization_url_name", "posting_campaign_uuid"):
            if values.get(key) is not None and not isinstance(values[key], str):
                problems.append(f"{key} must be a string or null")
        campaign = values.get("posting_campaign_uuid")
        problems += self.privacy_problems(values.get("private") is True, values.get("organization_url_name"), campaign)
        if campaign and values.get("agreed_posting_campaign_term") is not True:
            problems.append("a posting campaign needs agreed_posting_campaign_term: true")
        return [f"front matter: {p}" for p in problems]


class Zenn:
    """zenn.dev and zenn-cli (articles and books in a GitHub-linked repository)."""

    name = "zenn"
    slug_rule = re.compile(r"[0-9a-z_-]{12,50}")
    publication_rule = re.compile(r"[0-9a-z_]{2,15}")
    title_limit = 70
    max_topics = 5
    topic_limit = 18
    #: an article's body, in characters of raw Markdown (zenn-community #556)
    article_limit = 80_000
    #: a book chapter (zenn-community #739)
    chapter_limit = 50_000
    image_types = ZENN_IMAGE_TYPES
    #: zenn-cli refuses larger local images
    image_bytes = 3 * 1024 * 1024
    #: a book's cover image
    cover_bytes = 1024 * 1024
    #: mermaid diagrams longer than this are not drawn
    mermaid_limit = 2_000
    #: a book chapter's file name (without .md), as listed in config.yaml's chapters
    chapter_slug_rule = re.compile(r"[0-9a-z_-]{1,50}")
    #: a paid book's price in yen (in steps of 100); 0 is free
    price_range = (200, 5_000)
    #: an output longer than this many characters is cut in the Zenn exports (the article and the
    #: book's chapters), so one long output cannot push them over their limits; the site shows it whole
    output_chars = 20_000

    def check(self, markdown: str) -> list[str]:
        return check_zenn(markdown)

    def slug_problems(self, slug) -> list[str]:
        if isinstance(slug, str) and self.slug_rule.fullmatch(slug):
            return []
        return [f"slug {slug!r}: Zenn wants 12 to 50 characters of a-z, 0-9, '-' and '_'"]

    def title_problems(self, title) -> list[str]:
        if not isinstance(title, str) or not title:
            return ["title must be a non-empty string"]
        if js_length(title) > self.title_limit:
            return [f"title is {js_length(title)} characters; Zenn allows {self.title_limit}"]
        return unwanted_problems("title", title)

    def topic_problems(self, topics) -> list[str]:
        if not isinstance(topics, (list, tuple)):
            return []  # a missing topics list is only a warning in zenn-cli
        problems = []
        if len(topics) > self.max_topics:
            problems.append(f"{len(topics)} topics; Zenn allows {self.max_topics}")
        if not all(isinstance(topic, str) and topic for topic in topics):
            problems.append("every topic must be a non-empty string")
        else:
            long = [t for t in topics if js_length(t) > self.topic_limit]
            if long:
                problems.append(f"topics longer than {self.topic_limit} characters: {', '.join(map(repr, long))}")
        return problems

    def topic_warnings(self, topics) -> list[str]:
        """What zenn-cli only warns about: a topic with an ASCII symbol or a space."""
        symbols = [t for t in topics or () if isinstance(t, str) and re.search(r"[\s!-/:-@\[-^`{-~]", t)]
        return [f"topics with a symbol or a space: {', '.join(map(repr, symbols))}"] if symbols else []

    def publication_problems(self, name) -> list[str]:
        if not name or (isinstance(name, str) and self.publication_rule.fullmatch(name)):
            return []
        return [f"publication_name must be 2-15 characters of a-z, 0-9 and '_', got {name!r}"]

    def article_problems(self, body: str, *, limit: int | None = None, what: str = "article") -> list[str]:
        """The body's length against Zenn's limit (an article's, or *limit* for *what*, a book
        chapter); the message names the limit and the fix."""
        limit = limit or self.article_limit
        if len(body) <= limit:
            return []
        if what == "article":
            fix = (f'set format = "book" under [tool.pipeline.zenn] to publish it as a Zenn book: one chapter per '
                   f"experiment, a long one cut at its headings into chapters of up to {self.chapter_limit:,} "
                   "characters; or split the experiments into several articles (projects), or shorten long outputs: "
                   "tool.pipeline.article.max_output_lines")
        else:
            fix = ("add headings (## ...) to its markdown where the build may cut it into chapters, or split the "
                   "experiment into smaller ones, or shorten its outputs: tool.pipeline.article.max_output_lines, or "
                   "the remove-output and hide-output tags")
        return [f"the {what} is {len(body):,} characters; Zenn refuses more than {limit:,} ({fix})"]

    def image_problems(self, name: str, size: int, *, limit: int | None = None) -> list[str]:
        limit = limit or self.image_bytes
        suffix = name.rsplit(".", 1)[-1].lower()
        if suffix not in self.image_types:
            return [f"{name}: Zenn shows only {', '.join(self.image_types)} images"]
        if size > limit:
            return [f"{name} is {size / 1024 / 1024:.1f} MB; Zenn shows images up to {limit / 1024 / 1024:g} MB"]
        return []

    def shorten_output(self, text: str) -> str:
        """*text* cut to ``output_chars`` (at a line end where one is near), with a marker saying so."""
        if len(text) <= self.output_chars:
            return text
        kept = text[:self.output_chars]
        if kept.rfind("\n") > self.output_chars // 2:
            kept = kept[:kept.rfind("\n")]
        return (f"{kept}\n... ({len(text) - len(kept):,} more characters not shown on Zenn; "
                "the full output is on the site version of this article)")

    def price_problems(self, price) -> list[str]:
        low, high = self.price_range
        if not isinstance(price, int) or isinstance(price, bool):
            return ["price must be a whole number of yen, not quoted"]
        if price != 0 and not (low <= price <= high and price % 100 == 0):
            return [f"price must be 0 (free) or {low:,} to {high:,} yen in steps of 100, got {price}"]
        return []

    def cover_problems(self, name: str, size: int | None = None) -> list[str]:
        """A book cover's type, and its size when known."""
        suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if suffix not in self.image_types:
            return [f"{name}: a Zenn book cover is a {', '.join(self.image_types[:-1])} or {self.image_types[-1]} image"]
        if size is not None and size > self.cover_bytes:
            return [f"{name} is {size / 1024:,.0f} KB; Zenn takes a book cover of at most {self.cover_bytes // 1024:,} KB"]
        return []

    def book_problems(self, values: dict) -> list[str]:
        """zenn-cli's fatal rules for a book's config.yaml (zenn-model's validateBook)."""
        problems = self.title_problems(values.get("title")) + self.topic_problems(values.get("topics"))
        if not isinstance(values.get("published"), bool):
            problems.append("published must be true or false (not a quoted string)")
        summary = values.get("summary")
        if not isinstance(summary, str) or not summary:
            problems.append("summary must be a non-empty string (tool.pipeline.zenn.summary)")
        problems += self.price_problems(values.get("price"))
        chapters = values.get("chapters")
        if not isinstance(chapters, list) or not all(isinstance(c, str) for c in chapters):
            problems.append("chapters must be a list of chapter file names")
        elif any(c.endswith(".md") for c in chapters):
            problems.append("chapters are listed without their .md")
        return [f"config.yaml: {p}" for p in problems]

    def chapter_problems(self, slug, values: dict) -> list[str]:
        """zenn-cli's fatal rules for a book chapter (zenn-model's validateBookChapter)."""
        problems = [] if isinstance(slug, str) and self.chapter_slug_rule.fullmatch(slug) else [
            f"chapter file name {slug!r}: Zenn wants 1 to 50 characters of a-z, 0-9, '-' and '_'"]
        problems += self.title_problems(values.get("title"))
        if values.get("free") is not None and not isinstance(values["free"], bool):
            problems.append("free must be true or false")
        return problems

    def front_matter_problems(self, values: dict, *, now: datetime | None = None) -> list[str]:
        """zenn-cli's fatal rules for an article (a missing emoji or topics, or ``tags``
        instead of ``topics``, are only warnings there and are not reported)."""
        problems = self.title_problems(values.get("title"))
        emoji = values.get("emoji")
        if isinstance(emoji, str) and emoji and not is_one_emoji(emoji):
            problems.append(f"emoji must be exactly one emoji, not {emoji!r}")
        if values.get("type") not in ("tech", "idea"):
            problems.append("type must be tech or idea")
        problems += self.topic_problems(values.get("topics"))
        published = values.get("published")
        if not isinstance(published, bool):
            problems.append("published must be true or false (not a quoted string)")
        when = values.get("published_at")
        if when is not None:
            parsed = None
            if isinstance(when, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?", when):
                try:
                    parsed = datetime.strptime(when, "%Y-%m-%d %H:%M" if " " in when else "%Y-%m-%d").replace(tzinfo=JST)
                except ValueError:
                    pass
            if parsed is None:
                problems.append("published_at must be 'YYYY-MM-DD' or 'YYYY-MM-DD hh:mm' (JST)")
            elif published is not True and parsed > (now or datetime.now(timezone.utc)):
                problems.append("a future published_at needs published: true")
        problems += self.publication_problems(values.get("publication_name"))
        return [f"front matter: {p}" for p in problems]

    def slug_for(self, config) -> str:
        """The article's Zenn slug: zenn.slug, else article.slug made to fit Zenn's rule (always
        valid): lower case, other characters as "-", lengthened to 12 with a hash of the title."""
        if config.zenn.slug:
            return config.zenn.slug
        slug = re.sub(r"[^0-9a-z_-]+", "-", config.article.slug.lower()).strip("-")[:50] or "article"
        if len(slug) < 12:
            digest = hashlib.sha1(config.article.title.encode("utf-8", "surrogatepass")).hexdigest()
            slug = f"{slug}-{digest[:max(8, 11 - len(slug))]}"
        return slug

    def topics_for(self, config) -> tuple[str, ...]:
        """At most 5 topics: zenn.topics, else the Qiita tags made to fit Zenn's rule."""
        topics = config.zenn.topics or tuple(
            re.sub(r"[\s\W]+", "", t.lower())[: self.topic_limit] for t in config.article.tags)
        return tuple(t for t in topics if t)[: self.max_topics]


class MkDocs:
    """The MkDocs (Material) site: its check is ``mkdocs build --strict``; SVG figures are shown."""

    name = "mkdocs"
    image_types = ZENN_IMAGE_TYPES + ("svg",)

    def check(self, markdown: str) -> list[str]:
        return []


QIITA, ZENN, MKDOCS = Qiita(), Zenn(), MkDocs()
PLATFORMS = {p.name: p for p in (QIITA, ZENN, MKDOCS)}


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
