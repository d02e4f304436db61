"""The untrusted-Markdown policy, stated once, here: ``sanitize_markdown`` and its allow-list
(``ALLOWED_TAGS``, ``_ATTRIBUTES``, ``_CSS``, and ``pipeline.markdown.urls.is_safe_url`` for
URLs). docs/security.md lists them, generated from these constants (``python -m pipeline.config_docs
--write``); ``pipeline.markdown.scanner`` names the three doors untrusted text goes through.

The result keeps its Markdown meaning but is self-contained: fences, ``$$`` blocks and
allowed HTML tags it opens are closed inside it, so it never swallows what follows. Only
allow-listed tags and attributes survive, a stricter subset of what Qiita's sanitizer keeps
(``pipeline.markdown.dialects.QIITA_TAGS``); others show as text. Only safe URLs survive
(an unsafe link keeps its text, an unsafe image becomes its alt text); ``:::``, ``!!!`` and
``???`` lines become text; controls become visible. It must be safe for every renderer the
article meets: CommonMark (Qiita, Zenn) and Python-Markdown with the extensions in
mkdocs.yml (MkDocs). Where they could read the text differently (which backticks pair,
where a fence or raw HTML block ends, whether "](" makes a link), it picks the reading that
leaves the text inert, and rewrites fences into one form that every renderer reads as code.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from pipeline.markdown.scanner import (
    CONTROL,
    Scanner,
    backtick_run_at,
    fence_closing,
    fence_opening,
    find_backtick_run,
    scan,
    table_lines,
    visible_controls,
)
from pipeline.markdown.urls import (
    CONTAINER,
    DEFINITION,
    OPEN_TAG,
    TAG_ATTRS,
    encode_url,
    is_safe_url,
    link_tail,
    scheme_of,
    unbracket,
)

ALLOWED_TAGS = frozenset(
    "a b blockquote br code dd del details div dl dt em font h1 h2 h3 h4 h5 h6 hr i img ins kbd li ol p pre q rp rt"
    " ruby s samp span strike strong sub summary sup table tbody td tfoot th thead tr tt ul var".split())
#: harmless wrappers that Qiita's sanitizer (or ours) refuses: the tag is dropped and its content kept, as
#: GitHub's sanitizer does; ``<center>`` becomes ``<div align="center">``, which Qiita keeps
WRAPPER_TAGS = frozenset(
    "abbr acronym address article aside bdi bdo big blink caption center cite col colgroup data dfn figcaption"
    " figure footer header hgroup label main mark marquee nav nobr picture section small source time u wbr".split())
_VOID = frozenset({"br", "hr", "img"})
_CELL = frozenset({"colspan", "rowspan", "align", "style"})
_ALIGNED = frozenset({"align"})  # Qiita keeps align= on every tag (final_sanitizer.rb, attributes "all")
_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt", "title", "width", "height", "align"}, "details": {"open"},
               "td": _CELL, "th": _CELL, "span": {"style"}, "font": {"color"}, "div": _ALIGNED, "p": _ALIGNED,
               **{f"h{n}": _ALIGNED for n in range(1, 7)}}
_ALIGN = re.compile(r"(?:^|;)\s*text-align\s*:\s*(left|right|center|justify)\s*(?:;|$)", re.I)
_CSS = frozenset({"background-color", "border", "text-align"})
_CLOSE_TAG = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_EMAIL = re.compile(r"<[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*>")
_TAGGISH = re.compile(r"<[A-Za-z/!?]")
_HTML_START = re.compile(CONTAINER + r"</?[A-Za-z]")
_PRE_START = re.compile(CONTAINER + r"<pre(?=[\s>]|$)", re.I)
_STRUCTURE = re.compile("^(" + CONTAINER + r")(:::|!!!|\?\?\?)")
_COMMENT = re.compile(r"<!--(?:-?>|[\s\S]*?-->)")
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_DANGEROUS = ("javascript", "vbscript", "data", "file")
_BARE_PIPE = re.compile(r"(?<!\\)(?:\\\\)*\|")  # splits a table cell even inside a code span ("\|" does not)
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,2}[.)])[ \t]")  # its content starts within 4 columns
#: a Python-Markdown attr_list ("{: onclick=...}") that sets an attribute able to run or load something
_ATTR_LIST = re.compile(r"\{[^}\n]*?(?<=[{\s:])(?:on\w*|href|src\w*|style|action|formaction|data[\w-]*"
                        r"|xlink:\w+|xmlns[\w:]*|background|poster|content|http-equiv)\s*=[^}\n]*\}", re.I)


def _attribute(value: str) -> str:
    return html.escape(value).replace("`", "&#96;").replace("[", "&#91;").replace("]", "&#93;")


def _style(value: str) -> str:
    kept = []
    for declaration in value.split(";"):
        name, _, css = (part.strip() for part in declaration.partition(":"))
        if name.lower() in _CSS and re.fullmatch(r"(?:[#\w\s.,%-]|(?:rgba?|hsla?)\([\d\s.,%]*\))+", css):
            kept.append(f"{name.lower()}: {css}")
    return "; ".join(kept)


def _width(text: str) -> int:
    return len(re.match(r"[ \t]*", text).group().expandtabs(4))


def _shifted(text: str, shift: int) -> str:
    """A code line moved with its fence (*shift* columns); CommonMark strips up to the
    fence's indentation from its lines anyway."""
    if shift >= 0:
        return " " * shift + text
    return text[min(-shift, len(text) - len(text.lstrip(" "))):]


def _escape_first(text: str) -> str:
    return re.sub(r"^([ \t]*)", r"\1\\", text, count=1)


def _first_comment(text: str) -> int:
    """Offset of the first "<!--" outside code fences and same-line code spans, or -1."""
    offset = 0
    for line in scan(text):
        if not line.code:
            masked = re.sub(r"(`+)(.+?)(?<!`)\1(?!`)", lambda m: " " * len(m.group()), re.sub(r"\\.", "  ", line.text))
            if "<!--" in masked:
                return offset + masked.index("<!--")
        offset += len(line.text) + 1
    return -1


class _Sanitizer:
    """One pass over a fragment, driving the scanner; ``report`` says what was changed."""

    def __init__(self) -> None:
        self.report: list[str] = []
        self.stack: list[str] = []  # allowed tags opened and not closed yet
        self.clean = True  # every backtick run of this paragraph so far was paired on its own line
        self.html = ""  # "pre" or "block" while a raw HTML block may be open
        self.pending = ""  # "definition": its URL may open the next line
        self.table = False  # the line may be a table row: a "|" in a code span may split a cell

    def note(self, message: str) -> None:
        if message not in self.report:
            self.report.append(message)

    def comments(self, text: str) -> str:
        while (at := _first_comment(text)) >= 0:
            match = _COMMENT.match(text, at)
            text = text[:at] + (text[match.end():] if match else "&lt;!--" + text[at + 4:])
            self.note("removed an HTML comment" if match else "escaped an unclosed <!--")
        return text

    def run(self, text: str) -> str:
        scanner, out, math_indent, last_code, last_text = Scanner(), [], "", False, ""
        opener, shift, raw_html = ("", "```", 0), 0, False  # (indent, fence, original width)
        tables = table_lines(scan(text))
        for number, raw in enumerate(text.split("\n"), 1):
            self.table = number in tables
            if scanner.fence:  # a less indented line ends the list item or block around the fence
                if raw.strip() and not fence_closing(raw, scanner.fence) and _width(raw) < opener[2]:
                    out.append(opener[0] + opener[1])
                    scanner.fence = ""
                    self.note("closed a code fence whose block ended")
            elif fence_opening(raw):
                if scanner.math or self.html == "pre":  # CommonMark would see a fence here, the scanner not
                    raw = _escape_first(raw)
                    self.note("escaped a fence line inside $$ math or <pre>")
                elif self.html or (_width(raw) >= 4 and out and out[-1].strip() and not last_code
                                   and not _LIST_ITEM.match(out[-1])):
                    out.append("")  # make it a fence for every parser, not HTML or paragraph text
                    self.html, self.clean = "", True
            was_math = scanner.math
            line = scanner.feed(raw)
            if line.opens:  # one form every parser reads as a fence (Python-Markdown's superfences is strict)
                width = _width(raw)  # 1-3 columns: moved to 0, or to 4 inside a list item
                indent = raw[:len(raw) - len(raw.lstrip())]
                if 0 < width < 4:
                    indent = "    " if _LIST_ITEM.match(last_text) else ""
                opener, shift, raw_html = (indent, line.fence, width), _width(indent) - width, bool(self.stack)
                out.append(indent + line.fence + re.match(r"[\w#.+-]*", line.info).group())
            elif line.code:
                out.append(opener[0] + opener[1] if line.closes else _shifted(raw, shift))
                if raw_html and not line.closes:  # raw HTML for Python-Markdown until its closing tag
                    out[-1] = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", out[-1])
            else:
                if line.math and not was_math:
                    math_indent = re.match(r"[ \t]*", raw).group()
                new = self.text_line(raw, math=line.math)
                if new is not None:
                    out.append(new)
                    last_text = new if new.strip() else last_text
            if line.code:
                self.clean, self.pending = True, ""
                if out[-1] != raw:
                    self.note("rewrote a code fence so that every parser reads it the same way")
            last_code = line.code
        if scanner.fence:
            out.append(opener[0] + opener[1])
            self.note("closed an unclosed code fence")
        elif scanner.math:
            out.append(math_indent + "$$")
            self.note("closed an unclosed $$ block")
        if self.stack:
            self.note("closed " + " ".join(f"<{tag}>" for tag in self.stack))
            out += ["", *(f"</{tag}>" for tag in reversed(self.stack))]
        return "\n".join(out)

    def text_line(self, raw: str, math: bool = False) -> str | None:
        if not raw.strip():
            self.clean, self.pending, self.html = True, "", "" if self.html == "block" else self.html
            return raw
        definition = DEFINITION.match(raw)
        if definition and not self.pending:
            label, url = definition.group(1), unbracket(definition.group(2))
            if label.startswith("^") and scheme_of(url) in _DANGEROUS or not label.startswith("^") and not is_safe_url(url):
                self.note("removed a link definition with an unsafe URL")
                return None
        saved = (list(self.stack), self.clean, self.pending, list(self.report))
        new = self.inline(raw, protect=not self.html, tags=not math)  # in $$ math no tag is live everywhere
        if not self.html and _HTML_START.match(new):  # the line starts a raw HTML block: no code span in it
            self.stack, self.clean, self.pending, self.report = saved
            self.html = "pre" if _PRE_START.match(new) else "block"
            new = self.inline(raw, protect=False, tags=not math)
        if definition and not definition.group(2) and not definition.group(1).startswith("^"):
            self.pending = "definition"  # its URL opens the next line
        if fence_opening(new) and not fence_opening(raw) or new.strip().startswith("$$") and not raw.strip().startswith("$$"):
            new = _escape_first(new)
        if _STRUCTURE.match(new):  # a character reference: "\:" and "\?" are no escapes in Python-Markdown
            new = _STRUCTURE.sub(lambda m: m.group(1) + f"&#{ord(m.group(2)[0])};" + m.group(2)[1:], new)
            self.note("escaped a ':::', '!!!' or '???' line")
        if self.html == "pre" and "</pre>" in new.lower():
            self.html = ""
        return new

    def inline(self, text: str, protect: bool, tags: bool = True) -> str:
        out: list[str] = []
        brackets: list[int] = []
        i = 0
        if self.pending:  # the URL of a definition whose "]:" ended the line before
            self.pending = ""
            token = re.match(r"[ \t]*(<[^<>]*>|[^\s<]\S*)", text)
            if token and not is_safe_url(unbracket(token.group(1))):
                out.append(text[:token.start(1)])
                i = token.end(1)
                self.note("removed an unsafe URL")
        while i < len(text):
            c = text[i]
            if c == "\\" and text[i + 1:i + 2] in _PUNCT and i + 1 < len(text):
                tag = _TAGGISH.match(text, i + 1)  # "\<" is no escape for Python-Markdown
                out.append("&lt;" if tag else text[i:i + 2])
                i += 2
            elif c == "`":
                run = backtick_run_at(text, i)
                end = find_backtick_run(text, i + run, run)
                piped = self.table and _BARE_PIPE.search(text[i + run:end])
                if end >= 0 and not piped and protect and self.clean and not self.stack:
                    out.append(text[i:end + run])  # a code span every parser agrees on (inside an HTML
                    i = end + run  # element Python-Markdown reads raw HTML until the closing tag)
                    continue
                if (end < 0 or piped) and self.html != "pre":  # in <pre>, raw text for every parser
                    self.clean = False
                out.append(text[i:i + run])
                i += run
            elif c == "<":
                piece, i = self.angle(text, i, tags and self.clean)  # after a stray backtick parsers disagree
                out.append(piece)
            elif c == "]" and text.startswith("](", i):
                text, i = self.link(text, i, out, brackets)
            elif c == "{" and _ATTR_LIST.match(text, i):
                out.append("\\{")  # MkDocs' attr_list would set the attribute
                i += 1
                self.note("escaped an attribute list that sets an event handler, URL or style")
            else:
                if c == "[":
                    brackets.append(len(out))
                elif c == "]" and brackets:
                    brackets.pop()
                out.append(c)
                i += 1
        return "".join(out)

    def link(self, text: str, i: int, out: list[str], brackets: list[int]) -> tuple[str, int]:
        bracket = brackets.pop() if brackets else -1
        image = bracket > 0 and out[bracket - 1] == "!"
        tail = link_tail(text, i + 2)
        if tail is None:  # the destination would open the next line: no link here, for any parser
            out.append("]&#40;")
            self.note("unlinked a link whose destination starts on the next line")
            return text, i + 2
        start, end, (t0, t1), close = tail
        url = unbracket(text[start:end])
        if not is_safe_url(url, image):
            self.note("removed an unsafe image" if image else "removed an unsafe link")
            if bracket >= 0 and close >= 0:  # [text](bad) -> text, ![alt](bad) -> alt
                label = "".join(out[bracket + 1:])
                del out[bracket - image:]
                out.append(label)
                return text, close + 1
            out.append("]&#40;" + text[i + 2:start])  # no link can form here any more
            return text, end
        runs_on = not text[end:].strip() or t1 == len(text) > t0  # the link may go on over the next line
        if end == start or not (close >= 0 or runs_on):
            out.append("]&#40;")  # no CommonMark link here: make sure Python-Markdown forms none either
            self.note("escaped a '](' that starts no link")
            return text, i + 2
        new, title = encode_url(url), text[t0:t1].replace("`", "&#96;")
        if new + title != text[start:end] + text[t0:t1]:
            self.note("encoded characters of a link destination or title")
        if close < 0:
            self.clean = False  # the link goes on over the next line: parsers pair backticks differently
        text = text[:start] + new + text[end:t0] + title + text[t1:]
        out.append(text[i:start + len(new)])
        return text, start + len(new)

    def angle(self, text: str, i: int, tags: bool = True) -> tuple[str, int]:
        match = _AUTOLINK.match(text, i) or _EMAIL.match(text, i)
        if match and (match.re is _EMAIL or is_safe_url(match.group(1))):
            link = re.sub(r"[`\[\]{}]", lambda m: quote(m.group()), match.group())
            if link != match.group():
                self.note("encoded a backtick, bracket or brace in a link")
            return link, match.end()
        if not match:
            match = OPEN_TAG.match(text, i) or _CLOSE_TAG.match(text, i)
            name = match.group(1).lower() if match else ""
            if match and tags and name == "center":  # the one layout wrapper with an allowed equivalent
                if match.re is OPEN_TAG:
                    return self.open_tag("div", ' align="center"'), match.end()
                name = "div"
            if match and tags and name in ALLOWED_TAGS:
                if match.re is OPEN_TAG:
                    return self.open_tag(name, match.group(2)), match.end()
                if name in self.stack:
                    closing = []
                    while not closing or closing[-1] != f"</{name}>":
                        closing.append(f"</{self.stack.pop()}>")
                    return "".join(closing), match.end()
                self.note(f"dropped a stray </{name}>")
                return "", match.end()
            if match and tags and name in WRAPPER_TAGS:
                self.note(f"dropped <{name}> (its content is kept)")
                return "", match.end()
        if match:
            self.note(f"escaped {html.escape(match.group())[:40]}")
            if not re.search(r"[`\[\]]", match.group()):
                return html.escape(match.group(), quote=False), match.end()
        elif _TAGGISH.match(text, i):
            self.note("escaped a '<' that starts no allowed tag")
        return ("&lt;" if _TAGGISH.match(text, i) else "<"), i + 1

    def open_tag(self, name: str, attributes: str) -> str:
        parts = [name]
        found = [(key.lower(), html.unescape(raw[1:-1] if raw[:1] in ("'", '"') else raw), raw)
                 for key, raw in TAG_ATTRS.findall(attributes)]
        aligned = next((_ALIGN.search(value) for key, value, _ in found if key == "style"), None)
        if "align" in _ATTRIBUTES.get(name, ()) and "style" not in _ATTRIBUTES[name] and aligned \
                and not any(key == "align" for key, _, _ in found):
            found.append(("align", aligned.group(1).lower(), aligned.group(1)))  # Qiita drops style here, keeps align
        for key, value, raw in found:
            allowed = key in _ATTRIBUTES.get(name, ())
            if allowed and key == "open":
                parts.append("open")
            elif allowed and key == "style" and _style(value):
                parts.append(f'style="{_attribute(_style(value))}"')
            elif allowed and raw and key != "style" and (key not in ("href", "src") or is_safe_url(value, key == "src")):
                parts.append(f'{key}="{_attribute(value)}"')
            else:
                self.note(f"dropped {key}= from <{name}>")
        if name not in _VOID:
            self.stack.append(name)
        return "<" + " ".join(parts) + ">"


def sanitize_report(markdown: str) -> tuple[str, list[str]]:
    """``sanitize_markdown``, and a list of what it changed (for warnings)."""
    sanitizer = _Sanitizer()
    if CONTROL.search(markdown.replace("\r\n", "\n")):
        sanitizer.note("made control characters visible")
    text = visible_controls(markdown)
    ending = "\n" if text.endswith("\n") else ""
    body = sanitizer.run(sanitizer.comments(text[:len(text) - len(ending)]))
    return body + ending, sanitizer.report


def sanitize_markdown(markdown: str) -> str:
    """Untrusted Markdown made safe and self-contained (see the module docstring):
    allow-listed HTML tags and attributes only, safe URLs only, fences, $$ blocks and
    tags closed, ':::'/'!!!'/'???' lines escaped, control characters visible."""
    return sanitize_report(markdown)[0]
