"""Rendering and export: golden files, Markdown structure, the Qiita dialect, hostile outputs,
a strict MkDocs build and a real browser."""

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from article_fixtures import HOSTILE_TEXT, make_project
from conftest import CHROMIUM
from helpers import publish, served
from markdown_it import MarkdownIt

from pipeline.article.harvest import load_records
from pipeline.article.render import render
from pipeline.config import load_config
from pipeline.markdown.dialects import check_qiita
from pipeline.markdown.sanitize import ALLOWED_TAGS
from pipeline.markdown.scanner import fence_for, scan
from pipeline.progress import Progress
from pipeline.publish.export import read_front_matter

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)


@pytest.fixture
def article_project(tmp_path):
    root = make_project(tmp_path / "article")
    return load_config(root)


def _rendered(config, dialect):
    return render(load_records(config), config, dialect, now=NOW)


def _mask(markdown: str) -> str:
    """Volatile fields: the execution date and package versions."""
    markdown = re.sub(r"\d{4}-\d{2}-\d{2}", "YYYY-MM-DD", markdown)
    return re.sub(r"(Python|torch|transformers) [0-9][\w.+]*", r"\1 X.Y", markdown)


@pytest.mark.parametrize("dialect", ["qiita", "mkdocs"])
def test_golden(article_project, dialect):
    """Regenerate on purpose with UPDATE_GOLDEN=1 and review the diff."""
    text = _mask(_rendered(article_project, dialect).markdown)
    golden = GOLDEN / f"article.{dialect}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def _tokens(markdown):
    return MarkdownIt("commonmark").enable("table").parse(markdown)


@pytest.mark.parametrize("dialect", ["qiita", "mkdocs"])
def test_structure_parses_as_expected(article_project, dialect):
    rendered = _rendered(article_project, dialect)
    tokens = _tokens(rendered.markdown)
    # headings never skip a level
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:]))
    titles = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert "1. 最初の実験" in titles and "2. Hostile outputs" in titles and "まとめ" in titles
    # the hostile output stays inside one fence, whole
    fences = [t for t in tokens if t.type == "fence"]
    if dialect == "qiita":
        assert any(t.content.rstrip("\n") == HOSTILE_TEXT for t in fences)
    else:  # inside a ??? block: CommonMark sees the indented fence as one code block
        assert any(HOSTILE_TEXT in re.sub(r"(?m)^    ", "", t.content) for t in tokens if t.type in ("fence", "code_block"))
    # every fence closed: markdown-it finds as many fences as the source opens (an unclosed
    # one would swallow the rest of the document into one token), and the last heading survives
    if dialect == "qiita":
        opened = sum(1 for line in scan(rendered.markdown) if line.opens)
        assert opened > 5 and len(fences) == opened
    assert titles[-1] == "参考文献"
    # raw HTML only from the allow-list (Qiita's <details>, a <b> kept in a table cell)
    html = [t.content for t in tokens if t.type in ("html_block", "html_inline")]
    html += [c.content for t in tokens if t.children for c in t.children if c.type == "html_inline"]
    tags = {m.lower() for h in html for m in re.findall(r"</?([A-Za-z][A-Za-z0-9]*)", h)}
    assert tags and tags <= ALLOWED_TAGS, tags
    assert "<script" not in "".join(html).lower()
    # images where expected
    images = [c for t in tokens if t.children for c in t.children if c.type == "image"]
    assert [i.attrs["src"] for i in images] == [
        "FIGURE-TO-UPLOAD:figures/01_first/01_first-cell03-1.png" if dialect == "qiita"
        else "figures/01_first/01_first-cell03-1.png"]
    assert images[0].content == "折れ線グラフ"


def test_qiita_specifics(article_project):
    text = _rendered(article_project, "qiita").markdown
    assert check_qiita(text) == []
    assert "```python:experiments/01_first.py\nprint(vocab)\n```" in text
    assert "```math\nT = 1\n```" in text and "$$" not in text
    assert "語彙数は 49152 で、折り返した行は一行になる。" in text  # glue filled, hard wrap joined
    # conditions test the recorded value (False), prose shows the text
    assert "- BOS は付かない。比率は 0.1235(0.1 より大きい)。" in text
    assert "背景の説明は二行に分けて書いた。" in text
    assert "<details><summary>出力(全 9 行)</summary>" in text  # the long hostile output folds
    assert "<details><summary>出力</summary>\n\n```text\n0\n" in text  # hide-output folds the cell, once
    assert "{{ not_glue }}" in text  # outputs never pass through Jinja
    assert "<b>1</b>" in text and "&lt;script&gt;" in text  # table HTML: allow-listed tags kept, the rest shown
    assert "SHOULD NOT APPEAR" not in text and "ALSO NOT SHOWN" not in text and "gone()" not in text
    assert "secret_setup()" not in text and "shown without its code" in text
    assert ":::note warn\nこの考察は Mistral-7B-v0.1 の結果を見て書かれたもので" in text
    assert "data:" not in text
    hostile_fence = fence_for(HOSTILE_TEXT)
    assert hostile_fence == "`````" and f"{hostile_fence}text\n{HOSTILE_TEXT}\n{hostile_fence}" in text


def test_mkdocs_specifics(article_project):
    text = _rendered(article_project, "mkdocs").markdown
    assert text.startswith("# テスト記事: 固定レコードから\n")
    assert '```python title="experiments/01_first.py (lines 6-7)"' in text
    assert '!!! info "考察"\n    - 語彙数は 49152 で、折り返した行は一行になる。' in text
    assert "    $$\n    T = 1\n    $$" in text  # indented inside the admonition
    assert '??? note "出力(全 9 行)"' in text and '??? note "出力"\n\n    ```text\n    0\n' in text


def test_export_layouts_and_kept_qiita_cli_fields(article_project):
    config = article_project
    progress = Progress(quiet=True, live=False)
    exported = publish(load_records(config), config, progress)
    article = exported.article.read_text(encoding="utf-8")
    cli = exported.qiita_cli.read_text(encoding="utf-8")
    assert exported.qiita_cli.name == "fixture-article.md"
    assert cli.endswith(article)
    front = read_front_matter(exported.qiita_cli)
    # a FIGURE-TO-UPLOAD: placeholder is never published: ignorePublish is held true (test_qiita_file)
    assert front == {"title": '"テスト記事: 固定レコードから"', "tags": '\n  - "Python"\n  - "テスト"', "private": "true",
                     "updated_at": "''", "id": "null", "organization_url_name": "null", "slide": "false",
                     "ignorePublish": "true"}
    assert '\ntags:\n  - "Python"\n  - "テスト"\n' in cli
    assert [p.name for p in exported.uploads] == ["01_first-cell03-1.png"]
    assert (exported.article.parent / "figures/01_first/01_first-cell03-1.png").is_file()
    assert (config.root / "site" / "figures/01_first/01_first-cell03-1.png").is_file()

    # qiita-cli wrote back the published id: a re-export keeps it, and keeps its config file
    cli_text = exported.qiita_cli.read_text(encoding="utf-8")
    exported.qiita_cli.write_text(cli_text.replace("id: null", "id: abc123").replace("updated_at: ''", "updated_at: '2026-01-01T00:00:00+09:00'"),
                                  encoding="utf-8")
    (exported.article.parent / "qiita.config.json").write_text("{}", encoding="utf-8")
    # a newer qiita-cli's fields, one of them over several lines, and Windows line endings
    edited = exported.qiita_cli.read_text(encoding="utf-8").replace(
        "ignorePublish: true\n", "ignorePublish: true\nposting_campaign_uuid: 'c-1'\nextra:\n  - one\n  - two\n")
    exported.qiita_cli.write_bytes(edited.replace("\n", "\r\n").encode("utf-8"))
    again = publish(load_records(config), config, progress)
    front = read_front_matter(again.qiita_cli)
    assert front["id"] == "abc123" and front["updated_at"] == "'2026-01-01T00:00:00+09:00'"
    assert front["posting_campaign_uuid"] == "'c-1'" and front["extra"] == "\n  - one\n  - two"
    assert (again.article.parent / "qiita.config.json").is_file()


def test_image_base_url_makes_absolute_links(article_project):
    pyproject = article_project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('slug = "fixture-article"', 'slug = "fixture-article"\nimage_base_url = "https://raw.example.com/repo/main/build/"'),
                         encoding="utf-8")
    config = load_config(article_project.root)
    text = render(load_records(config), config, "qiita", now=NOW).markdown
    assert "![折れ線グラフ](https://raw.example.com/repo/main/build/figures/01_first/01_first-cell03-1.png)" in text
    assert "FIGURE-TO-UPLOAD" not in text


def _mkdocs_build(config):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=config.root,
                            capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr
    return config.root / "build" / "html"


def test_mkdocs_build_strict(article_project):
    publish(load_records(article_project), article_project, Progress(quiet=True, live=False))
    html = (_mkdocs_build(article_project) / "index.html").read_text(encoding="utf-8")
    assert "最初の実験" in html
    assert "<script>window.hacked" not in html


@pytest.mark.requires("chromium")
def test_browser_shows_figures_math_and_japanese_headings_offline(article_project):
    """The built site in Chromium: figures load, Japanese headings show, the formula is typeset by
    the MathJax copy served with the site, no script from an output runs, and the page asks
    nothing from any host but the local server."""
    from playwright.sync_api import sync_playwright

    publish(load_records(article_project), article_project, Progress(quiet=True, live=False))
    site = _mkdocs_build(article_project)
    requests = []
    with served(site) as origin, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--proxy-server=http://127.0.0.1:9"])  # any host but loopback fails
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(origin, wait_until="load")
        page.wait_for_selector("mjx-container", timeout=20_000)
        images = page.eval_on_selector_all("article img", "xs => xs.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
        headings = page.eval_on_selector_all("article h2", "xs => xs.map(h => h.textContent.trim())")
        formulas = page.eval_on_selector_all(".arithmatex > mjx-container", "xs => xs.map(x => [x.getAttribute('display'), x.textContent])")
        raw_tex = page.evaluate("() => document.querySelector('article').innerText.includes('$$')")
        hacked = page.evaluate("() => window.hacked === undefined")
        shot = article_project.root / "build" / "screenshot.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert images == [["figures/01_first/01_first-cell03-1.png", True, 40]]
    assert "1. 最初の実験" in headings and "想定読者" in headings
    assert formulas == [["true", "T=1"]] and not raw_tex  # T = 1, typeset as display math
    assert hacked
    assert requests and all(url.startswith(origin) for url in requests), [u for u in requests if not u.startswith(origin)]
    assert any("javascripts/mathjax/es5/tex-mml-chtml.js" in url for url in requests)
    assert shot.stat().st_size > 10_000


def test_a_failed_build_leaves_the_previous_article(project, quiet):
    from pipeline.build import build
    from pipeline.errors import ExecutionFailed

    shutil.copytree(Path(__file__).resolve().parents[1] / "templates", project.root / "templates")
    path = project.add("01_a", "# %% [markdown]\n# # A\n\n# %%\nprint('first')\n")
    config = project.config()
    result = build(config, progress=quiet)
    article = result.exports.article.read_text(encoding="utf-8")
    page = result.exports.site_page.read_text(encoding="utf-8")
    assert "first" in article and "first" in page

    path.write_text(path.read_text() + "\n# %%\nraise SystemError('broken')\n", encoding="utf-8")
    with pytest.raises(ExecutionFailed):
        build(config, progress=quiet)
    assert result.exports.article.read_text(encoding="utf-8") == article
    assert result.exports.site_page.read_text(encoding="utf-8") == page


def test_notebook_metadata_and_templates_from_a_notebook_stay_inert(article_project, quiet):
    """A stored notebook's kernel name and dates, and a cell that tries to reach Python through
    its template, come out as text."""
    import dataclasses

    from pipeline.records import ExecutionInfo, ExperimentRecord, StoredRun

    path = article_project.layout.record("01_first")
    record = ExperimentRecord.load(path)
    hostile = "<img src=x onerror=alert(1)>"
    stored = StoredRun(kernel=hostile, language=hostile, first_executed="2025-01-01T00:00:00Z", last_executed="x")
    cells = list(record.cells)
    cells[4] = dataclasses.replace(cells[4], source="## 考察\n\n{{ vocab_size }} {{ vocab_size.__init__.__globals__ }}")
    record = dataclasses.replace(record, cells=tuple(cells),
                                 execution=ExecutionInfo("stored", "k", "<b>date</b>", stored=stored))
    path.write_text(record.to_json(), encoding="utf-8")
    text = render(load_records(article_project), article_project, "mkdocs", now=NOW).markdown
    tokens = _tokens(text)
    html = [t.content for t in tokens if t.type in ("html_block", "html_inline")]
    html += [c.content for t in tokens if t.children for c in t.children if c.type == "html_inline"]
    assert not any("onerror" in h or "<img" in h for h in html), html
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    rendered = render(load_records(article_project), article_project, "qiita", now=NOW)
    assert any("unsafe" in w for w in rendered.warnings)  # the sandbox refused, the text stays as written
    assert "__globals__ }}" in rendered.markdown


def test_the_pipelines_own_pages_are_recognised_after_build_is_deleted(article_project, quiet):
    publish(load_records(article_project), article_project, quiet)
    page = article_project.root / "site" / "index.md"
    assert page.read_text(encoding="utf-8").startswith("<!-- generated by ml-article-pipeline")
    article_project.layout.manifest.unlink()
    publish(load_records(article_project), article_project, quiet)  # still its own page and figures
    page.write_text("# My own page\n", encoding="utf-8")  # a page of the user's, in a project with no record
    article_project.layout.manifest.unlink()
    from pipeline.errors import OutputPathError

    with pytest.raises(OutputPathError, match="site/index.md: already there but not written by this pipeline"):
        publish(load_records(article_project), article_project, quiet)
    assert page.read_text(encoding="utf-8") == "# My own page\n"


def test_an_article_over_zenns_limit_stops_only_the_zenn_export(project, quiet):
    """Zenn refuses articles over 80,000 characters: the Zenn export is refused with the limit and the fix
    named, and its last good article stays; Qiita and the site, which are fine, are published."""
    from pipeline.build import build

    path = project.add("01_long", "# %% [markdown]\n# # Long\n\n# %%\nprint('short')\n")
    config = project.config()
    first = build(config, progress=quiet)
    zenn, qiita = first.exports.zenn.read_bytes(), first.exports.article.read_bytes()
    prose = "\n\n".join(f"# 段落 {i} は長い説明の文章です。" + "あ" * 900 for i in range(100))  # about 92,000 characters
    path.write_text(path.read_text(encoding="utf-8") + "\n# %% [markdown]\n" + prose + "\n", encoding="utf-8")
    second = build(config, progress=quiet)
    [refusal] = second.exports.refused
    assert refusal.startswith("Zenn: ") and "80,000" in refusal and "split" in refusal
    assert first.exports.zenn.read_bytes() == zenn  # the last good Zenn article stays
    assert first.exports.article.read_bytes() != qiita and "段落 99" in first.exports.article.read_text(encoding="utf-8")
    assert "段落 99" in first.exports.site_page.read_text(encoding="utf-8")


@pytest.mark.parametrize("title, numbered", [
    ("1. チュートリアル第一部「Data Handling」", True), ("1.チュートリアル", True), ("第1章 データの読み込み", True),
    ("第三部 応用", True), ("1.2 Data handling", True), ("Chapter 3: Trees", True), ("Part II", True),
    ("Lesson 4 - Loops", True), ("(1) 準備", True), ("① 準備", True), ("01) Intro", True),
    ("2024年の振り返り", False), ("3 ways to tokenize", False), ("1.5倍速いモデル", False), ("NumPy Tutorial", False),
    ("Intro 1.", False), ("makemore part1 bigrams", False),
    # as Japanese course notebooks number and label their chapters
    ("1章 Pythonの基礎", True), ("１章 全角", True), ("1-1. NumPy", True), ("2-1 NumPy の基礎", True),
    ("1 はじめに", True), ("1.1節 配列", True), ("演習1", True), ("演習3 pandas", True), ("課題2: 回帰", True),
    ("付録A 数式", True), ("§2 Methods", True), ("Q1. 何を予測するか", True), ("第2回 講義", True),
    ("II. Methods", True),
    # a number (or a variable) the title is about
    ("3.14 について", False), ("X: 特徴量", False), ("y: 目的変数", False), ("2 つの方法", False),
    ("10 分で分かる機械学習", False), ("2 クラス分類の実験", False), ("0.5 の閾値", False), ("1回目の実験", False), ("100 件のデータ", False),
])
def test_an_authors_own_chapter_number_is_recognised(title, numbered):
    from pipeline.article.anchors import own_number

    assert own_number(title) is numbered


def test_a_numbered_title_is_printed_once_and_links_still_find_its_chapter(article_project):
    """The chapter heading is the author's numbered title alone; as the author numbers the chapters,
    the unnumbered one gets no number of ours either ("2. Hostile outputs" next to "第1章"); links to
    both chapters still resolve, in the article and in the Zenn book's pages."""
    from dataclasses import replace

    from pipeline.publish.zenn_book import book_chapters

    records = load_records(article_project)
    records[0] = replace(records[0], title="第1章 最初の実験", cells=(
        replace(records[0].cells[0], source="# 第1章 最初の実験\n\n[次の章](02_hostile.py) と [この章](#第1章-最初の実験) を見る。"),
        *records[0].cells[1:]))
    for dialect in ("qiita", "mkdocs", "zenn"):
        rendered = render(records, article_project, dialect, now=NOW)
        text = rendered.markdown
        assert "\n## 第1章 最初の実験\n" in text and "1. 第1章" not in text, dialect
        assert "\n## Hostile outputs\n" in text and not re.search(r"^## \d\. ", text, re.M), dialect
        assert "- 第1章 最初の実験\n- Hostile outputs\n- まとめ\n" in text, dialect
        assert "[次の章](#hostile-outputs)" in text, dialect
        assert "[この章](#第1章-最初の実験)" in text or "[この章](#%E7%AC%AC1" in text, dialect
    book = book_chapters(rendered, records, article_project.layout)
    assert [c.title for c in book] == ["第1章 最初の実験", "Hostile outputs"]
    assert "## Hostile outputs" not in book[0].body and "[次の章](02_hostile)" in book[0].body


def test_chapters_are_numbered_by_the_article_when_no_title_is(article_project):
    text = _rendered(article_project, "qiita").markdown
    assert "\n## 1. 最初の実験\n" in text and "\n## 2. Hostile outputs\n" in text
    assert "1. 最初の実験\n2. Hostile outputs\n3. まとめ\n" in text
