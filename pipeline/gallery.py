"""Sphinx-gallery scripts (scikit-learn's and matplotlib's examples), read as their authors meant.

A gallery script is a Python file whose module docstring opens with a reStructuredText title
(the example's name), and whose ``# %%`` cells (or ``####...`` lines) open with a block of ``#``
comments written in reStructuredText: the example's prose. ``is_gallery`` tells one apart from a
Jupytext percent script (which has ``# %% [markdown]`` cells instead); ``read_gallery`` reads it
into a notebook:

- sphinx-gallery's own parser (``split_code_and_text_blocks``, what the gallery build runs) cuts
  the file into text and code blocks with their line numbers; its in-file settings
  (``# sphinx_gallery_thumbnail_number = 2``) are dropped from the code;
- docutils parses all the text of the file as one reStructuredText document, so that heading
  styles nest as in the built gallery (the docstring's title is the H1, the sections below it
  H2, ...); ``_Markdown`` writes the document tree as Markdown: headings, paragraphs, lists,
  literal and code blocks, math, links, images, and admonitions as GitHub alerts (which
  ``pipeline.markdown.boxes`` turns into each platform's box). Sphinx's cross-reference roles
  (``:class:`~sklearn.svm.SVC```, ``:func:``, ``:ref:`label```...) become code or plain text, as
  Sphinx shows them without a link target; Sphinx-only directives without text for a reader
  (``currentmodule``, ``minigallery``...) are dropped. Nothing is read from disk (``include`` is off).

Why these libraries: sphinx-gallery defines the format, so its parser agrees with the gallery on
every file; docutils is the reference reStructuredText parser (Sphinx's own), pure Python. Pandoc
would need a 150 MB binary, rst-to-myst writes MyST roles and directives that Qiita and Zenn do
not read, and sphinx-gallery's own ``rst2md`` (regular expressions, for its notebook downloads)
leaves roles and literal blocks as reST.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pipeline.markdown.scanner import code_span, escape_inline, fence_for

_TITLE = re.compile(r"(?:([!-/:-@\[-`{-~])\1{2,}[ \t]*\n)?[ \t]*\S[^\n]*\n([!-/:-@\[-`{-~])\2{2,}[ \t]*(?:\n|$)")
_MARKDOWN_CELL = re.compile(r"^#\s*%%.*\[(?:markdown|md)\]", re.M)
_BLOCK = "pipeline-gallery-block-{}"
_SETTING = re.compile(r"[ \t]*#\s*sphinx_gallery_\w+")  # an in-file setting (dropped from the code)
_ROLE = re.compile(r"(?<![\w`\\]):((?:[A-Za-z][\w+.-]*:)?[A-Za-z][\w+.-]*):`")
#: roles Sphinx shows as code (cross-references to Python objects and the like)
_CODE_ROLES = ("class", "func", "meth", "mod", "attr", "obj", "data", "exc", "const", "envvar", "option",
               "program", "file", "samp", "kbd", "command", "makevar", "regexp", "menuselection", "guilabel")
_ALERTS = {"note": "NOTE", "seealso": "NOTE", "hint": "TIP", "tip": "TIP", "important": "IMPORTANT",
           "warning": "WARNING", "attention": "WARNING", "caution": "CAUTION", "danger": "CAUTION",
           "error": "CAUTION", "admonition": "NOTE"}


def is_gallery(text: str) -> bool:
    """Whether a .py file is a sphinx-gallery example: valid Python whose module docstring starts
    with a reStructuredText title, and no Jupytext markdown cells."""
    if _MARKDOWN_CELL.search(text):
        return False
    try:
        docstring = ast.get_docstring(ast.parse(text), clean=True)
    except (SyntaxError, ValueError):
        return False
    return bool(docstring and _TITLE.match(docstring.strip("\n")))


def read_gallery(path: Path):
    """The gallery script at *path* as a notebook: text blocks as markdown cells, code blocks as
    code cells, each with ``metadata.pipeline.lines`` (its 1-based line range in the file)."""
    import nbformat
    from sphinx_gallery.py_source_parser import remove_config_comments, split_code_and_text_blocks

    _, blocks = split_code_and_text_blocks(str(path))
    texts = [content for kind, content, _ in blocks if kind == "text"]
    prose = iter(rst_to_markdown(texts))
    cells = []
    for kind, content, first in blocks:
        rows = content.split("\n")
        shown = [i for i, row in enumerate(rows) if row.strip() and not (kind == "code" and _SETTING.match(row))]
        lines = [first + shown[0], first + shown[-1]] if shown else None
        if kind == "text":
            source = next(prose)
            if lines and first == 1:  # the docstring: from its opening quotes on
                lines[0] = 1
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            source = remove_config_comments(content).strip("\n")
            cell = nbformat.v4.new_code_cell(source)
        if source.strip():
            cell.metadata["pipeline"] = {"lines": lines}
            cell["id"] = f"cell-{len(cells) + 1}"
            cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells, metadata={"pipeline": {}})


def rst_to_markdown(texts: list[str]) -> list[str]:
    """Each reStructuredText block of one file as Markdown (parsed together, see the module docstring)."""
    from docutils.core import publish_doctree

    _register(texts)
    source = "\n\n".join(f"{text.rstrip()}\n\n.. {_BLOCK.format(i)}" for i, text in enumerate(texts))
    settings = {"report_level": 5, "halt_level": 5, "file_insertion_enabled": False, "raw_enabled": False,
                "doctitle_xform": False, "sectsubtitle_xform": False, "syntax_highlight": "none",
                "smart_quotes": False, "warning_stream": False, "input_encoding": "unicode"}
    writer = _Markdown()
    writer.walk(publish_doctree(source, settings_overrides=settings), 0)
    return ["\n\n".join(chunk).strip() for chunk in writer.chunks[:len(texts)]]


# ---------------------------------------------------------------------------
# Sphinx's roles and directives, for docutils
# ---------------------------------------------------------------------------

def _register(texts: list[str]) -> None:
    """Every role the text uses that docutils lacks becomes code or plain text; Sphinx's directives
    that hold text for a reader are given their meaning, the others drop out."""
    from docutils.parsers.rst import directives, roles

    for name in {m.group(1).lower() for text in texts for m in _ROLE.finditer(text)}:
        if not roles._roles.get(name) and name not in roles._role_registry:
            roles.register_local_role(name, _code_role if name.split(":")[-1] in _CODE_ROLES else _text_role)
    known = {"code-block": _code_block(), "sourcecode": _code_block(), "seealso": _admonition("See also"),
             "versionadded": _version("New in version"), "versionchanged": _version("Changed in version"),
             "deprecated": _version("Deprecated since version"), "only": _container(), "math": _math()}
    for name, directive in known.items():
        directives.register_directive(name, directive)


def _target(text: str) -> tuple[str, str]:
    """("title", "target") of a role's text: "title <target>" or "target"."""
    match = re.fullmatch(r"(.*?)\s*<([^<>]+)>", text, re.S)
    return (match.group(1).strip(), match.group(2)) if match and match.group(1).strip() else ("", text.strip())


def _code_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    from docutils import nodes, utils

    title, target = _target(utils.unescape(text))
    shown = title or target.lstrip("!")
    if not title and shown.startswith("~"):
        shown = shown[1:].rsplit(".", 1)[-1]
    if name.split(":")[-1] in ("func", "meth") and not title and not shown.endswith(")"):
        shown += "()"
    return [nodes.literal(rawtext, shown)], []


def _text_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    from docutils import nodes, utils

    title, target = _target(utils.unescape(text))
    if not title and name.split(":")[-1] == "doc":
        target = target.rstrip("/").rsplit("/", 1)[-1]
    example = re.fullmatch(r"sphx_glr_\w*?_?((?:plot|demo)_\w+\.py)", target)
    if not title and example:  # another gallery example: its file name, which a reader can find
        return [nodes.literal(rawtext, example.group(1))], []
    return [nodes.inline(rawtext, title or target.lstrip("~!"))], []


class _AnyOptions(dict):
    """An option spec that takes every option (Sphinx's code-block has many docutils lacks)."""

    def __contains__(self, key) -> bool:
        return True

    def __bool__(self) -> bool:  # docutils reads options only where the spec is truthy
        return True

    def __getitem__(self, key):
        from docutils.parsers.rst import directives

        return directives.unchanged


def _code_block():
    from docutils.parsers.rst.directives.body import CodeBlock

    return type("SphinxCodeBlock", (CodeBlock,), {"option_spec": _AnyOptions(), "optional_arguments": 1})


def _math():
    """Sphinx's math directive: docutils' with Sphinx's options (:label:, :nowrap:, ...), which
    docutils would refuse, losing the equation."""
    from docutils.parsers.rst.directives.body import MathBlock

    return type("SphinxMath", (MathBlock,), {"option_spec": _AnyOptions()})


def _admonition(title: str):
    from docutils import nodes
    from docutils.parsers.rst.directives.admonitions import BaseAdmonition

    class Admonition(BaseAdmonition):
        node_class, option_spec = nodes.note, _AnyOptions()

        def run(self):
            result = super().run()
            result[0].insert(0, nodes.title(title, title))
            return result

    return Admonition


def _version(words: str):
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class Version(Directive):
        required_arguments, optional_arguments, final_argument_whitespace, has_content = 1, 1, True, True
        option_spec = _AnyOptions()

        def run(self):
            version, _, rest = " ".join(self.arguments).partition(" ")
            text = f"{words} {version}" + (f": {' '.join(rest.split())}" if rest.strip() else "")
            node = nodes.paragraph("", "", nodes.emphasis(text, text))
            body = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, body)
            return [node, *body.children]

    return Version


def _container():
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class Container(Directive):
        optional_arguments, final_argument_whitespace, has_content = 1, True, True
        option_spec = _AnyOptions()

        def run(self):
            body = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, body)
            return list(body.children)

    return Container


# ---------------------------------------------------------------------------
# The document tree as Markdown
# ---------------------------------------------------------------------------

class _Markdown:
    """Writes a docutils document as Markdown blocks, one chunk per text block of the file."""

    _SKIPPED = ("target", "substitution_definition", "system_message", "comment", "raw", "pending", "decoration")

    def __init__(self) -> None:
        self.chunks: list[list[str]] = [[]]
        self.start = True  # the next text starts a line (where "1." or "-" would make a list)

    def walk(self, node, level: int) -> None:
        name = type(node).__name__
        if name == "comment" and re.fullmatch(_BLOCK.format(r"\d+"), node.astext().strip()):
            self.chunks.append([])
        elif name in ("document", "section"):
            for child in node.children:
                if type(child).__name__ == "title":
                    self.chunks[-1].append("#" * min(6, level) + " " + self.text(child))
                else:
                    self.walk(child, level + 1 if type(child).__name__ == "section" else level)
        elif name not in self._SKIPPED:
            text = self.block(node)
            if text.strip():
                self.chunks[-1].append(text)

    def blocks(self, nodes) -> str:
        return "\n\n".join(text for text in (self.block(child) for child in nodes) if text.strip())

    def block(self, node) -> str:
        name = type(node).__name__
        if name in self._SKIPPED:
            return ""
        if name == "paragraph":
            return self.text(node)
        if name in ("bullet_list", "enumerated_list"):
            start = node.get("start", 1)
            items = []
            for k, item in enumerate(node.children):
                marker = "-" if name == "bullet_list" else f"{start + k}."
                body = self.blocks(item.children).replace("\n", "\n" + " " * (len(marker) + 1))
                items.append(f"{marker} {body}")
            return "\n".join(items)
        if name in ("literal_block", "doctest_block"):
            text = node.astext()
            classes = [c for c in node.get("classes", []) if c != "code"]
            language = "pycon" if name == "doctest_block" else classes[0] if classes else _language(text)
            fence = fence_for(text)
            return f"{fence}{language}\n{text}\n{fence}"
        if name == "math_block":  # lines broken with \\ are one aligned equation, as Sphinx's split makes them
            tex = node.astext().strip()
            if "\\\\" in tex and "nowrap" not in node.attributes and not tex.startswith("\\begin{"):
                tex = f"\\begin{{aligned}}\n{tex}\n\\end{{aligned}}"
            return "$$\n" + tex + "\n$$"
        if name in ("footnote", "citation"):  # where the author wrote it, after its label
            label = "".join(c.astext() for c in node.children if type(c).__name__ == "label")
            return escape_inline(f"[{label}] ") + self.blocks([c for c in node.children if type(c).__name__ != "label"])
        if name in _ALERTS:
            title = [self.text(c) for c in node.children if type(c).__name__ == "title"]
            body = self.blocks([c for c in node.children if type(c).__name__ != "title"])
            text = (f"**{title[0]}**\n\n" if title else "") + body
            return f"> [!{_ALERTS[name]}]\n" + "\n".join(f"> {row}".rstrip() for row in text.split("\n"))
        if name == "block_quote":
            return "\n".join(f"> {row}".rstrip() for row in self.blocks(node.children).split("\n"))
        if name in ("definition_list", "field_list"):
            return "\n\n".join(self.block(item) for item in node.children)
        if name in ("definition_list_item", "field"):
            term = [self.text(c) for c in node.children if type(c).__name__ in ("term", "field_name")]
            body = self.blocks([c for c in node.children if type(c).__name__ in ("definition", "field_body")])
            return f"**{' '.join(term)}**: {body}" if body else f"**{' '.join(term)}**"
        if name in ("definition", "field_body", "container", "compound", "topic", "sidebar", "legend", "caption"):
            return self.blocks(node.children)
        if name in ("rubric", "title"):
            return f"**{self.text(node)}**"
        if name == "image":
            return self.text(node)
        if name == "figure":
            image = self.blocks([c for c in node.children if type(c).__name__ == "image"])
            caption = [self.text(c) for c in node.children if type(c).__name__ == "caption"]
            return image + (f"\n*{caption[0]}*" if caption else "")
        if name == "line_block":
            return "<br>\n".join(self.text(line) for line in node.children)
        if name == "transition":
            return "---"
        if name == "table":
            return self.table(node)
        if all(type(child).__name__ == "Text" for child in node.children):
            return escape_inline(node.astext())
        return self.blocks(node.children)

    def table(self, node) -> str:
        rows = [[" ".join(self.blocks(entry.children).split("\n")).replace("|", "\\|") for entry in row.children]
                for row in node.findall(lambda n: type(n).__name__ == "row")]
        if not rows:
            return ""
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])

    def text(self, node) -> str:
        """The inline content of a block-level *node*, on one line."""
        self.start = True
        return self.inline(node)

    def inline(self, node) -> str:
        name = type(node).__name__
        if name == "Text":
            text, self.start = escape_inline(str(node), line_start=self.start), False
            return text
        inner = "".join(self.inline(child) for child in node.children) if name != "literal" else ""
        if name == "emphasis":
            return f"*{inner}*"
        if name == "strong":
            return f"**{inner}**"
        if name in ("literal", "title_reference"):
            return code_span(node.astext())
        if name == "math":
            return "$" + node.astext().strip() + "$"
        if name == "reference":
            uri = node.get("refuri", "")
            return f"[{inner}]({uri})" if uri and not uri.startswith(("javascript:", "data:")) else inner
        self.start = False
        if name == "image":
            alt = escape_inline(node.get("alt", ""))
            return f"![{alt}]({node.get('uri', '')})"
        if name in ("subscript", "superscript"):
            tag = "sub" if name == "subscript" else "sup"
            return f"<{tag}>{inner}</{tag}>"
        if name in ("footnote_reference", "citation_reference"):
            return f"[{escape_inline(node.astext())}]"
        return "" if name == "system_message" else inner


def _language(text: str) -> str:
    """Sphinx highlights a literal block as Python where it parses as Python."""
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return "text"
    return "python"
