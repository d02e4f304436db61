"""Link and image URLs in Markdown: which are safe, and rewriting them.

``is_safe_url`` reads a URL's scheme the way a browser does (escapes and entities
decoded, whitespace and controls dropped, any case): only http(s), mailto (links),
relative URLs and #anchors are safe. ``rewrite_urls`` passes every link and image
URL outside code through one function (the renderer points images at figure files
and links at chapters with it; the harvester finds the images a cell shows).
The tag grammar here is CommonMark's, shared with ``pipeline.markdown.sanitize``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import quote

from pipeline.markdown.scanner import escape_inline, scan

_NAME, _VALUE = r"[A-Za-z_:][A-Za-z0-9_.:-]*", r"[^\s\"'=<>`]+|'[^']*'|\"[^\"]*\""  # CommonMark's tag grammar


TAG_ATTRS = re.compile(rf"\s+({_NAME})(?:\s*=\s*({_VALUE}))?")


OPEN_TAG = re.compile(rf"<([A-Za-z][A-Za-z0-9-]*)((?:\s+{_NAME}(?:\s*=\s*(?:{_VALUE}))?)*)\s*/?>")


CONTAINER = r"(?:[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*"  # blockquote and list markers


DEFINITION = re.compile(CONTAINER + r"\[((?:[^\\\[\]]|\\.)+)\]:[ \t]*(\S*)")


def scheme_of(url: str) -> str:
    """The URL's scheme as a browser reads it: escapes and entities decoded, whitespace and
    controls removed, lower case ("" for a relative URL or #anchor)."""
    plain = html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", url))
    match = re.match(r"([a-z][a-z0-9+.-]*):", re.sub(r"[\x00-\x20\x7f-\x9f\s`]+", "", plain).lower())
    return match.group(1) if match else ""


def is_safe_url(url: str, image: bool = False) -> bool:
    return scheme_of(url) in (("", "http", "https") if image else ("", "http", "https", "mailto"))


def unbracket(url: str) -> str:
    return url[1:-1] if url.startswith("<") and url.endswith(">") else url


def encode_url(url: str) -> str:
    """A kept link destination as a plain URL that means nothing else as text either (where
    no link forms, e.g. "](" without "["): no tag, autolink, backtick, bracket or brace."""
    url = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", url)  # CommonMark's backslash escapes
    return re.sub(r"[\s<>`\[\](){}\\\"']", lambda m: quote(m.group(), safe=""), url)


def link_tail(text: str, j: int):
    """After "](": (start, end) of the destination, (start, end) of the title and the
    index of the closing ")" (-1 if not on this line); None if the line ends first."""
    n, start = len(text), j
    while start < n and text[start] in " \t":
        start += 1
    if start == n:
        return None
    end = start
    if text[start] == "<":
        stop = text.find(">", start)
        if stop > 0 and "<" not in text[start + 1:stop]:
            end = stop + 1
    else:
        depth = 0
        while end < n and not text[end].isspace():
            if text[end] == "\\":
                end += 1
            elif text[end] == "(":
                depth += 1
            elif text[end] == ")":
                if not depth:
                    break
                depth -= 1
            end += 1
        end = start if depth else min(end, n)  # unbalanced parentheses: no destination
    k = end
    while k < n and text[k] in " \t":
        k += 1
    title = (k, k)
    if k > end and k < n and text[k] in "\"'(":  # a title needs a space before it
        closer, m = ")" if text[k] == "(" else text[k], k + 1
        while m < n and text[m] != closer:
            m += 2 if text[m] == "\\" else 1
        title, k = (k, min(m + 1, n)), min(m + 1, n)
        while k < n and text[k] in " \t":
            k += 1
    return start, end, title, (k if k < n and text[k] == ")" else -1)


_URL_SITE = re.compile(r"(!?)\[((?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*)\]\(|<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>"
                       r"|<(?:a|img)(?=[\s/>])", re.I)


def destination(url: str) -> str:
    return "<" + url.replace("<", "%3C").replace(">", "%3E") + ">" if re.search(r"[\s()<>]", url) else url


def _rewrite_line(text: str, rewrite: Callable[[str, str], str | None]) -> str | None:
    definition = DEFINITION.match(text)
    if definition and definition.group(2) and not definition.group(1).startswith("^"):
        new = rewrite("link", unbracket(definition.group(2)))
        return None if new is None else text[:definition.start(2)] + destination(new) + text[definition.end(2):]
    spans = [m.span() for m in re.finditer(r"(`+)(?!`).+?(?<!`)\1(?!`)", text)]
    out, i = [], 0
    while match := _URL_SITE.search(text, i):
        at = match.start()
        out.append(text[i:at])
        i = at + 1
        if any(start <= at < end for start, end in spans):
            out.append(text[at])
        elif match.group().startswith("<") and ":" in match.group():  # an autolink
            new = rewrite("link", match.group()[1:-1])
            out.append(escape_inline(match.group()[1:-1]) if new is None else "<" + new + ">")
            i = match.end()
        elif match.group().startswith("<"):  # <a href> or <img src>
            tag = OPEN_TAG.match(text, at)
            if not tag:
                out.append("<")
                continue
            attributes = dict((k.lower(), html.unescape(v.strip("\"'"))) for k, v in TAG_ATTRS.findall(tag.group(2)))
            key, kind = ("src", "image") if tag.group(1).lower() == "img" else ("href", "link")
            new = rewrite(kind, attributes[key]) if key in attributes else attributes.get(key)
            piece = tag.group()
            if key in attributes:
                site = next(m for m in TAG_ATTRS.finditer(tag.group(2)) if m.group(1).lower() == key)
                start, end = tag.start(2) - at + site.start(), tag.start(2) - at + site.end()
                piece = piece[:start] + ("" if new is None else f' {key}="{html.escape(new)}"') + piece[end:]
            if new is None and kind == "image":
                piece = html.escape(attributes.get("alt", ""))
            out.append(piece)
            i = tag.end()
        else:
            tail = link_tail(text, match.end())
            if tail is None or tail[3] < 0:
                out.append(text[at])
                continue
            start, end, _, close = tail
            label = _rewrite_line(match.group(2), rewrite) or ""
            new = rewrite("image" if match.group(1) else "link", unbracket(text[start:end]))
            if new is None:
                out.append(label)
            else:
                out.append(f"{match.group(1)}[{label}]({text[match.end():start]}{destination(new)}{text[end:close + 1]}")
            i = close + 1
    return "".join(out) + text[i:]


def rewrite_urls(markdown: str, rewrite: Callable[[str, str], str | None]) -> str:
    """Every link and image URL outside code goes through ``rewrite(kind, url)`` (kind "link"
    or "image", the URL as written): inline links and images, reference definitions,
    autolinks, ``<a href>`` and ``<img src>``. A string replaces the URL; None removes it:
    a link keeps its text, an image becomes its alt text, a definition disappears."""
    lines = [line.text if line.code else _rewrite_line(line.text, rewrite) for line in scan(markdown)]
    return "\n".join(line for line in lines if line is not None)


#: what a URL the pipeline writes itself may not hold: it would end or break the Markdown link or
#: HTML attribute around it (whitespace, controls, quotes, parentheses, angle brackets, backticks, backslashes)
_BREAKERS = re.compile(r"[\s\x00-\x1f\x7f-\x9f\"'()<>`\\]")
#: sample values for the placeholders of ``image_url_template``, to check it filled in
SAMPLE_PLACES = {"owner": "owner", "repo": "repo", "host": "example.com", "commit": "0" * 40, "path": "figures/a.png"}


def link_url_problems(url: str, shown: str | None = None) -> list[str]:
    """Why *url* cannot be a link the pipeline writes itself (a figure's, one made from a URL
    setting), checked like the links in the author's Markdown (``is_safe_url``) and stricter: an
    absolute http(s) URL with a host, and none of the characters that would break the link.
    Messages show *shown* (the setting as written) for *url*."""
    problems, shown = [], url if shown is None else shown
    if not (re.match(r"https?://[^/?#\s]", url, re.I) and is_safe_url(url, image=True)):
        problems.append(f"{shown!r} is not an https:// (or http://) URL")
    bad = list(dict.fromkeys(_BREAKERS.findall(url)))
    if bad:
        problems.append(f"{shown!r} holds {', '.join(repr(c) for c in bad)}; a URL cannot hold whitespace, control "
                        "characters, quotes, parentheses or angle brackets (percent-encode them: %20 for a space, "
                        "%28 and %29 for parentheses)")
    return problems


def url_setting_problems(name: str, value: str, special: tuple[str, ...] = ()) -> list[str]:
    """A URL setting's problems, each starting with *name*: empty and the *special* words (``git``)
    are fine; a template's ``{placeholders}`` are checked filled in with sample values."""
    if not value or value in special:
        return []
    filled = value
    for place, sample in SAMPLE_PLACES.items():
        filled = filled.replace("{" + place + "}", sample)
    return [f"{name}: {p}" for p in link_url_problems(filled, shown=value)]
