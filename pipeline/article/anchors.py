"""Heading anchors, as each platform makes them, and links resolved to them.

A link in an author's notebook to another experiment (``02_tokenizer.ipynb``)
or to a heading (``#Two-Interfaces``, Jupyter's anchor form) is written into the
article as a reference (``#pipeline-ref-N``) while rendering; once the whole
article is rendered, ``resolve_refs`` computes the anchor each platform gives
that heading (duplicates included) and puts it in place.

- Qiita (qiita-markdown ``filters/heading_anchor.rb``): lower-case, drop
  everything but letters, marks, digits, connector punctuation, ``-`` and
  spaces; each space becomes ``-``; duplicates get ``-1``, ``-2``.
- Zenn (markdown-it-anchor's default slugify): trim, lower-case, whitespace
  runs become ``-``, then ``encodeURIComponent``; only h1-h4 get an id;
  duplicates get ``-1``, ``-2``.
- MkDocs with ``pymdownx.slugs.slugify(case="lower")`` (set in mkdocs.yml):
  NFC, lower-case, drop ``[^\\w\\- ]``, spaces become ``-``; duplicates get ``_1``.
- Jupyter (JupyterLab, nbconvert): the heading text with spaces as ``-``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote

REF = "#pipeline-ref-{}"
_REF = re.compile(r"#pipeline-ref-(\d+)")


def _plain(text: str) -> str:
    """Heading text as the reader sees it (inline Markdown and tags dropped)."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
    return re.sub(r"[`*]|(?<!\w)_|_(?!\w)", "", text).strip()


def _is_qiita_word(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch.isalpha() or category.startswith("M") or category == "Nd" or category == "Pc"


def qiita_anchor(text: str) -> str:
    return "".join(ch for ch in text.lower() if _is_qiita_word(ch) or ch in "- ").replace(" ", "-")


def zenn_anchor(text: str) -> str:
    text = re.sub(r"\s+", "-", text.strip().lower())
    return quote(text, safe="-_.!~*'()")


def mkdocs_anchor(text: str) -> str:
    text = unicodedata.normalize("NFC", " ".join(text.split())).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def jupyter_ids(text: str) -> set[str]:
    """The anchors JupyterLab and nbconvert give a heading (links inside notebooks use them)."""
    plain = _plain(text)
    dashed = plain.replace(" ", "-")
    return {dashed, quote(dashed, safe="?/:@!$&'()*+,;="), unquote(dashed)}


_ANCHORS = {"qiita": qiita_anchor, "zenn": zenn_anchor, "mkdocs": mkdocs_anchor}


def anchors(headings: list[tuple[int, int, str]], dialect: str) -> list[str]:
    """The id of each heading (line, level, text) in document order; "" where the platform gives none."""
    slug = _ANCHORS[dialect]
    seen: dict[str, int] = {}
    taken: set[str] = set()
    out = []
    for _, level, text in headings:
        if dialect == "zenn" and level > 4:
            out.append("")
            continue
        base = slug(_plain(text))
        anchor = base
        if dialect == "mkdocs":  # Python-Markdown's toc.unique()
            while anchor in taken or not anchor:
                match = re.match(r"^(.*)_([0-9]+)$", anchor)
                anchor = f"{match.group(1)}_{int(match.group(2)) + 1}" if match else f"{anchor}_1"
        else:
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchor = f"{base}-{count}" if count else base
            while dialect == "zenn" and anchor in taken:
                anchor += "-1"
        taken.add(anchor)
        out.append(anchor)
    return out


#: what follows a number that the title is about, not numbered by: a particle ("3.14 について",
#: "0.5 の閾値") or a counter ("2 つの方法", "10 分で", "2 クラス分類")
_ABOUT_THE_NUMBER = (r"(?![ \t\u3000]*(?:について|に(?:関|つ|よ|お)|とは|の|が|を|で|と|も|や|へ|より|から|まで|は(?!じめ)"
                     r"|倍|以上|以下|未満|程度|[つ個人件枚回年月日時分秒割%％万億千層次段本台点位通]"
                     r"|クラス|エポック|ステップ|ページ|ビット|バイト|パターン|ショット))")
#: a title the author numbered (or labelled): "1.", "1)", "1.2 ", "1-1.", "2-1 ", "1 はじめに", "1章", "1.1節",
#: "第1章", "第一部", "Chapter 2", "Part II", "II. ", "(1)", "①", "演習1", "課題2:", "付録A", "§2", "Q1."
_OWN_NUMBER = re.compile(
    r"\s*(?:(?:\d{1,3}[.．)）:：、](?![\d.．])|\d{1,3}(?:[.．]\d{1,3})+[.．]?(?=\s)|\d{1,3}(?:[-‐－]\d{1,3})+(?:[.．]|(?=\s))"
    r"|\d{1,3}[ \t\u3000]+(?=[\u3040-\u30ff\u3400-\u9fff]))" + _ABOUT_THE_NUMBER +
    r"|\d{1,3}(?:[.．]\d{1,3})*\s*(?:[章部節講課話編項]|回(?!目))"
    r"|第\s*[0-9０-９一二三四五六七八九十百〇]+\s*[章部節回話編講課]"
    r"|(?:chapter|part|lesson|lecture|section|step|week|day|unit|module|exercise|session|tutorial|appendix)"
    r"\s*(?:\d+|[IVX]+\b|[A-Z]\b)"
    r"|(?:演習|課題|問題|例題|練習|付録|補遺|実習|講義|問|ステップ|レッスン)\s*(?:\d{1,3}|[A-ZＡ-Ｚ](?![A-Za-z]))"
    r"|§\s*\d|Q\d{1,2}(?:[.．:：)）]|\s+(?!\d))"
    r"|X{0,2}(?:IX|IV|V?I{1,3}|V|X)\.\s|[（(]\d{1,3}[)）]|\[\d{1,3}\]|[\u2460-\u2473\u2776-\u277f])", re.I)


def own_number(title: str) -> bool:
    """The title starts with the author's own chapter number (see ``_OWN_NUMBER``)."""
    return bool(_OWN_NUMBER.match(title))


def chapter_starts(headings: list[tuple[int, int, str]], titles: list[str] | None = None,
                   count: int | None = None) -> dict[int, int]:
    """{chapter number: index into *headings*} of each chapter's level-2 heading, found in order: the
    first level-2 heading after the chapter before whose text is "N. ..." or is the chapter's title
    (*titles*, as the template printed them: where the author numbers the chapters, each heading is
    its title alone, see ``own_number``)."""
    titles = list(titles or [])
    starts: dict[int, int] = {}
    after = 0
    for number in range(1, (count if count is not None else len(titles) or len(headings)) + 1):
        title = titles[number - 1] if number <= len(titles) else None
        index = next((i for i in range(after, len(headings)) if headings[i][1] == 2 and (
            re.match(rf"{number}\. ", _plain(headings[i][2])) or (title and headings[i][2].strip() == title.strip()))),
            None)
        if index is None:
            continue
        starts[number] = index
        after = index + 1
    return starts


@dataclass(frozen=True)
class Ref:
    """A link target: chapter *chapter* (its heading), or the heading with *heading* text inside it."""

    chapter: int
    heading: str = ""


def resolve_refs(markdown: str, dialect: str, refs: list[Ref], titles: list[str] | None = None) -> str:
    """Replace ``#pipeline-ref-N`` with the anchor of ``refs[N]`` in the rendered *markdown*.

    Chapters are the level-2 headings "N. Title" (or the title alone, see ``chapter_starts``); a
    heading reference that matches no heading of its chapter (Jupyter's anchor form is accepted)
    points at the chapter."""
    from pipeline.markdown.scanner import headings as find_headings

    if not refs or "#pipeline-ref-" not in markdown:
        return markdown
    found = find_headings(markdown)
    ids = anchors(found, dialect)
    chapters = chapter_starts(found, titles, max((ref.chapter for ref in refs), default=0))
    starts = sorted(chapters.values())

    def target(ref: Ref) -> str:
        start = chapters.get(ref.chapter)
        if start is None:
            return ""
        end = next((s for s in starts if s > start), len(found))
        if ref.heading:
            for i in range(start + 1, end):
                if ids[i] and names_heading(found[i][2], ref.heading):
                    return ids[i]
        return ids[start]

    def replace(match: re.Match) -> str:
        index = int(match.group(1))
        anchor = target(refs[index]) if index < len(refs) else ""
        return "#" + link_anchor(anchor) if anchor else "#"

    return replace_refs(markdown, replace)


def names_heading(text: str, wanted: str) -> bool:
    """Whether a link to the heading *wanted* (its text, or Jupyter's anchor form) means the heading *text*."""
    return wanted in jupyter_ids(text) or _plain(text) == _plain(wanted)


def link_anchor(anchor: str) -> str:
    """*anchor* as a link destination: brackets and spaces would end it, so they are percent-encoded
    (browsers match the decoded form)."""
    return re.sub(r"[\s()<>]", lambda m: quote(m.group()), anchor)


def replace_refs(markdown: str, replace) -> str:
    """*markdown* with each ``#pipeline-ref-N`` outside code replaced by ``replace(match)`` (group 1: N)."""
    from pipeline.markdown.scanner import scan

    return "\n".join(line.text if line.code else _REF.sub(replace, line.text) for line in scan(markdown))
