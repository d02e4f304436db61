"""Boxes in the author's Markdown (pipeline.markdown.boxes): Jupyter's alert divs, GitHub's alerts and
<details> blocks become each dialect's own box, with their Markdown rendered; nothing in a box escapes it."""

import dataclasses

import markdown as python_markdown
import pytest
from article_fixtures import make_project
from conftest import CHROMIUM
from helpers import served
from markdown_it import MarkdownIt

from pipeline.article.chapters import Prose
from pipeline.article.harvest import load_records
from pipeline.article.render import render
from pipeline.config import load_config
from pipeline.markdown.boxes import sanitize_boxes, split
from pipeline.markdown.dialects import check_qiita, check_zenn
from pipeline.records import Cell

NOTE = "**注釈 1**\n\n本文です。"
MKDOCS_EXTENSIONS = ["admonition", "attr_list", "md_in_html", "tables", "pymdownx.details", "pymdownx.superfences"]

#: (source kind, Qiita opening line, Zenn opening line, MkDocs opening line)
ALERT_DIVS = [
    ("info", ":::note info", ":::message", '!!! note ""'),
    ("success", ":::note info", ":::message", '!!! success ""'),
    ("warning", ":::note warn", ":::message", '!!! warning ""'),
    ("danger", ":::note alert", ":::message alert", '!!! danger ""'),
]
GITHUB_ALERTS = [
    ("NOTE", ":::note info", ":::message", '!!! note ""'),
    ("TIP", ":::note info", ":::message", '!!! tip ""'),
    ("IMPORTANT", ":::note info", ":::message", '!!! info ""'),
    ("WARNING", ":::note warn", ":::message", '!!! warning ""'),
    ("CAUTION", ":::note alert", ":::message alert", '!!! danger ""'),
]


def finished(markdown: str, dialect: str) -> str:
    """The author's Markdown as the article gets it (sanitized, boxes, unwrapped, dialect math)."""
    return Prose(dialect, None, {}).finish(markdown, author=True)


def strong_texts(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(markdown)
    inline = [child for t in tokens if t.type == "inline" for child in t.children]
    return [inline[i + 1].content for i, t in enumerate(inline) if t.type == "strong_open"]


def top_level_paragraphs(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(markdown)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "paragraph_open" and t.level == 0]


def mkdocs_html(markdown: str) -> str:
    return python_markdown.markdown(markdown, extensions=MKDOCS_EXTENSIONS)


def expected(opening: dict[str, str], body: str) -> dict[str, str]:
    indented = "\n".join("    " + line if line else "" for line in body.split("\n"))
    return {"qiita": f"{opening['qiita']}\n{body}\n:::", "zenn": f"{opening['zenn']}\n{body}\n:::",
            "mkdocs": f"{opening['mkdocs']}\n\n{indented}"}


@pytest.mark.parametrize("kind, qiita, zenn, mkdocs", ALERT_DIVS)
def test_alert_div_becomes_the_dialects_box(kind, qiita, zenn, mkdocs):
    source = f'前の段落\n\n<div class="alert alert-{kind}">\n{NOTE}\n</div>\n\n後の段落'
    want = expected({"qiita": qiita, "zenn": zenn, "mkdocs": mkdocs}, NOTE)
    for dialect in ("qiita", "zenn", "mkdocs"):
        text = finished(source, dialect)
        assert text == f"前の段落\n\n{want[dialect]}\n\n後の段落"
    for dialect in ("qiita", "zenn"):
        text = finished(source, dialect)
        assert strong_texts(text) == ["注釈 1"]
        # the box lines are paragraphs of their own at top level: nothing swallows them
        assert top_level_paragraphs(text) == ["前の段落", want[dialect].split("\n")[0] + "\n**注釈 1**",
                                              "本文です。\n:::", "後の段落"]
    assert check_qiita(finished(source, "qiita")) == [] and check_zenn(finished(source, "zenn")) == []
    html = mkdocs_html(finished(source, "mkdocs"))
    assert f'<div class="admonition {mkdocs.split()[1]}">\n<p><strong>注釈 1</strong></p>' in html
    assert html.endswith("<p>後の段落</p>")


@pytest.mark.parametrize("kind, qiita, zenn, mkdocs", GITHUB_ALERTS)
def test_github_alert_becomes_the_dialects_box(kind, qiita, zenn, mkdocs):
    source = f"> [!{kind}]\n> **注釈 1**\n>\n> 本文です。\n\n後の段落"
    want = expected({"qiita": qiita, "zenn": zenn, "mkdocs": mkdocs}, NOTE)
    for dialect in ("qiita", "zenn", "mkdocs"):
        assert finished(source, dialect) == f"{want[dialect]}\n\n後の段落"
    assert strong_texts(finished(source, "qiita")) == ["注釈 1"] == strong_texts(finished(source, "zenn"))
    assert check_qiita(finished(source, "qiita")) == [] and check_zenn(finished(source, "zenn")) == []
    assert "<strong>注釈 1</strong>" in mkdocs_html(finished(source, "mkdocs"))
    # lower case works as on GitHub; a [!NOTE] that is not the blockquote's first line stays a quote
    assert finished(source.replace(kind, kind.lower()), "qiita") == finished(source, "qiita")
    later = f"> 引用\n> [!{kind}]\n> 本文"
    assert [part.kind for part in split(later)] == [""] and ":::" not in finished(later, "qiita")


def test_classic_notebook_forms():
    """alert-block, single quotes, extra attributes, a one-line box, indented content, hard wraps."""
    source = ("<div class='alert alert-block alert-warning' style=\"x\"><b>Tip:</b> one line</div>\n\n"
              '<div class="alert alert-info">\n  **注釈 2**\n\n  折り返した\n  本文\n</div>')
    assert finished(source, "qiita") == (":::note warn\n<b>Tip:</b> one line\n:::\n\n"
                                         ":::note info\n**注釈 2**\n\n折り返した本文\n:::")
    assert finished(source, "zenn") == ":::message\nTip: one line\n:::\n\n:::message\n**注釈 2**\n\n折り返した本文\n:::"
    assert finished(source, "mkdocs") == ('!!! warning ""\n\n    <b>Tip:</b> one line\n\n'
                                          '!!! note ""\n\n    **注釈 2**\n\n    折り返した本文')


def test_nested_divs_and_text_after_the_closing_tag():
    source = '<div class="alert alert-danger">\n<div>\n**内側**\n</div>\n</div> 後ろ'
    text = finished(source, "qiita")
    assert text == ":::note alert\n<div>\n\n**内側**\n\n</div>\n\n:::\n\n後ろ"
    assert strong_texts(text) == ["内側"] and check_qiita(text) == []


def test_code_fences_are_left_alone():
    source = ('```\n<div class="alert alert-info">\n**注釈 1**\n</div>\n> [!NOTE]\n> x\n<details><summary>s</summary>\n```\n\n'
              '~~~~markdown\n> [!WARNING]\n~~~~\n\n`<div class="alert alert-info">` in a code span')
    assert [part.kind for part in split(source)] == [""]
    for dialect in ("qiita", "zenn", "mkdocs"):
        text = finished(source, dialect)
        assert ":::note" not in text and ":::message" not in text and "!!!" not in text
        assert '<div class="alert alert-info">\n**注釈 1**\n</div>\n> [!NOTE]\n> x\n' in text


@pytest.mark.parametrize("github", [False, True])
@pytest.mark.parametrize("dialect", ["qiita", "zenn", "mkdocs"])
def test_hostile_content_cannot_escape_the_box(dialect, github):
    hostile = ":::\n!!! danger\n:::note alert\n<script>window.hacked = 1</script>\n```\nunclosed fence"
    if github:
        source = "> [!NOTE]\n" + "\n".join("> " + line for line in hostile.split("\n")) + "\n\nafter"
    else:
        source = f'<div class="alert alert-info">\n{hostile}\n</div>\n\nafter'
    text = finished(source, dialect)
    assert "<script" not in text and "&lt;script&gt;" in text
    if github:  # a blockquote (and a fence in it) ends at the blank line: "after" follows the box
        assert text.endswith("\n\nafter")
        text = text.removesuffix("\n\nafter")
    lines = text.split("\n")
    if dialect == "mkdocs":
        assert lines[0] == '!!! note ""' and all(not line or line.startswith("    ") for line in lines[1:])
        html = mkdocs_html(text + "\n\nnext")
        assert html.count('<div class="admonition') == 1 and html.endswith("<p>next</p>")
    else:
        structure = [line for line in lines if line.startswith(":::")]
        assert structure == [lines[0], ":::"] and lines[-1] == ":::"
        assert (check_qiita if dialect == "qiita" else check_zenn)(text) == []
        tokens = MarkdownIt("commonmark").parse(text)
        fences = [t for t in tokens if t.type == "fence"]
        assert len(fences) == 1 and fences[0].map[1] < len(lines)  # the fence closes before the box does


def test_details_blocks():
    source = "<details open><summary>結果 <b>表</b></summary>\n\n- 項目 **b**\n</details>\n次の段落"
    assert finished(source, "qiita") == "<details open><summary>結果 表</summary>\n\n- 項目 **b**\n\n</details>\n\n次の段落"
    assert finished(source, "zenn") == ":::details 結果 表\n\n- 項目 **b**\n\n:::\n\n次の段落"
    assert finished(source, "mkdocs") == '???+ note "結果 表"\n\n    - 項目 **b**\n\n次の段落'
    assert strong_texts(finished(source, "qiita")) == ["b"] and top_level_paragraphs(finished(source, "qiita")) == ["次の段落"]
    assert check_qiita(finished(source, "qiita")) == [] and check_zenn(finished(source, "zenn")) == []
    html = mkdocs_html(finished(source, "mkdocs"))
    assert '<details class="note" open="open">' in html and "<strong>b</strong>" in html
    assert finished("<details>\nno summary\n</details>", "zenn") == ":::details Details\n\nno summary\n\n:::"


def test_other_html_blocks_get_blank_lines_and_render_their_markdown():
    source = "前\n<div>\n**中**\n</div>\n後"
    qiita = finished(source, "qiita")
    assert qiita == "前\n\n<div>\n\n**中**\n\n</div>\n\n後"
    assert strong_texts(qiita) == ["中"] and top_level_paragraphs(qiita) == ["前", "**中**", "後"]
    mkdocs = finished(source, "mkdocs")
    assert mkdocs == '前\n\n<div markdown="1">\n\n**中**\n\n</div>\n\n後'
    assert "<div>\n<p><strong>中</strong></p>\n</div>" in mkdocs_html(mkdocs)
    zenn = finished(source, "zenn")
    assert "<div" not in zenn and strong_texts(zenn) == ["中"] and check_zenn(zenn) == []
    plain = "段落だけ\n\n- リスト"
    assert sanitize_boxes(plain, "qiita") == plain


def _box_project(tmp_path):
    """The fixture project with one more chapter whose cells hold alert boxes."""
    root = make_project(tmp_path / "article")
    config = load_config(root)
    record = load_records(config)[0]
    cells = (Cell(0, "markdown", "# 箱の実験\n\n前文。", lines=(1, 3)),
             Cell(1, "markdown", f'<div class="alert alert-info">\n{NOTE}\n</div>\n\n> [!WARNING]\n> **注意** です。',
                  lines=(5, 9)),
             Cell(2, "markdown", "## 考察\n\n<div class=\"alert alert-danger\">\n危険 **です**\n</div>", lines=(11, 14)))
    boxes = dataclasses.replace(record, name="03_boxes", source="experiments/03_boxes.py", title="箱の実験", cells=cells,
                                glue={})
    (root / "experiments" / "03_boxes.py").write_text("# %%\nx = 1\n", encoding="utf-8")
    (root / "build" / "records" / "03_boxes.json").write_text(boxes.to_json(), encoding="utf-8")
    return load_config(root)


def test_whole_article_passes_the_platform_checks(tmp_path):
    config = _box_project(tmp_path)
    records = load_records(config)
    assert [r.name for r in records][-1] == "03_boxes"
    qiita = render(records, config, "qiita").markdown
    zenn = render(records, config, "zenn").markdown
    assert ":::note info\n**注釈 1**" in qiita and ":::note warn\n**注意** です。\n:::" in qiita
    assert ":::message\n**注釈 1**" in zenn and ":::message alert\n危険 **です**\n:::" in zenn
    assert check_qiita(qiita) == [] and check_zenn(zenn) == []


@pytest.mark.requires("chromium")
def test_browser_shows_the_admonition(tmp_path):
    """The built MkDocs site in Chromium: the alert div is an admonition with its bold text rendered."""
    from helpers import publish
    from playwright.sync_api import sync_playwright
    from test_article import _mkdocs_build

    from pipeline.progress import Progress

    config = _box_project(tmp_path)
    publish(load_records(config), config, Progress(quiet=True, live=False))
    site = _mkdocs_build(config)
    with served(site) as origin, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--proxy-server=http://127.0.0.1:9"])
        page = browser.new_page()
        page.goto(origin, wait_until="load")
        boxes = page.eval_on_selector_all(
            "article .admonition", "xs => xs.map(x => [x.className, Array.from(x.querySelectorAll('strong'), s => s.textContent)])")
        literal = page.evaluate("() => document.querySelector('article').innerText.includes('**')")
        browser.close()
    assert ["admonition note", ["注釈 1"]] in boxes
    assert ["admonition warning", ["注意"]] in boxes and ["admonition danger", ["です"]] in boxes
    assert not literal
