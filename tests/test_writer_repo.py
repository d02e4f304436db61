"""The writer's repository (issue 16): one git repository holds a qiita-cli folder and a zenn-cli
root, each already with another article, and two article projects that `init` made from plain
notebooks. `build --all` at the root exports both into those folders; everything else there stays
byte-identical; a fresh clone builds again; a file of the same name that the pipeline did not
write, or another project's, is refused. Real kernels, real git, the real command line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pipeline.markdown.platforms import ZENN

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env, text=True,
                         capture_output=True, timeout=600)
    if check and run.returncode != 0:
        raise AssertionError(f"pipeline {' '.join(args)} failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return run


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, text=True, capture_output=True, check=True).stdout


def _notebook(path: Path, title: str, code: list[str]) -> None:
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n本文です。")]
    cells += [nbformat.v4.new_code_cell(source) for source in code]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)


PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def repo(tmp_path) -> Path:
    """A writer's repository: qiita/ (qiita-cli) and zenn/ (zenn-cli), each with an article of the
    writer's own and the CLIs' files, and two notebook folders made projects by `init`."""
    root = tmp_path / "articles-repo"
    qiita, zenn = root / "qiita", root / "zenn"
    (qiita / "public").mkdir(parents=True)
    (qiita / "public" / "handmade.md").write_text("---\ntitle: 手書きの記事\ntags:\n  - Python\nprivate: false\n"
                                                  "updated_at: ''\nid: null\norganization_url_name: null\n"
                                                  "slide: false\nignorePublish: false\n---\n# 手書き\n", encoding="utf-8")
    (qiita / "qiita.config.json").write_text('{"includePrivate": false}\n', encoding="utf-8")
    (qiita / ".remote").mkdir()
    (qiita / ".remote" / "handmade.md").write_text("remote copy\n", encoding="utf-8")
    (qiita / "node_modules" / "@qiita").mkdir(parents=True)
    (qiita / "node_modules" / "@qiita" / "x.js").write_text("// cli\n", encoding="utf-8")
    (qiita / "package.json").write_text('{"dependencies": {"@qiita/qiita-cli": "1.8.0"}}\n', encoding="utf-8")
    (zenn / "articles").mkdir(parents=True)
    (zenn / "articles" / "my-own-zenn-article.md").write_text("---\ntitle: mine\nemoji: 📝\ntype: tech\n"
                                                              "topics: []\npublished: false\n---\nmine\n", encoding="utf-8")
    (zenn / "books" / "my-book").mkdir(parents=True)
    (zenn / "books" / "my-book" / "config.yaml").write_text("title: my book\n", encoding="utf-8")
    (zenn / "images" / "my-own-zenn-article").mkdir(parents=True)
    (zenn / "images" / "my-own-zenn-article" / "a.png").write_bytes(b"\x89PNG not really")
    (zenn / "package.json").write_text('{"dependencies": {"zenn-cli": "0.1.0"}}\n', encoding="utf-8")

    _notebook(root / "numpy-intro" / "numpy.ipynb", "NumPy 入門",
              ["import numpy as np\nprint(np.arange(4).sum())", PLOT])
    _notebook(root / "pandas-notes" / "notes.ipynb", "pandas Notes for Beginners",
              ["import pandas as pd\nprint(pd.Series([1, 2, 3]).mean())"])
    (root / ".gitignore").write_text("node_modules/\n.remote/\n", encoding="utf-8")
    _git("init", "-q", "-b", "main", cwd=root)
    for name in ("numpy-intro", "pandas-notes"):  # init finds the CLI folders in the work tree
        run = _cli("init", name, cwd=root)
        assert "qiita-cli folder ../qiita" in run.stdout and "zenn-cli root ../zenn" in run.stdout, run.stdout
        text = (root / name / "pyproject.toml").read_text(encoding="utf-8")
        assert 'export_dir = "../qiita"' in text and '[tool.pipeline.zenn]\n' in text, text
    return root


def test_two_articles_build_into_shared_cli_folders(repo):
    qiita_before, zenn_before = _files(repo / "qiita"), _files(repo / "zenn")

    run = _cli("build", "--all", cwd=repo)
    assert "built 2 articles: 2 ok, 0 failed" in run.stderr, run.stderr
    assert "numpy-intro: ok" in run.stderr and "pandas-notes: ok" in run.stderr
    closing = run.stderr.split("built 2 articles")[1].splitlines()[1:]  # one line per article, then what to do
    assert len(closing) == 3 and closing[2].startswith("next: git add qiita/public/"), closing
    assert closing[2].count("zenn/images/") == 1 and "&& git commit -m 'articles: build (2)' && git push" in closing[2]

    qiita_after, zenn_after = _files(repo / "qiita"), _files(repo / "zenn")
    # the writer's own articles and the CLIs' files are byte-identical
    assert {k: qiita_after[k] for k in qiita_before} == qiita_before
    assert {k: zenn_after[k] for k in zenn_before} == zenn_before
    # what was added: one qiita-cli file per article, one Zenn article each and the figures
    slugs = {}
    for name in ("numpy-intro", "pandas-notes"):
        from pipeline.config import load_config

        config = load_config(repo / name)
        slugs[name] = (config.article.slug, ZENN.slug_for(config))
    added_qiita = sorted(set(qiita_after) - set(qiita_before))
    assert added_qiita == sorted(f"public/{q}.md" for q, _ in slugs.values())
    added_zenn = sorted(set(zenn_after) - set(zenn_before))
    numpy_zenn = slugs["numpy-intro"][1]
    assert f"articles/{numpy_zenn}.md" in added_zenn and f"articles/{slugs['pandas-notes'][1]}.md" in added_zenn
    images = [k for k in added_zenn if k.startswith("images/")]
    assert images and all(k.startswith(f"images/{numpy_zenn}/") for k in images), added_zenn
    assert not [k for k in added_zenn if not k.startswith(("articles/", "images/"))], added_zenn

    numpy_article = (repo / "qiita" / "public" / f"{slugs['numpy-intro'][0]}.md").read_text(encoding="utf-8")
    assert numpy_article.startswith("---\ntitle: \"NumPy 入門\"\n")  # the notebook's H1 is the title
    assert "<!-- written by ml-article-pipeline from ../../numpy-intro (edit the notebooks" in numpy_article
    zenn_article = (repo / "zenn" / "articles" / f"{numpy_zenn}.md").read_text(encoding="utf-8")
    assert f"](/images/{numpy_zenn}/" in zenn_article
    # nothing of the pipeline's in the projects' source folders besides its build/ and site/
    assert not (repo / "numpy-intro" / "public").exists() and not (repo / "qiita" / "article.md").exists()

    # a fresh clone (no build/ folders, so no manifests) knows its own exported files by their marks
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "articles", cwd=repo)
    clone = repo.parent / "clone"
    _git("clone", "-q", str(repo), str(clone), cwd=repo.parent)
    assert not (clone / "numpy-intro" / "build").exists()
    again = _cli("build", "--all", cwd=clone)
    assert "built 2 articles: 2 ok, 0 failed" in again.stderr, again.stderr
    assert _git("status", "--porcelain", cwd=clone) == "", "a rebuild in a fresh clone changed committed files"

    # each project still builds on its own: from the cache, then (a build that ran nothing stamps) up to date
    alone = _cli("build", cwd=repo / "pandas-notes")
    assert "0 executed, 1 cached" in alone.stderr, alone.stderr
    assert "up to date" in _cli("build", cwd=repo / "pandas-notes").stderr


def test_foreign_and_colliding_files_are_refused(repo):
    from pipeline.config import load_config

    numpy = load_config(repo / "numpy-intro")
    # the writer already has a file of the article's name, not written by the pipeline
    mine = repo / "qiita" / "public" / f"{numpy.article.slug}.md"
    mine.write_text("---\ntitle: my own\n---\nmine\n", encoding="utf-8")
    run = _cli("build", cwd=repo / "numpy-intro", check=False)
    assert run.returncode == 1 and f"qiita/public/{numpy.article.slug}.md" in run.stderr, run.stderr
    assert "not written by this pipeline" in run.stderr
    assert mine.read_text(encoding="utf-8") == "---\ntitle: my own\n---\nmine\n"
    mine.unlink()
    _cli("build", cwd=repo / "numpy-intro")

    # a second project with the same slugs: refused by name, the first article untouched
    pandas = repo / "pandas-notes" / "pyproject.toml"
    text = pandas.read_text(encoding="utf-8")
    pandas_slug = load_config(repo / "pandas-notes").article.slug
    pandas.write_text(text.replace(f'slug = "{pandas_slug}"', f'slug = "{numpy.article.slug}"')
                      + f'slug = "{ZENN.slug_for(numpy)}"\n', encoding="utf-8")
    before = _files(repo / "qiita") | {f"zenn/{k}": v for k, v in _files(repo / "zenn").items()}
    run = _cli("build", cwd=repo / "pandas-notes", check=False)
    assert run.returncode == 1 and "another article's project" in run.stderr and "numpy-intro" in run.stderr, run.stderr
    assert _files(repo / "qiita") | {f"zenn/{k}": v for k, v in _files(repo / "zenn").items()} == before


def test_export_dir_outside_the_git_work_tree_is_refused(repo, tmp_path):
    outside = tmp_path / "elsewhere"
    pyproject = repo / "numpy-intro" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace('export_dir = "../qiita"',
                                                                       f'export_dir = {json.dumps(str(outside))}'),
                         encoding="utf-8")
    run = _cli("build", cwd=repo / "numpy-intro", check=False)
    assert run.returncode == 1 and "article.export_dir" in run.stderr and "git work tree" in run.stderr, run.stderr
    assert not outside.exists()
    shutil.rmtree(repo / ".git")  # without git, export folders must lie inside the project
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(json.dumps(str(outside)), '"../qiita"'),
                         encoding="utf-8")
    run = _cli("build", cwd=repo / "numpy-intro", check=False)
    assert run.returncode == 1 and "not in a git work tree" in run.stderr, run.stderr


def _served(text: str, bare: Path, repo: Path) -> list[tuple[str, str]]:
    """Every raw GitHub link in *text*: (ref, path); each one's bytes in the bare remote are the file's."""
    links = re.findall(r"\]\(https://raw\.githubusercontent\.com/alice/articles/([^/]+)/([^)]+)\)", text)
    for ref, path in links:
        pushed = subprocess.run(["git", "cat-file", "blob", f"{ref}:{path}"], cwd=bare, capture_output=True,
                                check=True).stdout
        assert pushed == (repo / path).read_bytes()
    return links


def test_qiita_figures_hosted_by_the_repository(repo, tmp_path):
    """image_base_url = "git": the first build links each figure, under a content-addressed name, at the
    branch the push goes to, so the one commit and push the build advises publishes a working article;
    a rebuild with nothing changed keeps those links (no change for qiita-cli to post), and an edit
    pins them to the pushed commit."""
    bare = tmp_path / "remote.git"
    _git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    _git("remote", "add", "origin", "https://github.com/alice/articles.git", cwd=repo)
    _git("config", f"url.{bare.as_uri()}.insteadOf", "https://github.com/alice/articles.git", cwd=repo)
    project = repo / "numpy-intro"
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(
        '[tool.pipeline.article]\n', '[tool.pipeline.article]\nimage_base_url = "git"\n'), encoding="utf-8")
    from pipeline.config import load_config

    config = load_config(project)
    cli_file = repo / "qiita" / "public" / f"{config.article.slug}.md"
    slug = ZENN.slug_for(config)

    first = _cli("build", cwd=project)
    text = cli_file.read_text(encoding="utf-8")
    assert "FIGURE-TO-UPLOAD:" not in text and "ignorePublish: false" in text
    links = re.findall(r"\]\((https://raw\.githubusercontent\.com/alice/articles/main/([^)]+))\)", text)
    assert links and all(re.fullmatch(rf"zenn/images/{slug}/numpy/numpy-cell03-1-[0-9a-f]{{12}}\.png", p)
                         for _, p in links), links
    advice = re.search(r"^next: (git add .+ && git push -u origin main)", first.stderr, re.M)
    assert advice and f"../zenn/images/{slug}" in advice[1] and f"../qiita/public/{config.article.slug}.md" in advice[1]
    assert "numpy-intro/" not in advice[1], advice[1]  # the article's own files, by folder
    _git("add", "-A", cwd=repo)  # what every writer types (the advice names the same files)
    _git("commit", "-q", "-m", "article and figures", cwd=repo)
    _git("push", "-q", "-u", "origin", "main", cwd=repo)
    assert [ref for ref, _ in _served(text, bare, repo)] == ["main"] * len(links)

    # nothing changed: the file stays as pushed (no link moves, nothing for qiita-cli to post)
    _cli("build", "--force", cwd=project)
    assert cli_file.read_text(encoding="utf-8") == text
    assert _git("status", "--porcelain", cwd=repo) == ""

    # an edit: the file changes anyway, so the pushed figures are pinned to the pushed commit
    notebook = project / "numpy.ipynb"
    notebook.write_text(notebook.read_text(encoding="utf-8").replace("本文です。", "本文を書き直しました。"),
                        encoding="utf-8")
    _cli("build", cwd=project)
    edited = cli_file.read_text(encoding="utf-8")
    pinned = _served(edited, bare, repo)
    pushed = _git("rev-parse", "main", cwd=bare).strip()
    assert "本文を書き直しました。" in edited and [ref for ref, _ in pinned] == [pushed] * len(links)
    assert (project / "build" / "qiita" / "article.md").read_text(encoding="utf-8").count(pushed) == len(links)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "edit", cwd=repo)
    _git("push", "-q", cwd=repo)
    _cli("build", "--force", cwd=project)
    assert cli_file.read_text(encoding="utf-8") == edited
    assert _git("status", "--porcelain", cwd=repo) == ""


def _outside(repo: Path, project: Path) -> dict[str, str]:
    """sha256 of every file outside *project* (the whole temporary folder, the repository's .git included)."""
    import hashlib

    top = repo.parent
    return {p.relative_to(top).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(top.rglob("*"))
            if p.is_file() and not p.is_symlink() and project not in p.parents}


@pytest.mark.parametrize("link, to", [("qiita/public", "outside"), ("zenn/articles", "outside"),
                                      ("zenn/images", ".git"), ("zenn", "outside")])
def test_a_symlinked_export_folder_is_refused_by_name_and_nothing_outside_changes(repo, link, to):
    """A folder the build writes into, made a symbolic link out of the work tree or into .git: the
    build names the link and where it leads, before anything is written."""
    outside = repo.parent / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("the writer's\n", encoding="utf-8")
    path = repo / link
    if path.exists():
        shutil.rmtree(path)
    path.symlink_to(outside if to == "outside" else repo / ".git", target_is_directory=True)
    project = repo / "numpy-intro"
    before = _outside(repo, project)
    run = _cli("build", cwd=project, check=False)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    if link == "zenn":  # the export folder itself: the setting is resolved with the config, and named
        assert "tool.pipeline.zenn.export_dir" in run.stderr and str(outside) in run.stderr, run.stderr
    else:
        assert f"../{link}: a symbolic link to {path.readlink()}, which leads " in run.stderr, run.stderr
        assert ("into a .git folder" if to == ".git" else "outside the git work tree") in run.stderr, run.stderr
    assert _outside(repo, project) == before
    assert not (project / "build" / "records").exists()  # refused before anything ran


def test_build_all_builds_the_others_when_one_project_fails_and_shows_why(repo):
    bad = repo / "broken-notes"
    bad.mkdir()
    (bad / "bad.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Broken"},
                  {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["x\n", 3]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    _cli("init", "broken-notes", "--title", "Broken", "--tags", "Python", cwd=repo)
    run = _cli("build", "--all", cwd=repo, check=False)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "built 3 articles: 2 ok, 1 failed" in run.stderr, run.stderr
    line = next(x for x in run.stderr.splitlines() if x.startswith("  broken-notes: FAILED"))
    assert "bad.ipynb, cell 2" in line and "fix that cell" in line, line  # the whole message, not its first line
    assert "numpy-intro: ok" in run.stderr and "pandas-notes: ok" in run.stderr
