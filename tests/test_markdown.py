"""pipeline.markdown.scanner: the scanner, the line-level rewrites and the untrusted-text policy.

The sanitizer's results are parsed with markdown-it-py (CommonMark, raw HTML on, its own
URL filter off) to show what a real parser makes of them."""

from __future__ import annotations

import html
import random
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from pipeline.markdown.math import display_math_to_fences, inline_math_to_qiita
from pipeline.markdown.sanitize import ALLOWED_TAGS, sanitize_markdown, sanitize_report
from pipeline.markdown.scanner import (
    Line,
    escape_inline,
    fence_for,
    hard_wrapped,
    headings,
    scan,
    set_heading_level,
    tidy_blank_lines,
    unwrap,
    visible_controls,
)
from pipeline.markdown.urls import rewrite_urls


def _code(markdown: str) -> list[bool]:
    return [line.code for line in scan(markdown)]


# ---------------------------------------------------------------------------
# scan: CommonMark's closing rule, everywhere
# ---------------------------------------------------------------------------

def test_scan_marks_fences_and_their_info():
    lines = scan("text\n```python:a.py\nx = 1\n```\nafter")
    assert lines[1] == Line(2, "```python:a.py", code=True, opens=True, fence="```", info="python:a.py")
    assert lines[2] == Line(3, "x = 1", code=True)
    assert lines[3] == Line(4, "```", code=True, closes=True, fence="```")
    assert [l.code for l in lines] == [False, True, True, True, False]
    assert [l.number for l in lines] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("closing, closes", [
    ("```", True),
    ("`````", True),  # longer closes
    ("``", False),  # shorter does not
    ("~~~", False),  # other character does not
    ("```python", False),  # an info string on a closing line does not
    ("```   ", True),  # trailing whitespace is fine
    ("      ```", True),  # any indentation (list items, admonitions)
])
def test_scan_closing_rule(closing, closes):
    lines = scan(f"```\n{closing}\nafter")
    assert lines[1].closes is closes
    assert lines[2].code is not closes


def test_scan_fence_details():
    assert _code("````\n```\n````\nx") == [True, True, True, False]  # a shorter run inside a longer fence
    assert _code("~~~\n```\n~~~\nx") == [True, True, True, False]
    assert _code("``` a`b\nx") == [False, False]  # a backtick fence's info may not hold a backtick
    assert _code("~~~ a`b\nx\n~~~") == [True, True, True]
    assert _code("- item\n\n    ```\n    code\n    ```\nx") == [False, False, True, True, True, False]
    assert _code("```\nnever closed\n\nstill code") == [True, True, True, True]


def test_scan_marks_display_math():
    lines = scan("a\n$$\nx^2\n$$\n$$ y $$\nb\n```\n$$\n```")
    assert [l.math for l in lines] == [False, True, True, True, True, False, False, False, False]
    assert scan("  $$\n  \\alpha\n  $$")[2].math


def test_fence_for():
    assert fence_for("no ticks") == "```" and fence_for("``````") == "```````"
    assert fence_for("a ``` b") == "````" and fence_for("") == "```"


# ---------------------------------------------------------------------------
# unwrap, tidy_blank_lines, math
# ---------------------------------------------------------------------------

def test_unwrap_joins_paragraphs_and_list_items():
    assert unwrap("- a\n  b\n- c\n\n日本語の\n文章") == "- a b\n- c\n\n日本語の文章"
    assert unwrap("結果は\nGreedy で、\nSampling は") == "結果は Greedy で、Sampling は"
    assert unwrap("one\ntwo") == "one two"
    assert unwrap("!!! info\n    first\n    second") == "!!! info\n    first second"


@pytest.mark.parametrize("kept", [
    "```\nkeep\nlines\n```",
    "| a |\n| b |",
    "$$\na\nb\n$$",
    "# Title\ntext",
    "text\n# Title",
    "text\n- item",
    "<div>\ntext",
    ":::note info\ntext\n:::",
    "Title\n---\ntext",
    "text\n![image](a.png)",
    "[a]: https://a.example\n[b]: https://b.example",
    "  ```\n  x\ny\n  ```",
    "text\n&#58;::note alert\nnote\n&#58;::",
])
def test_unwrap_leaves_blocks(kept):
    assert unwrap(kept) == kept


def test_hard_wrapped_names_the_lines_unwrap_joins():
    assert hard_wrapped("a\nb\n\n```\nc\nd\n```\ne\nf") == [2, 9]
    assert hard_wrapped(unwrap("a\nb\n\nc\nd")) == []


def test_tidy_blank_lines():
    assert tidy_blank_lines("\n\na\n\n\n\nb  \n   \n\nc\n\n") == "a\n\nb  \n\nc\n"
    assert tidy_blank_lines("```\n\n\n\n```\n\n\nx") == "```\n\n\n\n```\n\nx\n"


def test_display_math_to_fences():
    assert display_math_to_fences("x\n$$\na^2\n$$\ny") == "x\n```math\na^2\n```\ny"
    assert display_math_to_fences("$$ E = mc^2 $$") == "```math\nE = mc^2\n```"
    assert display_math_to_fences("- item\n\n  $$\n  a\n  $$") == "- item\n\n  ```math\n  a\n  ```"
    assert display_math_to_fences("$$ a\nb $$") == "```math\na\nb\n```"
    assert display_math_to_fences("$$\n```\n$$") == "````math\n```\n````"
    assert display_math_to_fences("$$\nnever closed") == "$$\nnever closed"
    assert display_math_to_fences("```\n$$\nx\n$$\n```") == "```\n$$\nx\n$$\n```"


@pytest.mark.parametrize("source, expected", [
    ("$x_1$ と $y$", "$`x_1`$ と $`y`$"),
    ("already $`x`$", "already $`x`$"),
    ("costs $5 and $10", "costs $5 and $10"),
    ("escaped \\$x\\$ stays", "escaped \\$x\\$ stays"),
    ("code `$x$` stays", "code `$x$` stays"),
    ("$$ x $$", "$$ x $$"),
    ("in $a$1 not", "in $a$1 not"),  # a digit after the closing $
    ("$ x$ not", "$ x$ not"),
    ("```\n$x$\n```", "```\n$x$\n```"),
])
def test_inline_math_to_qiita(source, expected):
    assert inline_math_to_qiita(source) == expected


# ---------------------------------------------------------------------------
# headings
# ---------------------------------------------------------------------------

def test_headings():
    text = "# One\ntext\n\n## Two ##\n\nSetext\n======\n\nSecond\n---\n\n```\n# not\n```\n\n$$\n# not\n$$\n#nospace\n   ### three"
    assert headings(text) == [(1, 1, "One"), (4, 2, "Two"), (6, 1, "Setext"), (9, 2, "Second"), (20, 3, "three")]
    assert headings("- item\n---") == []


def test_set_heading_level():
    assert set_heading_level("# One\ntext", 1, 3) == "### One\ntext"
    assert set_heading_level("a\n\nTitle\n===\nb", 3, 2) == "a\n\n## Title\nb"
    with pytest.raises(ValueError):
        set_heading_level("text", 1, 2)
    with pytest.raises(ValueError):
        set_heading_level("# x", 1, 7)


# ---------------------------------------------------------------------------
# visible_controls and escape_inline
# ---------------------------------------------------------------------------

def test_visible_controls():
    assert visible_controls("a\x00b\x07c\x1bd\x7fe\tf\ng") == "a\u2400b\u2407c\u241bd\u2421e\tf\ng"
    assert visible_controls("a\r\nb\rc") == "a\nb\u240dc"


@pytest.mark.parametrize("hostile", [
    "line\nbreak", "```python", ":::note alert", "# heading", "- item", "1. item", "> quote", "[x](https://e.example)",
    "<script>alert(1)</script>", "https://example.com", "www.example.com", "*em* _em_ `code` $x$", "a | b",
    "[^1]", "![a](b.png)", "===", "??? note", "!!! danger", "&amp; &lt;", "x\x00y", "{: onclick=x}", "~~del~~",
    "meta-llama/Llama-3.1-8B", "ZeroDivisionError: division by zero", "\\ back\\slash",
])
def test_escape_inline_is_shown_literally(hostile):
    """Both parsers show exactly the text (one line, controls as pictures), in one paragraph."""
    escaped = escape_inline(hostile)
    expected = visible_controls(hostile.replace("\n", " "))
    assert "\n" not in escaped
    markdown = pytest.importorskip("markdown")
    for rendered in (MarkdownIt("commonmark").enable(["table", "strikethrough"]).render("before\n\n" + escaped),
                     markdown.markdown("before\n\n" + escaped, extensions=_MKDOCS_EXTENSIONS)):
        paragraphs = re.findall(r"<p>(.*?)</p>", rendered, re.S)
        assert len(paragraphs) == 2 and rendered.count("<") == 4, rendered  # <p> and </p>, twice: no other element
        assert html.unescape(paragraphs[1]) == expected, rendered


def test_escape_inline_keeps_numbers_and_text_readable():
    assert escape_inline("0.1235") == "0.1235" and escape_inline("3.14") == "3.14"
    assert escape_inline("1. item") == "1\\. item" and escape_inline("f(x)") == "f(x)"
    assert escape_inline("日本語のテキスト") == "日本語のテキスト"
    assert escape_inline("a < b & c") == "a &lt; b &amp; c"


# ---------------------------------------------------------------------------
# sanitize_markdown: benign Markdown comes through unchanged
# ---------------------------------------------------------------------------

BENIGN = [
    "日本語の段落です。モデルは 49152 語の語彙を持つ。",
    "- a\n- b\n  - nested\n\n1. one\n2. two",
    "| a | b |\n|---|:---:|\n| 1 | `<s>` |",
    "BOS(`<|im_start|>`)は付かない。元記事では `<s>` が付く。",  # "|" in a code span outside a table
    "一行目<br>二行目",
    "脚注<sup>1</sup>と<sub>2</sub>",
    "<details><summary>出力</summary>\n\n```text\nout\n```\n\n</details>",
    "コード `<script>alert(1)</script>` は表示だけ",
    "[Qiita](https://qiita.com) と <https://zenn.dev> と ![図](https://example.com/a.png)",
    "インライン $x_1$ と\n\n$$\na^2 + b^2\n$$",
    "```html\n<script>alert(1)</script>\n<!-- comment -->\n```",
    "[ref]\n\n[ref]: https://example.com \"title\"\n[^1]: 脚注の本文: 説明",
    '<span style="background-color: #ff0">x</span>',
    "# 見出し\n\n> 引用\n\n---\n\n**強調** と *斜体* と ~~取り消し~~",
]


@pytest.mark.parametrize("benign", BENIGN)
def test_sanitize_keeps_benign_markdown(benign):
    assert sanitize_report(benign) == (benign, [])
    assert _commonmark_problems(benign) == [] and _mkdocs_problems(benign) == []


# ---------------------------------------------------------------------------
# sanitize_markdown: the hostile battery, checked with a real CommonMark parser
# ---------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="javascript:alert(1)" alt="a">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
    "<math><mi>x</mi></math>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<span style="background:url(javascript:alert(1))">x</span>',
    '<p style="color:red" onclick="alert(1)" class="c" id="i">x</p>',
    "<form action=/x><input name=a><textarea>",
    "<img/src=x onerror=alert(1)>",
    "<img\nsrc=x\nonerror=alert(1)>",
    "\\<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java&#9;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x]( <javascript:alert(1)> )",
    "[x](vbscript:msgbox(1))",
    "[x](file:///etc/passwd)",
    "[x](\njavascript:alert(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x]: javascript:alert(1)\n\n[x] and [y][x]",
    "[x]:\n  javascript:alert(1)\n\n[x]",
    "[x]: <javascript:alert(1)> 'title'\n\n[x]",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    "![x](data:image/png;base64,AAAA)",
    "![x](javascript:alert(1) \"t\")",
    "<details><summary>s</summary>\n\nnever closed",
    "<div>\nnever closed",
    "<pre>\nnever closed",
    "a <!-- never closed",
    "<!--\n```\n-->\n<script>alert(1)</script>",
    "<![CDATA[ x ]]> <?php x ?> <!DOCTYPE html>",
    "</div> stray",
    "```python\nx",
    ":::note alert\n危険\n:::",
    "  :::message\n  x",
    "!!! danger\n    x",
    "??? note\n    x",
    "NUL\x00 BEL\x07 ESC\x1b[31m DEL\x7f CR\r",
    "<div>\n```\n\n<script>alert(1)</script>\n```",
    "<pre>\n```\n</pre>\n<script>alert(1)</script>\n```",
    "text\n    ```\n<script>alert(1)</script>\n    ```",
    "- a\n\n  ```\n  code\n<script>alert(1)</script>\n  ```",
    "```\n    ```\n```\n<script>alert(1)</script>\n```",
    "$$\n```\n$$\n```\n<script>alert(1)</script>\n```",
    "`a\n`<script>alert(1)</script>`",
    "| `<script> | </script>` |\n|---|---|",
    "> | `<script> | </script>` |\n> |---|---|",
    "| `<script> \\\\| </script>` |\n|---|---|",  # an escaped backslash, then a pipe that splits
    "- | `<script> | </script>` |\n  |---|---|",
    "<div>\n`<script>alert(1)</script>`\n</div>",
    "[a](u \"`\") `<script>alert(1)</script>`",
    "[a](x`y) `<script>alert(1)</script>`",
    "<b title='`'>x</b> `<script>alert(1)</script>`",
    "<foo a='`'> `<script>alert(1)</script>`",
    "[```](javascript:x)\n<script>alert(1)</script>\n```",
    "[<div>](javascript:x)`<script>alert(1)</script>`",
    "[x<a href=\"](javascript:alert(1))\">",
    '[click](https://example.com){: onclick="alert(1)" }',
    '# 見出し {: onclick="alert(1)"}',
    '[x](https://example.com){: href="javascript:alert(1)"}',
    '<div markdown="1" onclick="alert(1)">*x*</div>',
    "<x$ onmouseover=alert(1)>hover</x$>",
    "text\n```\n<script>alert(1)</script>\n```\n<script>alert(2)</script>",
    "<details>\n\n`<script>alert(1)</script>`\n\n</details>",  # raw HTML for Python-Markdown
    "[a](`javascript:alert(1)//` x)",  # Python-Markdown: href="javascript:alert(1)// x"
    "![a](```javascript:alert(1)//``` \"t\" x)",
    "[a](\n`javascript:alert(1)//` x)",
    "```python:a.py\n<script>alert(1)</script>\n```",  # fences superfences (MkDocs) does not read
    "``` weird info!\n<script>alert(1)</script>\n```",
    "  ```\n<script>alert(1)</script>\n  ```",
    "```\n<script>alert(1)</script>\n````\n",
    "1. step\n   ```\n   <script>alert(1)</script>\n   ```",
    "<div>\n\n```\n<script>alert(1)</script>\n```\n\n</div>",
]

_SAFE_SCHEMES = ("http:", "https:", "mailto:")
_VOID = {"br", "hr", "img"}
_BLOCK_TAGS = {"div", "details", "summary", "blockquote", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "ul",
               "ol", "li", "dl", "dd", "dt", "pre"}  # a stray closer could close the article's own container
_CLOSES_P = _BLOCK_TAGS - {"summary", "td", "th", "tr", "thead", "tbody", "tfoot", "li", "dd", "dt"} | {"p", "hr", "h1", "h2",
                                                                                        "h3", "h4", "h5", "h6"}
#: defence in depth: neither parser below misreads these, other parsers or browsers might
_DEFENCE_IN_DEPTH = {"a <!-- never closed", '[a](u "`") `<script>alert(1)</script>`'}
_MKDOCS_EXTENSIONS = ["admonition", "attr_list", "md_in_html", "tables", "pymdownx.details", "pymdownx.superfences",
                      "pymdownx.arithmatex"]  # as in mkdocs.yml


def _unsafe_href(url: str) -> bool:
    """Has a scheme (as a browser reads it) other than http, https, mailto."""
    plain = re.sub(r"[\x00-\x20]", "", url).lower()
    return bool(re.match(r"[a-z][a-z0-9+.-]*:", plain)) and not plain.startswith(_SAFE_SCHEMES)


class _Tags(HTMLParser):
    """Collects what a browser would see: tags, attributes and whether allowed tags balance."""

    def __init__(self):
        super().__init__()
        self.problems, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        if tag in _CLOSES_P and "p" in self.stack:  # as browsers do: a block start ends an open <p>
            while self.stack.pop() != "p":
                pass
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"<{tag}>")
        elif tag not in _VOID:
            self.stack.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name in ("href", "src") and _unsafe_href(value or "") \
                    or name == "style" and re.search(r"url\(|expression", value or "", re.I):
                self.problems.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass
        elif tag in _BLOCK_TAGS:
            self.problems.append(f"stray </{tag}>")

    def handle_comment(self, data):
        self.problems.append("<!--")

    def handle_pi(self, data):
        self.problems.append("<?")

    def handle_decl(self, decl):
        self.problems.append("<!")

    def unknown_decl(self, data):
        self.problems.append("<![")


def _commonmark_problems(fragment: str) -> list[str]:
    """What CommonMark (markdown-it, raw HTML on, its own URL filter off) makes of *fragment*
    followed by a heading: disallowed HTML, unsafe URLs, unbalanced tags, a swallowed heading."""
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # let unsafe URLs through, to see whether any are left
    tokens = list(_tokens(md.parse(fragment + "\n\n# After")))
    tags = _Tags()
    for token in tokens:
        if token.type in ("html_block", "html_inline"):
            tags.feed(token.content)
        for name in ("href", "src"):
            if _unsafe_href(str(token.attrGet(name) or "")):
                tags.problems.append(f"{name}={token.attrGet(name)}")
    headings_after = [t for t in tokens if t.type == "heading_open"]
    if not headings_after or tokens[tokens.index(headings_after[-1]) + 1].content != "After":
        tags.problems.append("the heading after the fragment is swallowed")
    return tags.problems + [f"unclosed <{tag}>" for tag in tags.stack]


def _mkdocs_problems(fragment: str) -> list[str]:
    """The same for the MkDocs site: Python-Markdown with the extensions of mkdocs.yml."""
    markdown = pytest.importorskip("markdown")
    tags = _Tags()
    tags.feed(markdown.markdown(fragment, extensions=_MKDOCS_EXTENSIONS,
                                extension_configs={"pymdownx.arithmatex": {"generic": True}}))
    return tags.problems


def _tokens(tokens):
    for token in tokens:
        yield token
        yield from _tokens(token.children or [])


@pytest.mark.parametrize("hostile", HOSTILE)
def test_sanitize_hostile_input(hostile):
    clean, report = sanitize_report(hostile)
    assert report, "every hostile sample should be reported"
    assert sanitize_markdown(clean) == clean  # a fixed point: sanitizing again changes nothing
    assert _commonmark_problems(clean) == [], clean
    assert _mkdocs_problems(clean) == [], clean
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", clean)
    assert not re.search(r"^[ \t]*(:::|!!!|\?\?\?)", clean, re.M)


@pytest.mark.parametrize("hostile", [h for h in HOSTILE if h not in _DEFENCE_IN_DEPTH
                                     and not re.search(r"^[ \t]*(:::|!!!|\?\?\?)|[\x00-\x1f]", h, re.M)])
def test_hostile_samples_are_caught_unsanitized(hostile):
    """Each sample is a real danger for one of the two parsers, so the test above can fail."""
    assert _commonmark_problems(hostile) or _mkdocs_problems(hostile), hostile


def test_sanitize_specific_results():
    assert sanitize_markdown("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert sanitize_markdown("<img src=x onerror=alert(1)>") == '<img src="x">'
    assert sanitize_markdown('<a href="javascript:alert(1)">x</a>') == "<a>x</a>"
    assert sanitize_markdown("[x](javascript:alert(1)) and ![alt](data:image/png;base64,AA)") == "x and alt"
    assert sanitize_markdown("<details><summary>s</summary>\n\nbody") == "<details><summary>s</summary>\n\nbody\n\n</details>"
    assert sanitize_markdown("```python\nx") == "```python\nx\n```"
    assert sanitize_markdown("  ~~~~\n  x") == "~~~~\nx\n~~~~"  # top-level fences start at column 0
    assert sanitize_markdown("$$\nx") == "$$\nx\n$$"
    assert sanitize_markdown(":::note alert\nx\n:::") == "&#58;::note alert\nx\n&#58;::"
    assert sanitize_markdown("!!! danger\n??? note") == "&#33;!! danger\n&#63;?? note"
    assert sanitize_markdown("a <!-- hidden --> b\n") == "a  b\n"
    assert sanitize_markdown("</div>") == ""  # a stray closing tag is dropped (GitHub does too), not shown
    assert sanitize_markdown("<b><i>x</b>") == "<b><i>x</i></b>"
    assert sanitize_markdown('<td style="text-align: center; position: fixed">x</td>') == \
        '<td style="text-align: center">x</td>'
    assert sanitize_markdown("x\x00y") == "x\u2400y"


def test_sanitize_rewrites_fences_in_one_portable_form():
    assert sanitize_markdown("```python:a.py\nx = 1\n```") == "```python\nx = 1\n```"
    assert sanitize_markdown("1. step\n   ```bash\n   pip install x\n   ```") == \
        "1. step\n    ```bash\n    pip install x\n    ```"
    assert sanitize_markdown("```\nx\n`````") == "```\nx\n```"
    assert sanitize_markdown("<div>\n\n```\n<b>x</b>\n```\n\n</div>") == "<div>\n\n```\n&lt;b>x&lt;/b>\n```\n\n</div>"


def test_sanitized_fences_agree_with_the_scanner():
    """Wherever the scanner sees code after sanitizing, CommonMark sees code too."""
    for hostile in HOSTILE:
        clean = sanitize_markdown(hostile)
        code_lines = {line.number for line in scan(clean) if line.code}
        parsed = set()
        for token in MarkdownIt("commonmark").parse(clean):
            if token.type in ("fence", "code_block") and token.map:
                parsed.update(range(token.map[0] + 1, token.map[1] + 1))
        assert code_lines <= parsed, (hostile, clean)


# ---------------------------------------------------------------------------
# rewrite_urls
# ---------------------------------------------------------------------------

def test_rewrite_urls_sees_every_url_outside_code():
    text = ('[a](x.md "t") ![img](fig.png) [![in](in.png)](out.html) <https://e.example/x>\n'
            '[ref]: ref.md\n<img src="pic.png" width="3"> <a href="page.html">a</a>\n'
            '`[c](code.md)`\n```\n[x](fence.md)\n```')
    seen = []
    assert rewrite_urls(text, lambda kind, url: seen.append((kind, url)) or url) == text
    assert seen == [("link", "x.md"), ("image", "fig.png"), ("image", "in.png"), ("link", "out.html"),
                    ("link", "https://e.example/x"), ("link", "ref.md"), ("image", "pic.png"), ("link", "page.html")]


def test_rewrite_urls_replaces_and_removes():
    def rewrite(kind, url):
        return None if url.startswith("gone") else "/images/" + url if kind == "image" else url + "#x"

    assert rewrite_urls("[a](p.md) ![b](f.png) ![c](<f 2.png>)", rewrite) == "[a](p.md#x) ![b](/images/f.png) ![c](</images/f 2.png>)"
    assert rewrite_urls("[text](gone.md) and ![alt](gone.png)", rewrite) == "text and alt"
    assert rewrite_urls("a\n[ref]: gone.md\nb", rewrite) == "a\nb"
    assert rewrite_urls('<img src="gone.png" alt="A &amp; B"> <a href="gone">x</a>', rewrite) == "A &amp; B <a>x</a>"


# ---------------------------------------------------------------------------
# A seeded fuzz: random mixes of Markdown-significant pieces stay safe in both parsers
# ---------------------------------------------------------------------------

_PIECES = ["`", "``", "```", "~~~", "\n", "\n\n", "    ", "  ", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
           "<div>", "</div>", "<details>", "<pre>", "</pre>", "<!--", "-->", "[", "]", "(", ")", "](", "javascript:alert(1)",
           "<javascript:alert(1)>", "![a](", "[x]: ", "$$", "$", ":::note", "!!! danger", "- ", "1. ", "> ", "|", "\\",
           '"', "'", '{: onclick="alert(1)"}', '<a href="', '">', "x", "日本語", "&#106;", "<b>", "</b>", '<span style="',
           "#", "*", "```python:a.py", "   ```", "<s>"]


@pytest.mark.parametrize("seed", range(0, 400, 4))
def test_sanitize_fuzz(seed):
    for case in range(seed, seed + 4):
        rng = random.Random(case)
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 25)))
        clean = sanitize_markdown(text)
        security = [p for p in _commonmark_problems(clean) + _mkdocs_problems(clean)
                    if not re.search(r"stray|unclosed|swallowed", p)]
        assert security == [], (case, text, clean)


def test_html_for_zenn_rebuilds_images_safely_and_leaves_code_alone():
    from pipeline.markdown.zenn import html_for_zenn

    hostile = sanitize_markdown('<img src="http://x.com/a) [pwn](javascript:alert(1)" alt="a]x">')
    converted = html_for_zenn(hostile)
    tokens = MarkdownIt("commonmark").parse(converted)
    links = [c for t in tokens if t.children for c in t.children if c.type in ("link_open", "image")]
    assert all(not (c.attrs.get("href") or c.attrs.get("src") or "").lower().startswith("javascript") for c in links)
    assert len([c for c in links if c.type == "image"]) == 1
    assert html_for_zenn("`<b>code</b>` and <b>bold</b>") == "`<b>code</b>` and bold"


# ---------------------------------------------------------------------------
# glue values in the author's prose: literal in prose and in code
# ---------------------------------------------------------------------------

def _glued(source: str, dialect: str, **values) -> str:
    from pipeline.article.observations import GlueRef, fill_markdown

    glue = {name: GlueRef(value, value) for name, value in values.items()}
    filled = fill_markdown(source, glue, table_pipe="|" if dialect == "mkdocs" else "\\|")
    return sanitize_markdown(filled)


def _render(text: str, dialect: str) -> str:
    if dialect == "mkdocs":
        return pytest.importorskip("markdown").markdown(text, extensions=_MKDOCS_EXTENSIONS)
    return MarkdownIt("commonmark").enable(["table"]).render(text)


@pytest.mark.parametrize("dialect", ["qiita", "mkdocs"])
@pytest.mark.parametrize("value", ["<s>", "<|im_start|>", "a`b", "``x``", "`", "snake_case*", "x|y", "a\nb", "$x$ \\n"])
def test_glue_values_read_literally_in_code_spans_and_prose(value, dialect):
    text = _glued("BOS (`{{ v }}`) と {{ v }}", dialect, v=value)
    rendered = _render(text, dialect)
    shown = visible_controls(value.replace("\n", " "))
    codes = re.findall(r"<code>(.*?)</code>", rendered, re.S)
    assert len(codes) == 1 and html.unescape(codes[0]).strip() == shown.strip(), (text, rendered)
    after = re.search(r"</code>\)(.*?)</p>", rendered, re.S).group(1)
    assert html.unescape(after) == " と " + shown, (text, rendered)


@pytest.mark.parametrize("dialect", ["qiita", "mkdocs"])
def test_glue_values_with_pipes_stay_in_their_table_cell(dialect):
    text = _glued("| 値 | 文字列 |\n|---|---|\n| `{{ v }}` | {{ v }} |", dialect, v="x|y<s>")
    cells = [html.unescape(re.sub(r"</?code>", "", c)) for c in re.findall(r"<td>(.*?)</td>", _render(text, dialect), re.S)]
    if dialect == "qiita":  # GFM reads "\|" in a code span as "|"
        assert cells == ["x|y<s>", "x|y<s>"], text
    else:  # a bare "|" in a code span splits a GFM cell, so the sanitizer keeps the span's "<" as text
        assert cells == ["x|y&lt;s&gt;", "x|y<s>"], text


def test_glue_values_in_fenced_code_never_close_the_fence():
    text = _glued("```\n{{ a }}\n{{ b }}\n```\nafter", "qiita", a="<s>", b="1\n```\n<script>alert(1)</script>")
    rendered = _render(text, "qiita")
    assert "<script>" not in rendered and "<p>after</p>" in rendered, rendered
    assert "&lt;s&gt;" in re.search(r"<pre><code>(.*?)</code></pre>", rendered, re.S).group(1)


# ---------------------------------------------------------------------------
# Layout HTML, math as authors write it, Zenn's badges (issue 29)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("layout, kept", [
    ('<center style="width: 100%"><img src="a.png" width="350px"></center>',
     '<div align="center"><img src="a.png" width="350px"></div>'),
    ('<font color="red" size="4">注意</font>', '<font color="red">注意</font>'),
    ('<div align="center">x</div>', '<div align="center">x</div>'),
    ('<p align="right">x</p>', '<p align="right">x</p>'),
    ('<div style="text-align: center; width: 50%">x</div>', '<div align="center">x</div>'),
    ('<span style="color: blue">青</span>', "<span>青</span>"),
    ("<u>under</u> <small>s</small> <mark>m</mark> <big>b</big>", "under s m b"),
    ('<figure><img src="a.png" alt="A"><figcaption>Cap</figcaption></figure>', '<img src="a.png" alt="A">Cap'),
    ("<section>\n\n## T\n\n</section>", "\n\n## T\n\n"),
    ("text </div> more </center>", "text  more "),
])
def test_layout_html_is_kept_or_dropped_never_escaped(layout, kept):
    """A wrapper the platforms refuse is dropped and its content kept (GitHub's sanitizer does the
    same); what Qiita keeps (align, font color) stays; nothing shows as escaped markup."""
    assert sanitize_markdown(layout) == kept


def test_tags_that_are_no_layout_still_show_as_text():
    assert sanitize_markdown("<script>x()</script>") == "&lt;script&gt;x()&lt;/script&gt;"
    assert sanitize_markdown("List<T> and <your-token>") == "List&lt;T&gt; and &lt;your-token&gt;"
    assert sanitize_markdown('<center onclick="x()">a</center>') == '<div align="center">a</div>'


@pytest.mark.parametrize("source, expected", [
    ("今回は $$ t = 0.5x + \\epsilon $$ という分布。", "今回は\n\n$$\nt = 0.5x + \\epsilon\n$$\n\nという分布。"),
    ("損失は $$\n L = \\sum_i r_i^2\n$$ で定義される。", "損失は\n\n$$\nL = \\sum_i r_i^2\n$$\n\nで定義される。"),
    ("$$ E = mc^2 $$ where E is energy", "$$\nE = mc^2\n$$\n\nwhere E is energy"),
    ("\\begin{align}\na &= b \\\\\nc &= d\n\\end{align}", "$$\n\\begin{align}\na &= b \\\\\nc &= d\n\\end{align}\n$$"),
    ("see \\[ x^2 \\] and \\( y \\) here", "see\n\n$$\nx^2\n$$\n\nand $y$ here"),
    ("- mean $$\\mu$$ of x\n- next", "- mean\n\n    $$\n    \\mu\n    $$\n\n    of x\n\n- next"),
    ("- $$\\sigma^2$$", "- $\\displaystyle \\sigma^2$"),
    ("| a | $$\\theta$$ |\n|---|---|", "| a | $\\displaystyle \\theta$ |\n|---|---|"),
    ("## Loss $$L$$", "## Loss $\\displaystyle L$"),
    ("text\n$$ a $$\nmore", "text\n\n$$ a $$\n\nmore"),
    ("a\n\n$$\nb\n\n\nc\n$$", "a\n\n$$\nb\n\n\nc\n$$"),  # a blank run that long is no math
])
def test_author_math_makes_math_one_form(source, expected):
    from pipeline.markdown.math import author_math

    assert author_math(source) == expected
    assert author_math(expected) == expected


@pytest.mark.parametrize("source, expected", [
    ("- $$\n  L = x^2\n  $$\n\nnext $y$", "- $\\displaystyle L = x^2$\n\nnext $y$"),
    ("1. $$\n   a \\\\\n   b\n   $$\n2. two\n\nnext $y$", "1. $\\displaystyle a \\\\ b$\n2. two\n\nnext $y$"),
    ("## Loss $$\nL\n$$ more\n\nnext $y$", "## Loss $\\displaystyle L$ more\n\nnext $y$"),
    ("| a | b |\n|---|---|\n式 $$\nf\n$$ 続き\n\nnext $y$", "| a | b |\n|---|---|\n式 $\\displaystyle f$ 続き\n\nnext $y$"),
    ("> 引用 $$\n> q\n> $$ 後\n\nnext $y$", "> 引用 $\\displaystyle q$ 後\n\nnext $y$"),
])
def test_display_math_over_lines_where_no_block_can_stand_is_one_inline_formula(source, expected):
    """A list item that is only display math, a heading, a table row or a quote: math over several lines
    becomes one $\\displaystyle ...$ (left as it was, its closing "$$" line opened a math block that
    swallowed the paragraphs after it)."""
    from pipeline.article.chapters import Prose
    from pipeline.markdown.math import author_math

    assert author_math(source) == expected
    qiita = Prose("qiita", None, {}).finish(source, author=True)
    assert qiita.endswith("next $`y`$") and "```math" not in qiita, qiita


def test_text_after_display_math_keeps_its_own_indentation_when_a_list_follows():
    """The rest of a paragraph after its display math is indented like that paragraph, not like the
    list item with math that comes next (4 spaces would make it an indented code block)."""
    from pipeline.markdown.math import author_math

    source = "データは $$ y = 2x + 1 $$ に従う。\n\n1. ノイズ $$\\varepsilon$$ を足す\n2. 次"
    assert author_math(source) == ("データは\n\n$$\ny = 2x + 1\n$$\n\nに従う。\n\n"
                                   "1. ノイズ\n\n    $$\n    \\varepsilon\n    $$\n\n    を足す\n\n2. 次")
    source = "- 項目 $$a$$ の後\n\n本文 $$b$$ の後"
    assert author_math(source) == ("- 項目\n\n    $$\n    a\n    $$\n\n    の後\n\n\n"
                                   "本文\n\n$$\nb\n$$\n\nの後")


@pytest.mark.parametrize("kept", [
    "price is $5 and $10", "`$$ code $$` and `\\begin{align}`", "```\n$$ x $$ y\n```", "an unclosed $$ x",
    "inline $a$$b$ stays", "\\$\\$ escaped \\$\\$",
])
def test_author_math_leaves_what_is_no_display_math(kept):
    from pipeline.markdown.math import author_math

    assert author_math(kept) == kept


def test_math_entities_give_tex_the_signs_the_sanitizer_escaped():
    from pipeline.markdown.math import math_entities, math_for_katex

    sanitized = sanitize_markdown("$0<x<1$ and\n\n$$\na<b\n$$\n\n`a<b` <b>x</b>")
    assert math_entities(sanitized) == "$0\\lt x<1$ and\n\n$$\na\\lt b\n$$\n\n`a<b` <b>x</b>"
    assert math_for_katex("$$\n\\begin{eqnarray}\na &=& b\n\\end{eqnarray}\n$$") == \
        "$$\n\\begin{array}{rcl}\na &=& b\n\\end{array}\n$$"


def test_badges_for_zenn_become_links_with_their_alt_text():
    from pipeline.markdown.zenn import badges_for_zenn, html_for_zenn

    source = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google"
              ".com/github/u/r/blob/main/a.ipynb) ![Status](https://img.shields.io/badge/status-beta-yellow) "
              "![](https://example.org/logo.svg) ![plot](https://example.org/plot.png) `![x](https://img.shields.io/a)`")
    text, found = badges_for_zenn(source)
    assert text == ("[Open In Colab](https://colab.research.google.com/github/u/r/blob/main/a.ipynb) "
                    "[Status](https://img.shields.io/badge/status-beta-yellow) [example\\.org](https://example.org/logo.svg) "
                    "![plot](https://example.org/plot.png) `![x](https://img.shields.io/a)`")
    assert found == ["https://colab.research.google.com/assets/colab-badge.svg",
                     "https://img.shields.io/badge/status-beta-yellow", "https://example.org/logo.svg"]
    html = sanitize_markdown('<a href="https://mybinder.org/v2/gh/u/r" target="_blank"><img src="https://mybinder.org/'
                             'badge_logo.svg" alt="Binder"></a> <img src="/x.png" width="300px"> <a href="javascript:x">y</a>')
    assert html_for_zenn(html) == ("[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/u/r) "
                                   "![](/x.png =300x) y")


def test_a_badge_linked_over_several_lines_keeps_its_link_on_zenn():
    """Colab's HTML badge, as notebooks paste it: the <a> around the <img> spans three lines. On Zenn
    the badge becomes a link to the notebook (the <a>'s target), not to the badge's SVG."""
    from pipeline.markdown.zenn import badges_for_zenn, html_for_zenn

    html = sanitize_markdown('<a href="https://colab.research.google.com/github/u/r/blob/main/a.ipynb" target="_parent">'
                             '\n  <img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/>'
                             '\n</a>\n\nnext paragraph\n<a href="https://example.org/">an\nexample</a>')
    text, found = badges_for_zenn(html_for_zenn(html))
    assert text == ("[Open In Colab](https://colab.research.google.com/github/u/r/blob/main/a.ipynb)\n\n"
                    "next paragraph\n[an example](https://example.org/)")
    assert found == ["https://colab.research.google.com/assets/colab-badge.svg"]


def test_a_pre_block_with_backticks_in_it_still_ends_at_its_closing_tag():
    """A directory tree in <pre> as a course notebook draws it (the backticks are tree lines, raw text
    inside the HTML block for every parser): </pre> still closes it, so the prose after it stays prose."""
    source = ("ファイル構成:\n\n<pre>\n| BCCD\n| |-- Annotations\n| |   `-- BloodImage_00XYZ.xml (364 items)\n"
              "| `-- JPEGImages\n</pre>\n\nこの構成は **Pascal VOC** の形式です。\n\n- `train.txt`: 学習用")
    assert sanitize_markdown(source) == source
    for dialect in ("qiita", "mkdocs"):
        html = _render(sanitize_markdown(source), dialect)
        assert "&lt;/pre" not in html and "<strong>Pascal VOC</strong>" in html, html


def test_a_pre_block_is_a_code_block_on_zenn():
    """Zenn shows no raw HTML: a <pre> block (a directory tree, aligned output) becomes a fence with
    its lines as they were, not a paragraph whose spaces collapse and whose backticks pair up."""
    from pipeline.markdown.zenn import html_for_zenn

    source = ("木構造:\n\n<pre>\n| BCCD\n| |-- Annotations\n| |   `-- a &amp; b <b>x</b>.xml\n</pre>\n\n"
              "後の段落 <pre>inline</pre> です。")
    assert html_for_zenn(sanitize_markdown(source)) == (
        "木構造:\n\n```text\n| BCCD\n| |-- Annotations\n| |   `-- a & b x.xml\n```\n\n後の段落 inline です。")


def test_an_anchor_without_a_link_joins_no_lines_on_zenn():
    """``<a name="top">`` left open above a heading (the sanitizer closes it at the end of the cell):
    no link to join, so the heading stays a heading."""
    from pipeline.markdown.zenn import html_for_zenn

    text = html_for_zenn(sanitize_markdown('<a name="top">\n## 見出し\n本文です。\n\n<a href="https://example.org/">x\n\n'
                                           "y</a>"))
    assert "\n## 見出し\n本文です。\n" in text and "[x" not in text, text
