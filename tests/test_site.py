"""The article's site built by both engines from one mkdocs.yml (issue 28): the real
``mkdocs build --strict`` (MkDocs 1.x, Material for MkDocs) and ``zensical build --strict``,
each looked at in chromium with every host but the local server refused.

The page is test_article's fixed records (a figure, note boxes, code, Japanese headings, hostile
outputs, a formula) plus a chapter made of the seed study's own markdown cells that hold math
(read from experiments/*.py with jupytext, the glue they cite given values), so every formula the
seed writes is on it. Nothing is executed: the records are fixed, as in test_article.
tests/benchmarks/bench_site.py runs the same checks on a built seed study and prints the figures.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import jupytext
import pytest
from article_fixtures import make_project
from conftest import REPO
from helpers import run_pipeline
from site_checks import build_site, look, search

from pipeline.article.anchors import anchors
from pipeline.article.harvest import load_records
from pipeline.config import load_config
from pipeline.layout import GENERATED_FILE
from pipeline.progress import Progress
from pipeline.publish.export import export
from pipeline.publish.site import MATHJAX, SCRIPTS, SETTINGS_SCRIPT
from pipeline.records import Cell, ExperimentRecord, GlueValue
from pipeline.storage import Publication

ENGINES = ["mkdocs", "zensical"]
#: words of the seed's 考察 on Temperature (05_decoding.py), found by a reader's search
SEED_WORDS = ["エントロピー", "分布"]
#: one inline formula or one display block, as the author writes them
FORMULA = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)


def seed_math_cells() -> list[str]:
    """The markdown cells of the seed study's experiments that hold a formula."""
    cells = []
    for path in sorted((REPO / "experiments").glob("*.py")):
        cells += [c.source for c in jupytext.read(path).cells if c.cell_type == "markdown" and FORMULA.search(c.source)]
    return cells


def seed_chapter(template: ExperimentRecord, cells: list[str]) -> ExperimentRecord:
    """A chapter holding *cells*, each glue value they cite set to a number."""
    names = sorted(set(re.findall(r"\{\{\s*(\w+)\s*\}\}", "\n".join(cells))))
    markdown = [Cell(0, "markdown", "# 数式のある章\n\nシードの数式を集めた章。", lines=(1, 3))]
    markdown += [Cell(i + 1, "markdown", source, lines=(10 * i + 5, 10 * i + 9)) for i, source in enumerate(cells)]
    return ExperimentRecord(name="03_seed_math", source="experiments/03_seed_math.py", title="数式のある章",
                            environment=template.environment, cells=tuple(markdown),
                            glue={n: GlueValue(0.25, "0.25") for n in names}, execution=template.execution)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The fixed records and the seed's math chapter, exported (site/index.md, figures/, javascripts/mathjax/)."""
    root = make_project(tmp_path_factory.mktemp("site") / "article")
    records = load_records(load_config(root))
    path = root / "build" / "records" / "03_seed_math.json"
    path.write_text(seed_chapter(records[0], seed_math_cells()).to_json(), encoding="utf-8")
    (root / "experiments" / "03_seed_math.py").write_text("# %%\nx = 1\n", encoding="utf-8")
    config = load_config(root)
    with Publication(config.layout.journal) as publication:
        export(load_records(config), config, Progress(quiet=True, live=False), publication)
    return root


@pytest.fixture(scope="module", params=[pytest.param(e, marks=pytest.mark.requires(e)) for e in ENGINES])
def built(request, project) -> tuple[str, Path]:
    """(engine, the built site folder)."""
    site, _ = build_site(request.param, project)
    return request.param, site


@pytest.fixture(scope="module")
def seen(built) -> dict:
    return look(built[1])


def test_the_build_writes_mathjax_and_its_settings_into_the_site_folder(project):
    """No plugin needed: the files are in docs_dir, marked as the pipeline's, and mkdocs.yml loads them."""
    folder = project / "site" / MATHJAX
    assert (folder / "config.js").read_text(encoding="utf-8") == SETTINGS_SCRIPT
    assert (folder / "es5" / "tex-mml-chtml.js").stat().st_size > 500_000
    assert list((folder / "es5" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (folder / GENERATED_FILE).is_file() and (folder / "LICENSE").is_file()
    config = (project / "mkdocs.yml").read_text(encoding="utf-8")
    assert config.index(SCRIPTS[0]) < config.index(SCRIPTS[1])
    assert "offline-mathjax" not in config and "hooks:" not in config  # nothing only MkDocs runs


@pytest.mark.requires("chromium")
def test_every_formula_of_the_seed_is_typeset_offline(built, seen):
    engine, site = built
    written = len(FORMULA.findall("\n".join(seed_math_cells()))) + 1  # + test_article's display formula
    assert written >= 6  # the seed's Temperature formula and its inline T and z
    assert seen["formulas"] == written, engine
    assert seen["typeset"] == written and seen["tex_errors"] == 0 and seen["raw_tex"] == [], (engine, seen["raw_tex"])
    assert any(url.endswith(SCRIPTS[1]) for url in seen["requests"])
    assert any(url.endswith(".woff") for url in seen["requests"])  # MathJax's fonts, from the site too


@pytest.mark.requires("chromium")
def test_nothing_is_loaded_from_the_network_and_nothing_is_missing(built, seen):
    assert seen["requests"] and all(url.startswith(seen["origin"]) for url in seen["requests"]), seen["requests"]
    assert seen["failures"] == [], (built[0], seen["failures"])


@pytest.mark.requires("chromium")
def test_figures_notes_code_copy_and_japanese_anchors_work(built, seen, project):
    engine, _ = built
    assert seen["images"] == [["figures/01_first/01_first-cell03-1.png", True]], engine
    kinds = [cls for cls, _, visible in seen["admonitions"] if visible]
    assert len(kinds) == len(seen["admonitions"]) >= 3 and any("warning" in k for k in kinds), seen["admonitions"]
    assert seen["copy_buttons"] >= 3 and seen["copied"] == seen["code"].rstrip("\n") == "print(vocab)", engine
    ids = [anchor for anchor, _ in seen["headings"]]
    assert "1-最初の実験" in ids and "想定読者" in ids and "試したこと_1" in ids
    expected = anchors([(0, 2, text) for _, text in seen["headings"]], "mkdocs")
    assert ids == expected  # the anchors pipeline/article/anchors.py links to
    assert seen["links"] and all(found for _, found in seen["links"]), [a for a, found in seen["links"] if not found]


@pytest.mark.requires("chromium")
def test_a_japanese_word_from_the_seeds_observation_finds_the_page(built):
    """Words from inside unspaced Japanese text (the seed's 考察 on Temperature), typed into the
    search box: each finds the page's section that holds it; a word the page lacks finds nothing."""
    engine, site = built
    found = search(site, [*SEED_WORDS, "存在しない言葉"])
    for word in SEED_WORDS:
        assert any(word in text and href.startswith("#") for href, text in found[word]), (engine, word, found[word])
    assert found["存在しない言葉"] == []


def test_an_older_mkdocs_yml_is_told_what_zensical_needs(tmp_path):
    """A mkdocs.yml of an earlier init (MathJax through the offline-mathjax plugin) gets a warning
    naming the scripts to load; the current one gets none."""
    from pipeline.publish.site import SiteConfig, site_warnings
    from pipeline.scaffold import default_mkdocs_yml

    current = tmp_path / "mkdocs.yml"
    current.write_text(default_mkdocs_yml("T"), encoding="utf-8")
    assert site_warnings(SiteConfig(current, default=False)) == []
    old = tmp_path / "old.yml"
    old.write_text(default_mkdocs_yml("T").replace(SCRIPTS[0], "javascripts/mathjax.js"), encoding="utf-8")
    [warning] = site_warnings(SiteConfig(old, default=False))
    assert "Zensical" in warning and SCRIPTS[0] in warning


@pytest.mark.requires("mkdocs")
def test_an_older_mkdocs_yml_still_builds_with_the_plugin(project, tmp_path):
    """MkDocs only: the offline-mathjax plugin supplies javascripts/mathjax.js for a configuration
    that loads it, and the build's MathJax folder serves the rest."""
    old = shutil.copytree(project, tmp_path / "old")
    text = (old / "mkdocs.yml").read_text(encoding="utf-8").replace(SCRIPTS[0], "javascripts/mathjax.js")
    (old / "mkdocs.yml").write_text(text.replace("markdown_extensions:", "  - offline-mathjax\nmarkdown_extensions:"),
                                    encoding="utf-8")
    site, _ = build_site("mkdocs", old)
    assert (site / "javascripts" / "mathjax.js").read_text(encoding="utf-8") == SETTINGS_SCRIPT
    assert (site / SCRIPTS[1]).is_file()


def test_an_authors_own_mathjax_folder_is_never_replaced(tmp_path):
    """site/javascripts/mathjax/ that the pipeline did not write stops the export before anything is
    published, naming the folder; the author's files stay as they were."""
    from pipeline.errors import OutputPathError

    root = make_project(tmp_path / "article")
    own = root / "site" / MATHJAX / "config.js"
    own.parent.mkdir(parents=True)
    own.write_text("window.MathJax = {};\n", encoding="utf-8")
    config = load_config(root)
    with pytest.raises(OutputPathError, match="site/javascripts/mathjax"):
        with Publication(config.layout.journal) as publication:
            export(load_records(config), config, Progress(quiet=True, live=False), publication)
    assert own.read_text(encoding="utf-8") == "window.MathJax = {};\n" and not (root / "site" / "index.md").exists()


def test_the_build_needs_neither_engine(tmp_path):
    """`python -m pipeline export` (the build's last stage) with mkdocs, Material and Zensical
    unimportable writes the page and MathJax all the same."""
    import subprocess
    import sys

    root = make_project(tmp_path / "article")
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('mkdocs', 'material', 'zensical'):\n"
        "            raise ModuleNotFoundError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)])}
    done = run_pipeline("export", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    assert (root / "site" / "index.md").is_file() and (root / "site" / SCRIPTS[1]).is_file()
    probe = subprocess.run([sys.executable, "-c", "import mkdocs"], env=env, capture_output=True, text=True, check=False)
    assert "blocked: mkdocs" in probe.stderr  # the blocker works


def test_the_next_export_restores_a_damaged_mathjax_folder_and_leaves_a_whole_one_alone(tmp_path):
    root = make_project(tmp_path / "article")
    config = load_config(root)

    def exported():
        with Publication(config.layout.journal) as publication:
            export(load_records(config), config, Progress(quiet=True, live=False), publication)

    exported()
    folder = root / "site" / MATHJAX
    font = next((folder / "es5" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    exported()
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == stamps  # nothing copied again
    font.unlink()
    (folder / "config.js").write_text("// edited\n", encoding="utf-8")
    exported()
    assert font.is_file() and (folder / "config.js").read_text(encoding="utf-8") == SETTINGS_SCRIPT
