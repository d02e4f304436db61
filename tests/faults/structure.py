"""Markdown structure as markdown-it (CommonMark + tables) parses it: headings, note boxes,
raw HTML and links; the hostile cases' structural checks and the last good article's notes
are read with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Structure:
    headings: list[str]
    notes: list[tuple[str, str]]  # (chapter heading, structural note line)
    closers: int
    html: list[str]
    links: list[str]


def structure(markdown: str, dialect: str) -> Structure:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    headings, notes, html, links = [], [], [], []
    closers = 0
    chapter = ""
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            text = tokens[i + 1].content
            headings.append(text)
            if token.tag == "h2":
                chapter = text
        elif token.type == "inline" and tokens[i - 1].type == "paragraph_open":
            lines = token.content.split("\n")
            for number, line in enumerate(lines):
                following = lines[number + 1] if number + 1 < len(lines) else ""
                if dialect == "qiita" and line.startswith(":::note"):
                    notes.append((chapter, line + "\n" + following))
                elif dialect == "qiita" and line.strip() == ":::":
                    closers += 1
                elif dialect != "qiita" and line.startswith(("!!!", "???")):
                    notes.append((chapter, line + "\n" + following))
        if token.type in ("html_block", "html_inline"):
            html.append(token.content)
        for child in token.children or []:
            if child.type == "html_inline":
                html.append(child.content)
            if child.type == "link_open":
                links.append(str(child.attrs.get("href", "")))
    return Structure(headings, notes, closers, html, links)
