"""Notebooks we did not write become an article that follows their authors (real kernels,
markdown-it structure on every dialect, the Qiita check, a strict MkDocs build)."""

import os
import re
import subprocess
import sys

import pytest
from corpus import write_corpus
from helpers import zenn_slug
from markdown_it import MarkdownIt

from pipeline.build import build
from pipeline.config import load_config
from pipeline.markdown.dialects import check_qiita, check_zenn
from pipeline.progress import Progress


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = write_corpus(tmp_path_factory.mktemp("corpus") / "project")
    config = load_config(root)
    progress = Progress(quiet=True, live=False)
    result = build(config, progress=progress)
    return config, result, progress


def _article(config, dialect):
    path = {"qiita": config.layout.qiita / "article.md", "mkdocs": config.layout.site / "index.md",
            "zenn": config.layout.zenn / "articles" / f"{zenn_slug(config)}.md"}[dialect]
    text = path.read_text(encoding="utf-8")
    return text.split("\n---\n", 1)[1] if dialect == "zenn" else text  # without the front matter


DIALECTS = ["qiita", "mkdocs", "zenn"]


def _headings(markdown):
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    return [(int(t.tag[1]), tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]


def test_every_experiment_ran_or_was_published_as_stored(built):
    _, result, _ = built
    assert list(result.outcomes.items()) == [
        ("01.01-NumPy-Tutorial", "executed"), ("01.02-Plotting-on-Colab", "stored"), ("02_script", "executed")]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_authors_headings_are_kept_at_their_relative_levels(built, dialect):
    config, _, _ = built
    headings = _headings(_article(config, dialect))
    top = 1 if dialect == "mkdocs" else 2  # the MkDocs page has the title as its H1
    assert (2, "1. NumPy Tutorial") in headings and (2, "2. Plotting on Colab") in headings
    chapter = headings[headings.index((2, "1. NumPy Tutorial")) + 1: headings.index((2, "2. Plotting on Colab"))]
    assert chapter == [(3, "Creating arrays"), (4, "Shapes"), (3, "Tables and plots")]
    levels = [level for level, _ in headings]
    assert levels[0] == top and all(b - a <= 1 for a, b in zip(levels, levels[1:]))
    # no heading made from a code line, no standard sections in a chapter with its own headings
    assert not any(text.startswith(("x", "pd.", "import")) for _, text in headings)
    # the chapters whose authors wrote no section headings get the standard ones
    assert headings.count((3, "試したこと")) == 2 and headings.count((3, "実行コード")) == 2


@pytest.mark.parametrize("dialect", DIALECTS)
def test_boxes_only_where_the_author_marked_an_observation(built, dialect):
    config, _, _ = built
    text = _article(config, dialect)
    label = '"考察"' if dialect == "mkdocs" else "**考察**"
    assert text.count(label) == 2  # the tagged cell and the 考察 cell
    assert "Squares grow fast: the last value is 25." in text
    assert "平均は 2.5 だった。" in text
    # every prose cell stays prose, in order, and no box is empty
    assert text.index("This notebook walks through") < text.index("We start with") < text.index("Reshaping keeps")
    assert not re.search(r"(:::note \w+|::::message( alert)?)\n+(\*\*[^*]+\*\*\n+)?::::?\n", text)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_figures_are_numbered_through_the_article_and_images_are_copied(built, dialect):
    config, _, _ = built
    text = _article(config, dialect)
    assert re.findall(r"\*図 (\d+)", text) == ["1", "2"]  # the tutorial's plot, then the stored PNG
    assert "図 1(NumPy Tutorial)" in text and "図 2(Plotting on Colab)" in text  # default alt texts
    images = re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", text)
    assert ("A diagram of the array", next(src for _, src in images if src.endswith("diagram.png"))) in images
    for _, src in images:
        if dialect == "zenn":  # served by Zenn from the repository's /images/ folder
            assert src.startswith(f"/images/{zenn_slug(config)}/")
            path = config.layout.zenn / src.lstrip("/")
        else:
            path = (config.layout.qiita if dialect == "qiita" else config.layout.site) / src.replace("FIGURE-TO-UPLOAD:", "")
        assert path.is_file(), src


def test_links_to_experiments_become_chapter_links_and_missing_ones_are_reported(built):
    config, _, progress = built
    qiita, mkdocs = _article(config, "qiita"), _article(config, "mkdocs")
    assert "[the plotting notebook](#2-plotting-on-colab)" in qiita
    assert "[the plotting notebook](#2-plotting-on-colab)" in mkdocs
    assert "and a missing one." in qiita and "99-Missing" not in qiita
    # a link to a heading of another notebook points at that chapter (its 考察 became a box)
    assert "[Japanese script](#3-日本語のスクリプト)" in qiita and "[Japanese script](#3-日本語のスクリプト)" in mkdocs
    assert any("01.01-NumPy-Tutorial.ipynb, cell 6: link to '99-Missing.ipynb'" in w for w in progress.warnings)


def test_cells_the_author_left_empty_or_skipped(built):
    config, _, _ = built
    text = _article(config, "qiita")
    assert "while True:" in text and "このセルは実行していません(skip-execution)。" in text
    assert "```python:experiments/01.01-NumPy-Tutorial.ipynb\n\n```" not in text  # the empty code cell is dropped


def test_the_stored_chapter_says_where_its_outputs_come_from(built):
    config, _, _ = built
    text = _article(config, "qiita")
    chapter = text[text.index("## 2. Plotting on Colab"):text.index("## 3.")]
    assert "この章の出力は保存済みのノートブックに記録されていたもので、ここでは再実行していません。" in chapter
    assert "- カーネル: Python 3 (Colab)" in chapter and "- 言語: Python 3.10.12" in chapter
    assert "- 実行日時: 2025-03-01 10:00:00 - 2025-03-01 10:02:05" in chapter
    assert "Tesla T4" in chapter and "```text\n2\n```" in chapter


def test_the_opening_note_states_only_what_holds(built):
    config, _, _ = built
    text = _article(config, "qiita")
    note = text[:text.index("\n:::\n")]
    assert "モデル" not in note and "デバイス" not in note  # no model was loaded
    assert "考察の中の数値は、実行結果に記録された値を引用しています。" in note  # 02_script cites a glue value
    assert "次の章の出力は保存済みのノートブックのもので、ここでは再実行していません: Plotting on Colab" in note
    packages = re.search(r"主なパッケージ: (.*)", note).group(1)
    assert re.match(r"Python 3\.\d+\.\d+, matplotlib [\d.]+, numpy [\d.]+, pandas [\d.]+$", packages), packages
    assert "torch" not in packages  # imported only on the machine that ran the stored notebook


def test_the_dialect_checks_and_a_strict_mkdocs_build_pass(built):
    config, _, progress = built
    assert check_qiita(_article(config, "qiita")) == [] and check_zenn(_article(config, "zenn")) == []
    assert not [w for w in progress.warnings if w.startswith(("Qiita export", "Zenn export", "qiita-cli file"))]
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=config.root,
                            capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr
    html = (config.root / "build" / "html" / "index.html").read_text(encoding="utf-8")
    # the anchors the article links to are the ones MkDocs made (Japanese text kept)
    assert 'id="2-plotting-on-colab"' in html and 'id="3-日本語のスクリプト"' in html
    assert 'href="#3-日本語のスクリプト"' in html
