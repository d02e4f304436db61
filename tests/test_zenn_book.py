"""The Zenn export's limits: a book in zenn-cli's layout for long projects, figures over Zenn's 3 MB
downscaled in the Zenn folder only, long outputs cut on Zenn only. Built from fixed records, no kernel.

zenn-cli itself is not needed here (CI has no node_modules): the structural rules it applies
(zenn-model's validateBook and validateBookChapter, its preview's image checks) are checked on
the files. docs/publishing.md tells how to run zenn-cli on the result."""

from __future__ import annotations

import dataclasses
import os
import re

import pytest
import yaml
from article_fixtures import make_project, records
from helpers import zenn_slug

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.markdown.platforms import ZENN
from pipeline.markdown.scanner import headings
from pipeline.progress import Progress
from pipeline.publish.export import export
from pipeline.records import Cell, StreamOutput
from pipeline.storage import Publication

FIGURE = "build/figures/01_first/01_first-cell03-1.png"
BOOK = '\n[tool.pipeline.zenn]\nformat = "book"\nsummary = "固定レコードから作った本"\n'


def _project(tmp_path, zenn: str = ""):
    root = make_project(tmp_path / "article")
    if zenn:
        (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text(encoding="utf-8") + zenn,
                                             encoding="utf-8")
    return load_config(root)


def _publish(config, recs=None, progress=None):
    progress = progress or Progress(quiet=True, live=False)
    with Publication(config.layout.journal) as publication:
        return export(recs if recs is not None else records(), config, progress, publication), progress


def _refusal(exported, platform: str = "Zenn") -> str:
    """The one refusal of *platform* in *exported*; the other platforms were published."""
    found = [r.removeprefix(f"{platform}: ") for r in exported.refused if r.startswith(f"{platform}: ")]
    assert len(found) == 1 and len(exported.refused) == 1, exported.refused
    assert exported.qiita_cli.is_file() and exported.site_page.is_file()  # Qiita and the site: published
    return found[0]


def _with_cells(record, *cells):
    start = len(record.cells)
    return dataclasses.replace(record, cells=record.cells + tuple(dataclasses.replace(c, index=start + i)
                                                                  for i, c in enumerate(cells)))


def _prose(characters: int) -> Cell:
    """A markdown cell of about *characters* characters: paragraphs of Japanese prose."""
    paragraph = "長い説明の文章です。" * 45  # 450 characters
    return Cell(0, "markdown", "\n\n".join([paragraph] * (characters // 452)))


def _front(text: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, text[:200]
    return yaml.safe_load(match.group(1))


def _noise_png(path, width: int, height: int) -> None:
    """A PNG that does not compress: random pixels, about 3 bytes each."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(path, format="PNG")


def check_book(folder) -> list[str]:
    """What zenn-cli (zenn-model's book and chapter validators, its preview's image checks)
    would refuse in the book at *folder*; the chapter files' bodies by name."""
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    for key in ("title", "summary", "topics", "published", "price", "chapters"):
        assert key in config, f"config.yaml has no {key}"
    problems = ZENN.book_problems(config)
    files = sorted(p.stem for p in folder.glob("*.md"))
    assert sorted(config["chapters"]) == files, (config["chapters"], files)  # listed = on disk, nothing stale
    root = folder.parent.parent
    for name in config["chapters"]:
        text = (folder / f"{name}.md").read_text(encoding="utf-8")
        body = text.split("\n---\n", 1)[1]
        problems += ZENN.chapter_problems(name, _front(text))
        problems += ZENN.article_problems(body, limit=ZENN.chapter_limit, what=name)
        for src in re.findall(r"!\[[^\]]*\]\((\S+?)\)", body):
            image = root / src.lstrip("/")
            assert src.startswith("/images/") and image.is_file(), src
            problems += ZENN.image_problems(src, image.stat().st_size)
    covers = [p for p in folder.iterdir() if p.stem == "cover"]
    problems += [p for c in covers for p in ZENN.cover_problems(c.name, c.stat().st_size)]
    return problems


def test_a_book_in_zenn_clis_layout(tmp_path):
    config = _project(tmp_path, BOOK)
    exported, progress = _publish(config)
    folder = config.layout.zenn / "books" / zenn_slug(config)
    assert exported.zenn == folder / "config.yaml"
    assert check_book(folder) == []
    data = yaml.safe_load(exported.zenn.read_text(encoding="utf-8"))
    assert data == {"title": "テスト記事: 固定レコードから", "summary": "固定レコードから作った本", "topics": ["python", "テスト"],
                    "published": False, "price": 0, "chapters": ["01_first", "02_hostile"]}
    first = (folder / "01_first.md").read_text(encoding="utf-8")
    last = (folder / "02_hostile.md").read_text(encoding="utf-8")
    assert _front(first) == {"title": "最初の実験"} and _front(last) == {"title": "Hostile outputs"}
    # the article's opening goes first, its closing sections last; the chapter heading is the page title
    assert first.index("## 想定読者") < first.index("## 前提知識") < first.index("## 試したこと")
    assert "## まとめ" in last and "## 参考文献" in last and "## まとめ" not in first
    assert "## 1. 最初の実験" not in first and "## 2. Hostile outputs" not in last
    assert [lvl for _, lvl, text in headings(first.split("\n---\n", 1)[1]) if text == "Count"] == [3]  # was ####
    assert "![折れ線グラフ](/images/fixture-article/01_first/01_first-cell03-1.png)" in first
    assert (config.layout.zenn / "images/fixture-article/01_first/01_first-cell03-1.png").is_file()
    assert (config.layout.zenn / "articles/.keep").is_file()  # zenn-cli's layout; no article written
    assert not (config.layout.zenn / "articles" / f"{zenn_slug(config)}.md").exists()
    assert not [w for w in progress.warnings if w.startswith("Zenn book")]  # the dialect check is clean


def test_the_book_is_rendered_from_the_context_not_cut_out_of_the_article(tmp_path):
    """Each page is rendered from its chapter in the context (chapter.md.j2), its links resolved from
    the context: a writer's article.md.j2 that heads its chapters its own way, at another level and
    with no number, changes nothing in the book; a writer's chapter.md.j2 shows on every page."""
    from pipeline.layout import DEFAULT_TEMPLATES

    first, second = records()
    second = _with_cells(second, Cell(0, "markdown", "[前の章の Count](01_first.py#Count) と [前の章](01_first.py)"))

    def book(name: str, templates: dict[str, str]) -> dict[str, str]:
        config = _project(tmp_path / name, BOOK)
        for file, text in templates.items():
            (config.root / "templates" / file).parent.mkdir(parents=True, exist_ok=True)
            (config.root / "templates" / file).write_text(text, encoding="utf-8")
        exported, _ = _publish(config, [first, second])
        assert exported.refused == ()
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(exported.zenn.parent.glob("*.md"))}

    default = (DEFAULT_TEMPLATES / "article.md.j2").read_text(encoding="utf-8")
    heading = '## {% if not author_numbers %}{{ chapter.number }}. {% endif %}{{ chapter.title }}'
    assert heading in default
    plain = book("default", {})
    assert "[前の章の Count](01_first#count)" in plain["02_hostile.md"] and "[前の章](01_first)" in plain["02_hostile.md"]
    assert book("own-headings", {"article.md.j2": default.replace(heading, "### {{ chapter.title }}")}) == plain
    chapter = (DEFAULT_TEMPLATES / "chapter.md.j2").read_text(encoding="utf-8") + "\n章の終わり: {{ chapter.name }}\n"
    marked = book("own-chapter", {"chapter.md.j2": chapter})
    assert "章の終わり: 01_first" in marked["01_first.md"] and "章の終わり: 02_hostile" in marked["02_hostile.md"]


def test_what_zenn_cli_and_the_user_set_is_kept(tmp_path):
    config = _project(tmp_path, BOOK)
    exported, _ = _publish(config)
    folder = exported.zenn.parent
    text = exported.zenn.read_text(encoding="utf-8").replace("published: false", "published: true")
    exported.zenn.write_text(text + "toc_depth: 2\n", encoding="utf-8")
    chapter = folder / "02_hostile.md"
    chapter.write_text(chapter.read_text(encoding="utf-8").replace('---\n', '---\nfree: true\n', 1), encoding="utf-8")
    pyproject = config.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace("固定レコードから作った本", "新しい説明"),
                         encoding="utf-8")
    config = load_config(config.root)
    again, _ = _publish(config)
    data = yaml.safe_load(again.zenn.read_text(encoding="utf-8"))
    assert data["published"] is True and data["toc_depth"] == 2 and data["summary"] == "新しい説明"
    assert _front(chapter.read_text(encoding="utf-8")) == {"title": "Hostile outputs", "free": True}
    assert check_book(folder) == []


def test_switching_to_a_book_leaves_the_article_and_says_so(tmp_path):
    config = _project(tmp_path)
    exported, _ = _publish(config)
    article = exported.zenn.read_bytes()
    pyproject = config.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + BOOK, encoding="utf-8")
    book, progress = _publish(load_config(config.root))
    assert exported.zenn.read_bytes() == article  # maybe published on Zenn: never deleted by a build
    assert any(str(exported.zenn) in w and "delete it if the book replaces it" in w for w in progress.warnings)
    assert check_book(book.zenn.parent) == []


def test_an_article_over_80000_characters_fails_and_builds_as_a_book(tmp_path):
    first, second = records()
    long = [_with_cells(first, _prose(45_000)), _with_cells(second, _prose(45_000))]
    config = _project(tmp_path)
    refused, _ = _publish(config, long)
    message = _refusal(refused)
    assert "80,000" in message and 'format = "book"' in message and "[tool.pipeline.zenn]" in message
    assert not list(config.layout.zenn.glob("**/*.md"))  # the Zenn article alone was not published
    assert "長い説明の文章です。" in refused.qiita_cli.read_text(encoding="utf-8")

    pyproject = config.root / "pyproject.toml"  # what the refusal says, and no summary: the lead is the book's
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + '\n[tool.pipeline.zenn]\nformat = "book"\n',
                         encoding="utf-8")
    config = load_config(config.root)
    exported, _ = _publish(config, long)
    assert exported.refused == ()
    folder = exported.zenn.parent
    assert check_book(folder) == []
    summary = yaml.safe_load(exported.zenn.read_text(encoding="utf-8"))["summary"]
    assert summary and len(summary) <= 200 and "\n" not in summary, summary
    sizes = [len((folder / f"{name}.md").read_text(encoding="utf-8")) for name in ("01_first", "02_hostile")]
    assert all(40_000 < size < ZENN.chapter_limit for size in sizes), sizes


def test_a_chapter_over_50000_characters_in_one_block_is_refused_naming_it(tmp_path):
    first, second = records()
    config = _project(tmp_path, BOOK)
    exported, _ = _publish(config, [first, _with_cells(second, Cell(0, "markdown", "長い説明の文章です。" * 5_500))])
    message = _refusal(exported)
    assert "chapter 2 (experiments/02_hostile.py, books/fixture-article/02_hostile.md)" in message
    assert "50,000" in message and "split the experiment" in message
    assert re.search(r"is 5\d,\d{3} characters", message)
    assert not (config.layout.zenn / "books").exists()


def test_a_chapter_over_50000_characters_is_cut_at_its_own_headings(tmp_path):
    """One long notebook: three sections of about 20,000 characters each become chapters of at most
    50,000, cut before its headings; links into a later piece point at that piece."""
    first, second = records()
    sections = [Cell(0, "markdown", f"## Part {n}\n\n" + _prose(20_000).source) for n in (1, 2, 3)]
    link = Cell(0, "markdown", "[Part 3 へ](#Part-3) と [前の章](01_first.py)")
    config = _project(tmp_path, '\n[tool.pipeline.zenn]\nformat = "book"\n')
    exported, _ = _publish(config, [first, _with_cells(second, link, *sections)])
    assert exported.refused == ()
    folder = exported.zenn.parent
    assert check_book(folder) == []
    chapters = yaml.safe_load(exported.zenn.read_text(encoding="utf-8"))["chapters"]
    assert chapters == ["01_first", "02_hostile", "02_hostile-2"], chapters
    one, two = ((folder / f"{name}.md").read_text(encoding="utf-8") for name in chapters[1:])
    assert _front(one) == {"title": "Hostile outputs (1/2)"} and _front(two) == {"title": "Hostile outputs (2/2)"}
    assert all(len(text) <= ZENN.chapter_limit for text in (one, two))
    assert "\n## Part 1\n" in one and "\n## Part 2\n" in one and two.split("\n---\n", 1)[1].startswith("## Part 3\n")
    assert "[Part 3 へ](02_hostile-2#part-3)" in one and "[前の章](01_first)" in one


def test_a_long_chapter_without_headings_is_cut_between_paragraphs_never_inside_a_block(tmp_path):
    first, second = records()
    folded = Cell(0, "markdown", ":::details 折りたたみ\n\n" + _prose(30_000).source + "\n\n:::")
    config = _project(tmp_path, BOOK)
    exported, _ = _publish(config, [first, _with_cells(second, _prose(30_000), folded)])
    assert exported.refused == ()
    folder = exported.zenn.parent
    assert check_book(folder) == []
    bodies = [(folder / f"{name}.md").read_text(encoding="utf-8").split("\n---\n", 1)[1]
              for name in yaml.safe_load(exported.zenn.read_text(encoding="utf-8"))["chapters"][1:]]
    assert len(bodies) == 2 and all(body.count(":::details") == body.count("\n:::\n") for body in bodies), \
        [body.count(":::") for body in bodies]


def test_links_between_experiments_point_at_the_other_chapter(tmp_path):
    first, second = records()
    first = _with_cells(first, Cell(0, "markdown", "次は [Hostile](02_hostile.py) と [その出力](02_hostile.py#Hostile-print)。"))
    second = _with_cells(second, Cell(0, "markdown", "[Count の節](01_first.py#Count) と [この章の Folded](#Folded)、"
                                               "[この章](02_hostile.py)。"))
    config = _project(tmp_path, BOOK)
    exported, _ = _publish(config, [first, second])
    folder = exported.zenn.parent
    one = (folder / "01_first.md").read_text(encoding="utf-8")
    two = (folder / "02_hostile.md").read_text(encoding="utf-8")
    assert "[Hostile](02_hostile)" in one and "[その出力](02_hostile#hostile-print)" in one
    assert "[Count の節](01_first#count)" in two and "[この章の Folded](#folded)" in two and "[この章](02_hostile)" in two
    assert "\n### Hostile print\n" in two and "#### Hostile print" not in two  # the heading moved up a level
    # the whole article keeps its in-page anchors
    article = _project(tmp_path / "article-format")
    article_file, _ = _publish(article, [first, second])
    assert "[Hostile](#2.-hostile-outputs)" in article_file.zenn.read_text(encoding="utf-8")


def test_long_outputs_are_cut_on_zenn_only(tmp_path):
    line = "0123456" * 1_000  # one output of 5 lines, 35,004 characters
    output = StreamOutput("stdout", f"{line}\n" * 5)
    first, second = records()
    first = _with_cells(first, Cell(0, "code", "print(big)", title="Big", outputs=(output,)))
    config = _project(tmp_path)
    exported, _ = _publish(config, [first, second])
    zenn = exported.zenn.read_text(encoding="utf-8")
    # cut at the last line end in the 20,000 characters kept
    assert f"{line}\n{line}\n... (21,003 more characters not shown on Zenn; the full output is on the site" in zenn
    assert f"{line}\n{line}\n{line}" not in zenn
    for page in (exported.article, exported.site_page):  # Qiita and the site: the whole output
        assert "\n".join([line] * 5) in page.read_text(encoding="utf-8")


def test_a_figure_over_3_mb_is_downscaled_for_zenn_only(tmp_path):
    from PIL import Image

    config = _project(tmp_path, BOOK)
    original = config.root / FIGURE
    _noise_png(original, 1200, 1000)  # about 3.4 MB
    before = original.read_bytes()
    assert len(before) > ZENN.image_bytes
    exported, progress = _publish(config)
    zenn = config.layout.zenn / "images/fixture-article/01_first/01_first-cell03-1.png"
    assert zenn.stat().st_size <= ZENN.image_bytes
    with Image.open(zenn) as image:
        assert image.format == "PNG" and abs(image.width / image.height - 1.2) < 0.01 and image.width < 1200
        width, height = image.size
    assert original.read_bytes() == before  # build/figures and the other exports keep the original
    assert (config.layout.site / "figures/01_first/01_first-cell03-1.png").read_bytes() == before
    assert (config.layout.qiita / "figures/01_first/01_first-cell03-1.png").read_bytes() == before
    warning = next(w for w in progress.warnings if "01_first-cell03-1.png" in w)
    assert "(1200x1000)" in warning and f"downscaled to {width}x{height}" in warning and "3.0 MB" in warning
    assert check_book(exported.zenn.parent) == []


def test_an_oversized_figure_that_cannot_be_read_is_an_error_naming_it(tmp_path):
    config = _project(tmp_path)
    _publish(config)
    article = config.layout.zenn / "articles" / f"{zenn_slug(config)}.md"
    published = article.read_bytes()
    (config.root / FIGURE).write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(ZENN.image_bytes + 1000))
    exported, _ = _publish(config)
    assert re.search(r"figures/01_first/01_first-cell03-1\.png is 3\.0 MB.*cannot be read", _refusal(exported))
    assert article.read_bytes() == published  # the last good export stays
    assert (config.layout.zenn / "images/fixture-article/01_first/01_first-cell03-1.png").stat().st_size < 1000


def test_the_cover_is_copied_and_fitted(tmp_path):
    from PIL import Image

    config = _project(tmp_path, BOOK + 'cover = "art/cover.png"\n')
    _noise_png(config.root / "art/cover.png", 600, 840)  # about 1.5 MB, the shape Zenn recommends
    exported, progress = _publish(config)
    cover = exported.zenn.parent / "cover.png"
    assert cover.stat().st_size <= ZENN.cover_bytes
    with Image.open(cover) as image:
        assert round(image.height / image.width, 1) == 1.4
    assert any("the book cover art/cover.png" in w and "downscaled" in w for w in progress.warnings)
    assert check_book(exported.zenn.parent) == []
    (config.root / "art/cover.png").unlink()
    exported, _ = _publish(config)
    assert "tool.pipeline.zenn.cover names art/cover.png, which does not exist" in _refusal(exported)
    assert cover.is_file()


@pytest.mark.parametrize("setting, error", [
    ('price = 150\n', "tool.pipeline.zenn.price: price must be 0 (free) or 200 to 5,000 yen in steps of 100, got 150"),
    ('price = 1250\n', "got 1250"),
    ('cover = "cover.svg"\n', "tool.pipeline.zenn.cover: cover.svg: a Zenn book cover is a png, jpg, jpeg, webp or gif"),
    ('format = "pdf"\n', "tool.pipeline.zenn.format: must be one of 'article', 'book'"),
])
def test_book_settings_are_validated(tmp_path, setting, error):
    root = make_project(tmp_path / "article")
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text(encoding="utf-8")
                                         + "\n[tool.pipeline.zenn]\n" + setting, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(root)
    assert error in str(raised.value)


@pytest.mark.parametrize("kind, mode", [("PNG", "RGBA"), ("JPEG", "RGB"), ("WEBP", "RGB"), ("GIF", "P")])
def test_each_image_type_zenn_shows_is_downscaled_in_its_own_type(tmp_path, kind, mode):
    from PIL import Image, ImageSequence

    from pipeline.publish.zenn_book import fit_image

    path = tmp_path / f"figure.{kind.lower()}"
    frames = [Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3)).convert(mode) for _ in range(3)]
    frames[0].save(path, format=kind, save_all=kind == "GIF", append_images=frames[1:] if kind == "GIF" else [])
    limit = path.stat().st_size // 3
    message = fit_image(path, limit, "figure")
    assert path.stat().st_size <= limit and "figure is" in message and "downscaled to" in message
    with Image.open(path) as image:
        assert image.format == kind and abs(image.width / image.height - 4 / 3) < 0.02
        assert len(list(ImageSequence.Iterator(image))) == (3 if kind == "GIF" else 1)  # an animation stays one
    assert fit_image(path, limit, "figure") is None  # within the limit: left alone
