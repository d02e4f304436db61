"""`python -m pipeline init`: a folder of plain notebooks (or an empty one) becomes a project
that builds, whose site passes `mkdocs build --strict` and `zensical build --strict` and previews; the author's files are
only read, and no file is replaced without --force."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import REPO
from helpers import Preview, wait_for

from pipeline.config import load_config, tomllib
from pipeline.errors import PipelineError
from pipeline.experiments import discover
from pipeline.markdown.platforms import QIITA, ZENN
from pipeline.publish.site import SCRIPTS, SETTINGS_SCRIPT, installed
from pipeline.scaffold import default_mkdocs_yml, first_heading, init_project, suggest_slug, suggest_tags
from pipeline.suggest import GITIGNORE, suggest_title

ENV = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}


def notebook(path: Path, *cells: tuple[str, str]) -> Path:
    """A plain notebook as Jupyter writes it (no outputs), cells given as (type, source)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [make[kind](source) for kind, source in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def two_notebooks(folder: Path) -> list[Path]:
    """Two small notebooks, the first with a Japanese H1 (with emphasis and a link), as an author has them."""
    return [
        notebook(folder / "01_arrays.ipynb",
                 ("markdown", "# **NumPy** で[配列](https://numpy.org)の合計を確かめる\n\n本文です。"),
                 ("code", "%matplotlib inline\nimport numpy as np\nvalues = np.arange(1, 11)\nint(values.sum())")),
        notebook(folder / "02_table.ipynb",
                 ("markdown", "# 二つ目の実験"),
                 ("code", "from sklearn import __version__ as sk\nimport pandas as pd\nfiles = !ls\nprint('TABLE-OK')")),
    ]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, env=ENV,
                          timeout=600)


class SiteLoader(yaml.SafeLoader):
    """mkdocs.yml as data: its !!python/object/apply tags become (callable name, keywords)."""


SiteLoader.add_multi_constructor("tag:yaml.org,2002:python/object/apply:",
                                 lambda loader, suffix, node: (suffix, loader.construct_mapping(node, deep=True)))


def assert_slug_valid(slug: str) -> None:
    assert ZENN.slug_problems(slug) == []
    assert re.fullmatch(r"[0-9a-z_-]{12,50}", slug)  # also a plain file name for qiita-cli (public/<slug>.md)


# ---------------------------------------------------------------------------
# What init writes
# ---------------------------------------------------------------------------

def test_an_empty_folder_gets_a_project_with_an_example_experiment(tmp_path):
    folder = tmp_path / "empty-article"
    folder.mkdir()
    result = init_project(folder)
    assert result.experiments_dir == "experiments"
    assert {p.relative_to(folder).as_posix() for p in result.written} == {
        "experiments/01_first_experiment.py", "pyproject.toml", "mkdocs.yml", ".gitignore"}
    assert result.skipped == ()
    config = load_config(folder)
    assert config.experiments_dir == folder / "experiments"
    assert config.article.title == result.title == "はじめての実験"
    assert config.article.tags == ("Python",)
    assert_slug_valid(config.article.slug)
    assert [e.name for e in discover(config)] == ["01_first_experiment"]
    assert ".gitignore" in os.listdir(folder) and "build/" in (folder / ".gitignore").read_text().splitlines()
    site = yaml.load((folder / "mkdocs.yml").read_text(encoding="utf-8"), Loader=SiteLoader)
    assert site["site_name"] == "はじめての実験" and site["docs_dir"] == "site"


def test_two_notebooks_give_title_tags_and_a_slug_and_stay_untouched(tmp_path):
    folder = tmp_path / "my-notebooks"
    paths = two_notebooks(folder)
    (folder / "README.md").write_text("# About\n", encoding="utf-8")
    (folder / "helper.py").write_text("def helper():\n    return 1\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in folder.iterdir()}

    result = init_project(folder)
    assert result.experiments_dir == "."
    assert result.experiments == tuple(paths)
    assert result.title == "NumPy で配列の合計を確かめる"
    assert result.tags == ("Python", "scikit-learn", "pandas", "NumPy", "機械学習")
    assert QIITA.tag_problems(result.tags) == []
    assert_slug_valid(result.slug)
    assert result.slug.startswith("my-notebooks")  # a Japanese title: the folder's name
    assert {p: p.read_bytes() for p in before} == before  # notebooks, README and helper byte-identical

    config = load_config(folder)  # experiments_dir = "." with build/ and site/ inside it is a valid layout
    assert config.experiments_dir == folder
    warnings = []
    assert [e.name for e in discover(config, warn=warnings.append)] == ["01_arrays", "02_table"]
    assert warnings == []  # pyproject.toml, mkdocs.yml, README.md and helper.py are not experiments


def test_an_existing_pyproject_without_the_table_is_appended_to_byte_for_byte(tmp_path):
    folder = tmp_path / "project"
    two_notebooks(folder / "experiments")
    own = ('[project]\nname = "mine"   # my comment\ndependencies = [\n  "numpy",\n]\r\n\n'
           '[tool.ruff]\nline-length = 99').encode()  # odd spacing, mixed line ends, no final newline
    (folder / "pyproject.toml").write_bytes(own)
    result = init_project(folder)
    data = (folder / "pyproject.toml").read_bytes()
    assert data.startswith(own)
    parsed = tomllib.loads(data.decode())
    assert parsed["project"]["name"] == "mine" and parsed["tool"]["ruff"]["line-length"] == 99
    assert parsed["tool"]["pipeline"]["experiments_dir"] == "experiments" == result.experiments_dir
    assert parsed["tool"]["pipeline"]["article"]["title"] == "NumPy で配列の合計を確かめる"
    assert load_config(folder).article.slug == result.slug


def test_an_existing_table_is_refused_without_force_and_replaced_with_it(tmp_path):
    folder = tmp_path / "project"
    two_notebooks(folder)
    own = ('[project]\nname = "mine"\n\n[tool.pipeline]\ncell_timeout = 5\n\n[tool.pipeline.article]\n'
           'title = "Mine"\n\n[tool.ruff]\nline-length = 99\n')
    (folder / "pyproject.toml").write_text(own, encoding="utf-8")
    result = init_project(folder)
    assert (folder / "pyproject.toml").read_text(encoding="utf-8") == own
    assert [(s.path.name, s.reason) for s in result.skipped] == [
        ("pyproject.toml", "already has [tool.pipeline] (--force replaces that table)")]

    forced = init_project(folder, force=True, title="Forced title")
    parsed = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    assert parsed["project"] == {"name": "mine"} and parsed["tool"]["ruff"] == {"line-length": 99}
    assert parsed["tool"]["pipeline"] == {"experiments_dir": ".", "article": {
        "title": "Forced title", "tags": list(forced.tags), "slug": forced.slug}}
    assert (folder / "pyproject.toml") in forced.written


def test_nothing_is_overwritten_and_a_second_init_writes_nothing(tmp_path):
    folder = tmp_path / "project"
    paths = two_notebooks(folder)
    (folder / "mkdocs.yml").write_text("site_name: Mine\n", encoding="utf-8")
    (folder / ".gitignore").write_text("*.pyc", encoding="utf-8")  # no final newline
    result = init_project(folder)
    assert (folder / "mkdocs.yml").read_text(encoding="utf-8") == "site_name: Mine\n"
    assert (folder / ".gitignore").read_text(encoding="utf-8") == "*.pyc\n" + "".join(
        f"{line}\n" for group in GITIGNORE for line in group)
    assert [s.path.name for s in result.skipped] == ["mkdocs.yml"]

    files = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    again = init_project(folder)
    assert again.written == ()
    assert sorted(s.path.name for s in again.skipped) == [".gitignore", "mkdocs.yml", "pyproject.toml"]
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == files
    assert all(p.read_bytes() == files[p] for p in paths)


def test_an_existing_gitignore_gets_only_the_lines_it_lacks_every_byte_kept(tmp_path):
    """build/ and site/figures/ already ignored (other spellings), site/index.md un-ignored on purpose: only
    MathJax's folder and Zensical's cache are appended, in the file's own line endings; a second init adds nothing."""
    folder = tmp_path / "project"
    two_notebooks(folder)
    own = b"*.pyc\r\n/build\r\n# mine\r\nsite/figures\r\n!/site/index.md"  # no final line ending
    (folder / ".gitignore").write_bytes(own)
    assert (folder / ".gitignore") in init_project(folder).written
    assert (folder / ".gitignore").read_bytes() == own + (
        b"\r\n# site/ is the site's docs_dir: the article page, its figures and MathJax are generated there\r\n"
        b"/site/javascripts/mathjax/\r\n# Zensical's cache, in the folder of the mkdocs.yml it builds\r\n/.cache/\r\n")
    again = init_project(folder, force=True)
    assert (folder / ".gitignore") not in again.written and (folder / ".gitignore").read_bytes().count(b"/.cache/") == 1


def test_bad_values_are_refused_before_anything_is_written(tmp_path):
    folder = tmp_path / "project"
    two_notebooks(folder)
    with pytest.raises(PipelineError) as error:
        init_project(folder, tags=["a", "b", "c", "d", "e", "f"], slug="Bad Slug")
    assert "Qiita takes 1 to 5 tags" in str(error.value) and "slug 'Bad Slug'" in str(error.value)
    assert sorted(os.listdir(folder)) == ["01_arrays.ipynb", "02_table.ipynb"]


# ---------------------------------------------------------------------------
# The suggestions
# ---------------------------------------------------------------------------

def test_first_heading_reads_percent_scripts_and_skips_experiments_without_one(tmp_path):
    plain = tmp_path / "00_setup.py"
    plain.write_text("# %%\nimport os\n", encoding="utf-8")
    script = tmp_path / "01_script.py"
    script.write_text("# %% [markdown]\n# Intro text\n#\n# # `Top-p` と _temperature_ の__実験__\n\n"
                      "# %%\nx = 1\n", encoding="utf-8")
    assert first_heading([plain, script]) == "Top-p と temperature の__実験__"  # intraword __ is not emphasis
    assert first_heading([plain]) is None


def test_tags_come_from_imports_despite_magics_and_syntax_errors(tmp_path):
    torch = notebook(tmp_path / "a.ipynb", ("code", "%%time\nimport torch.nn as nn, os\nfrom transformers import pipeline"),
                     ("code", "%%bash\nimport fake_in_bash"), ("code", "import seaborn as sns\nthis is not python"))
    assert suggest_tags([torch]) == ("Python", "PyTorch", "transformers", "seaborn", "機械学習")
    plots = notebook(tmp_path / "b.ipynb", ("code", "!pip install x\nimport matplotlib.pyplot as plt\nimport scipy"))
    assert suggest_tags([plots]) == ("Python", "SciPy", "matplotlib")  # no ML library: no 機械学習
    assert suggest_tags([notebook(tmp_path / "c.ipynb", ("code", "print(1)"))]) == ("Python",)


@pytest.mark.parametrize("title, folder, expected", [
    ("Top-p Sampling: A Hands-on Look!", "x", "top-p-sampling-a-hands-on-look"),
    ("A" * 30 + " " + "b" * 30, "x", "a" * 30),  # cut at a word to at most 50
    ("小さなLLMで実験", "llm_notes", "llm-notes-?"),  # not ASCII: the folder's name, padded with a hash
    ("小さな実験", "実験", "article-?"),
    ("Short", "x", "short-?"),
])
def test_slugs_are_valid_on_qiita_and_zenn_and_deterministic(tmp_path, title, folder, expected):
    slug = suggest_slug(title, tmp_path / folder)
    assert_slug_valid(slug)
    assert slug == suggest_slug(title, tmp_path / folder)
    if expected.endswith("?"):
        assert re.fullmatch(re.escape(expected[:-1]) + "[0-9a-f]{4,}", slug) and len(slug) <= 14
    else:
        assert slug == expected


def test_the_default_site_configuration_is_the_repositorys_own():
    """The configuration init writes (and build/preview use without a mkdocs.yml) says what the
    repository's mkdocs.yml says, apart from the site's name."""
    own = yaml.load((REPO / "mkdocs.yml").read_text(encoding="utf-8"), Loader=SiteLoader)
    default = yaml.load(default_mkdocs_yml('A "quoted" title: ja 日本語'), Loader=SiteLoader)
    assert default.pop("site_name") == 'A "quoted" title: ja 日本語'
    own.pop("site_name")
    assert default == own


# ---------------------------------------------------------------------------
# The command, and a real build, site and preview in an init'ed folder
# ---------------------------------------------------------------------------

def test_the_command_works_with_no_pyproject_anywhere_and_prints_the_next_steps(tmp_path):
    two_notebooks(tmp_path / "notebooks")
    result = run(["pipeline", "init", "notebooks", "--tags", "Python", "NumPy"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "wrote pyproject.toml" in out and "wrote mkdocs.yml" in out and "wrote .gitignore" in out
    assert "tags:  Python, NumPy" in out and "experiments (.): 01_arrays.ipynb, 02_table.ipynb" in out
    assert "next steps:" in out and f"python -m pipeline -C {tmp_path / 'notebooks'} build" in out
    assert "npx qiita publish" in out
    again = run(["pipeline", "init", "notebooks"], tmp_path)
    assert again.returncode == 0 and "kept  pyproject.toml: already has [tool.pipeline]" in again.stdout
    assert "--force" in run(["pipeline", "init", "--help"], tmp_path).stdout


@pytest.mark.parametrize("where", ["top", "experiments", "empty"])
def test_an_initd_folder_builds_and_its_site_passes_both_engines_strict(tmp_path, where):
    folder = tmp_path / "article"
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    if where != "empty":
        two_notebooks(folder / "experiments" if where == "experiments" else folder)
    init = run(["pipeline", "init"], folder)
    assert init.returncode == 0, init.stderr
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts}

    build = run(["pipeline", "build"], folder)
    assert build.returncode == 0, build.stderr
    assert "warning:" not in build.stderr and ", 0 warnings" in build.stderr
    config = load_config(folder)
    article = (folder / "build" / "qiita" / "article.md").read_text(encoding="utf-8")
    assert (folder / "build" / "zenn" / "articles" / f"{config.article.slug}.md").is_file()
    site = run(["mkdocs", "build", "--strict", "-f", "mkdocs.yml"], folder)
    assert site.returncode == 0, site.stderr
    html = (folder / "build" / "html" / "index.html").read_text(encoding="utf-8")
    assert config.article.title in html
    if where == "empty":
        assert "1 から 10 までの合計は 55 でした" in article
    else:
        assert "TABLE-OK" in article and "TABLE-OK" in html
    assert (folder / "build" / "html" / SCRIPTS[0]).read_text(encoding="utf-8") == SETTINGS_SCRIPT
    assert (folder / "build" / "html" / SCRIPTS[1]).is_file()
    assert all(p.read_bytes() == data for p, data in before.items())  # the build changed none of the author's files
    if installed("zensical") or os.environ.get("CI"):  # Python 3.11+: .setup/install installs it
        site = run(["zensical", "build", "--strict", "-f", "mkdocs.yml"], folder)
        assert site.returncode == 0, site.stdout + site.stderr
        html = (folder / "build" / "html" / "index.html").read_text(encoding="utf-8")
        assert "zensical" in html and config.article.title in html and (folder / "build" / "html" / SCRIPTS[1]).is_file()
    # init's .gitignore: `git add -A` takes the author's files and init's, nothing the build or the engines made
    listed = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=all"], cwd=folder,
                            capture_output=True, text=True, check=True).stdout
    assert sorted(e[3:] for e in listed.split("\0") if e) == sorted(p.relative_to(folder).as_posix() for p in before)


def test_the_preview_ignores_its_own_outputs_inside_a_root_experiments_folder(tmp_path):
    """experiments_dir = ".": build/ and site/ lie in the watched folder, and a rebuild's own writes
    must not start another rebuild (which would loop forever)."""
    from pipeline.preview import Previewer
    from pipeline.progress import Progress

    two_notebooks(tmp_path)
    init_project(tmp_path)
    previewer = Previewer(tmp_path, Progress(quiet=True, live=False))
    try:
        watched = previewer.watched()
        assert previewer.is_input(tmp_path / "01_arrays.ipynb", watched)
        assert not previewer.is_input(tmp_path / "site" / "index.md", watched)
        assert not previewer.is_input(tmp_path / "build" / "preview" / "records" / "01_arrays.json", watched)
        # nor is it watched there: the site build remaking build/html made watchdog warn 15 KB a rebuild
        (tmp_path / "build" / "html").mkdir(parents=True)
        (tmp_path / "data").mkdir()
        watches = dict(previewer.watches(watched))
        assert watches[tmp_path] is False and watches[tmp_path / "data"] is True
        assert not any(f == tmp_path / "build" or tmp_path / "build" in f.parents for f in watches)
    finally:
        previewer.warm.close()


@pytest.mark.slow
def test_the_preview_serves_an_initd_folder_and_rebuilds_on_edit(tmp_path):
    paths = two_notebooks(tmp_path / "article")
    folder = tmp_path / "article"
    assert run(["pipeline", "init"], folder).returncode == 0
    preview = Preview(folder, ENV, tmp_path / "preview.log")

    def page_with(text: str):
        return wait_for(lambda: text in (preview.page() or ""), timeout=180, interval=0.2)

    try:
        assert page_with("TABLE-OK"), "the preview never served the article"
        paths[1].write_text(paths[1].read_text(encoding="utf-8").replace("TABLE-OK", "TABLE-EDITED"), encoding="utf-8")
        assert page_with("TABLE-EDITED"), "the preview did not rebuild after the edit"
    finally:
        output = preview.stop()
    assert preview.proc.returncode in (0, 130), output
    assert "preview: stopped" in output


def test_init_says_when_the_repository_would_commit_qiita_clis_remote_copies(tmp_path):
    """`npx zenn init` then `npx qiita init` at the repository's top: zenn's .gitignore (no `.remote`) is kept,
    so `git add -A` would commit public/.remote/. init names the line to add and the file, and writes nothing
    outside the project folder; with the line added, it says nothing."""
    repo = tmp_path / "repo"
    (repo / "public").mkdir(parents=True)
    (repo / "articles").mkdir()
    (repo / "books").mkdir()
    (repo / ".gitignore").write_text("node_modules\n.DS_Store", encoding="utf-8")  # zenn init's: no last newline
    (repo / "qiita.config.json").write_text("{}\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    notebook(repo / "numpy-notes" / "01_arrays.ipynb", ("markdown", "# Arrays"))
    outside = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and "numpy-notes" not in p.parts}
    done = run(["pipeline", "init"], repo / "numpy-notes")
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if ".remote" in line]
    assert len(said) == 1 and said[0].startswith(
        "  note: ../public/.remote/ (qiita-cli's copies of the articles) is not ignored, so `git add -A` commits it: "
        "add the line `.remote` to ../.gitignore"), done.stdout
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and "numpy-notes" not in p.parts} == outside

    command = re.search(r"`(printf [^`]+)`", said[0])[1]  # as the note says, in the project folder
    subprocess.run(command, shell=True, cwd=repo / "numpy-notes", check=True)
    assert (repo / ".gitignore").read_text(encoding="utf-8") == "node_modules\n.DS_Store\n.remote\n"
    notebook(repo / "pandas-notes" / "01_frames.ipynb", ("markdown", "# Frames"))
    assert not [n for n in init_project(repo / "pandas-notes").notes if ".remote" in n]


def test_untitled_projects_get_readable_titles_and_slugs_no_other_article_uses(tmp_path):
    """Issue 29, item 6: with no H1 the title is the first notebook's readable name (never "Untitled
    experiments"), and each init'ed project of the repository gets a slug of its own, also unlike
    the articles already in the qiita-cli folder."""
    import subprocess

    repo = tmp_path / "repo"
    (repo / "qiita" / "public").mkdir(parents=True)
    (repo / "qiita" / "qiita.config.json").write_text("{}\n", encoding="utf-8")
    (repo / "qiita" / "public" / "plot-regression-3.md").write_text("---\ntitle: mine\n---\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    results = []
    for name in ("gallery-a", "gallery-b", "gallery-c"):
        script = repo / name / "plot_regression.py"
        script.parent.mkdir()
        script.write_text('"""Regression example."""\n# %%\nimport numpy as np\n', encoding="utf-8")
        results.append(init_project(repo / name))
    assert [r.title for r in results] == ["Plot regression"] * 3
    assert [r.slug for r in results] == ["plot-regression", "plot-regression-2", "plot-regression-4"]
    for result in results:
        assert_slug_valid(result.slug)
    again = init_project(repo / "gallery-b", force=True)  # its own slug is not "taken" by itself
    assert again.slug == "plot-regression-2"

    assert suggest_title([], tmp_path / "my_first-article") == "My first article"  # no notebook: the folder's name
