"""``python -m pipeline init``: make an article project around the author's notebooks.

It reads the experiments (never changes them) and writes what a build needs:

- ``[tool.pipeline]`` in ``pyproject.toml`` (``experiments_dir``, and the article's ``title``,
  ``tags`` and ``slug`` under ``[tool.pipeline.article]``), appended to an existing file that
  lacks the table, the file's own bytes kept as they were;
- ``mkdocs.yml``: the site configuration the pipeline uses by default (``default_mkdocs_yml``);
- ``.gitignore`` with ``build/`` (appended to an existing one that does not ignore it).

A file that exists is never replaced without ``force``. The values come from the notebooks:
the title from the first H1 (``first_heading``), 1 to 5 Qiita tags from the packages the code
cells import (``suggest_tags``), a slug valid on Qiita and Zenn (``suggest_slug``); those live in
``pipeline.suggest`` and are importable from here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import tomllib
from pipeline.errors import ConfigError, PipelineError
from pipeline.layout import escape_problem
from pipeline.markdown.platforms import QIITA, ZENN, js_length
from pipeline.storage import atomic_write_text
from pipeline.suggest import (
    cli_folders,
    experiment_files,
    first_heading,
    publish_workflow,
    slugs_in_use,
    suggest_slug,
    suggest_tags,
    suggest_title,
    text_of,
)
from pipeline.text import quoted

__all__ = ["InitResult", "Skipped", "default_mkdocs_yml", "experiment_files", "first_heading", "init_project",
           "next_steps", "pipeline_table", "suggest_slug", "suggest_tags"]

#: where init puts new experiments when the folder has none
EXPERIMENTS = "experiments"
#: a first experiment for an empty folder, so that `build` has something to run
EXAMPLE_NAME = "01_first_experiment.py"
EXAMPLE = """\
# %% [markdown]
# # はじめての実験
#
# このファイルを自分の実験に置き換えてください。`# %%` がコードセル、`# %% [markdown]` が Markdown セルの始まりです。
# Jupyter ノートブック (.ipynb) もこのフォルダに置けます。

# %% 1 から 10 までの合計
from pipeline.glue import glue

numbers = list(range(1, 11))
glue("total", sum(numbers))
numbers

# %% [markdown]
# ## 考察
#
# - 1 から 10 までの合計は {{ total }} でした (本文の数値はコードの出力から入ります)。
"""


@dataclass(frozen=True)
class Skipped:
    """A file init left as it was, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class InitResult:
    """What ``init_project`` did and the values it chose."""

    folder: Path
    #: as written in pyproject.toml ("." when the notebooks lie in the folder itself)
    experiments_dir: str
    #: the experiments found (after writing the example, in an empty folder)
    experiments: tuple[Path, ...]
    title: str
    tags: tuple[str, ...]
    slug: str
    written: tuple[Path, ...]
    skipped: tuple[Skipped, ...]
    #: things the author should know (a title shortened for Zenn, ...)
    notes: tuple[str, ...] = ()
    #: the qiita-cli folder and zenn-cli root the article exports to, relative to the folder ("": build/)
    qiita_dir: str = ""
    zenn_dir: str = ""

    def __repr__(self) -> str:
        return f"InitResult({self.folder.name}, written={len(self.written)}, skipped={len(self.skipped)})"


# ---------------------------------------------------------------------------
# The files init writes
# ---------------------------------------------------------------------------

def default_mkdocs_yml(title: str, docs_dir: str = "site", site_dir: str = "build/html") -> str:
    """The article site's configuration (the repository's mkdocs.yml with *title* as ``site_name``),
    which MkDocs (Material for MkDocs) and Zensical both build: Material in Japanese with no web
    fonts, MathJax and its settings loaded from the files the build writes into docs_dir
    (``pipeline.publish.site.SCRIPTS``), no plugin the page needs, and the same heading anchors
    as ``pipeline.article.anchors``."""
    return f"""\
# The article's site, for MkDocs (with Material for MkDocs) and for Zensical alike: `python -m pipeline preview`
# serves it with live reload; `python -m pipeline build` writes index.md, figures/ and javascripts/mathjax/ into
# docs_dir; `mkdocs build --strict` or `zensical build` writes the HTML to site_dir.
site_name: {quoted(title)}
docs_dir: {quoted(docs_dir)}
site_dir: {quoted(site_dir)}
theme:
  name: material
  language: ja
  font: false  # no Google Fonts: the site loads nothing from the network
  features:
    - content.code.copy
plugins:
  - search:
      lang: ja  # MkDocs: lunr's Japanese word splitter (Zensical's search splits Japanese by itself)
markdown_extensions:
  - toc:
      # unicode-aware anchors (Japanese headings keep their text); pipeline/article/anchors.py computes the same
      slugify: !!python/object/apply:pymdownx.slugs.slugify
        kwds:
          case: lower
  - admonition
  - attr_list
  - md_in_html
  - tables
  - pymdownx.details
  - pymdownx.superfences
  - pymdownx.highlight:
      anchor_linenums: false
  - pymdownx.arithmatex:
      generic: true
extra_javascript:
  # MathJax's settings, then MathJax, from the files `python -m pipeline build` writes into docs_dir (both engines ship them)
  - javascripts/mathjax/config.js
  - javascripts/mathjax/es5/tex-mml-chtml.js
validation:
  nav:
    omitted_files: warn
  links:
    not_found: warn
"""


def pipeline_table(experiments_dir: str, title: str, tags: tuple[str, ...], slug: str,
                   qiita_dir: str = "", zenn_dir: str = "", git_figures: bool = False) -> str:
    """The ``[tool.pipeline]`` tables init writes (TOML basic strings: ``text.quoted``); *qiita_dir*
    and *zenn_dir*: the writer's qiita-cli folder and zenn-cli root, relative to the project;
    *git_figures*: a push publishes, so figures are served by the repository."""
    return (
        f"{TABLE_COMMENT}\n"
        "[tool.pipeline]\n"
        f"experiments_dir = {quoted(experiments_dir)}\n"
        "\n"
        "[tool.pipeline.article]\n"
        f"title = {quoted(title)}\n"
        f"tags = [{', '.join(map(quoted, tags))}]\n"
        f"slug = {quoted(slug)}\n"
        + (f"# the qiita-cli folder: public/{slug}.md goes there\nexport_dir = {quoted(qiita_dir)}\n" if qiita_dir else "")
        + ("# a push publishes (qiita-cli's publish workflow): the repository serves the figures\n"
           'image_base_url = "git"\n' if git_figures else "")
        + (f"\n[tool.pipeline.zenn]\n# the zenn-cli root: articles/ and images/ go there\n"
           f"export_dir = {quoted(zenn_dir)}\n" if zenn_dir else "")
    )


def init_project(folder: Path, *, force: bool = False, experiments_dir: str | None = None,
                 title: str | None = None, tags: tuple[str, ...] | list[str] | None = None,
                 slug: str | None = None, qiita_dir: str | None = None, zenn_dir: str | None = None) -> InitResult:
    """Set *folder* up as an article project (see the module docstring); the author's notebooks
    are read, never moved or changed. *title*, *tags* and *slug* replace the suggestions; with
    *force*, an existing ``[tool.pipeline]`` table and mkdocs.yml are replaced. *qiita_dir* and
    *zenn_dir* (relative to *folder*; "" for none) default to the writer's qiita-cli folder and
    zenn-cli root found near it (``pipeline.suggest.cli_folders``)."""
    folder = Path(folder).resolve()
    if folder.exists() and not folder.is_dir():
        raise PipelineError(f"{folder}: not a folder; give init the folder that holds (or will hold) the notebooks")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skipped: list[Skipped] = []
    notes: list[str] = []
    files = {name: folder / name for name in ("pyproject.toml", "mkdocs.yml", ".gitignore")}
    links = [problem for path in files.values() if (problem := escape_problem(path, folder, folder, called="the project folder"))]
    if links:  # before anything is written: init never writes through a link out of the folder
        raise PipelineError("python -m pipeline init: " + "; ".join(links) + "; replace the link with a file of "
                            "its own (or remove it), then run init again")

    chosen = experiments_dir or _experiments_dir(folder)
    where = (folder / chosen).resolve()
    if where != folder and folder not in where.parents:
        raise PipelineError(f"--experiments-dir {chosen}: must be a folder inside {folder}")
    if not experiment_files(where):
        where.mkdir(parents=True, exist_ok=True)
        example = where / EXAMPLE_NAME
        if _create(example, EXAMPLE):
            written.append(example)
            notes.append(f"{_rel(example, folder)} is an example experiment, so that `build` has something to run; "
                         "replace it with your own")
        else:
            skipped.append(Skipped(example, "already there"))
    paths = experiment_files(where)

    title = title or suggest_title(paths, folder)
    if js_length(title) > ZENN.title_limit:
        while js_length(title + "…") > ZENN.title_limit:
            title = title[:-1]
        title = title.rstrip() + "…"
        notes.append(f"the title was cut to {ZENN.title_limit} characters (Zenn's limit); change it in pyproject.toml")
    tags = tuple(tags) if tags else suggest_tags(paths)
    found_qiita, found_zenn = cli_folders(folder)
    if qiita_dir is None and found_qiita:
        qiita_dir = Path(os.path.relpath(found_qiita, folder)).as_posix()
    if zenn_dir is None and found_zenn:
        zenn_dir = Path(os.path.relpath(found_zenn, folder)).as_posix()
    taken = slugs_in_use(folder, *((folder / d).resolve() if d else None for d in (qiita_dir, zenn_dir)))
    problems = [f"slug: {slug!r} is already used by another article in this repository"] if slug in taken else []
    slug = slug or suggest_slug(title, folder, taken)
    problems += ([f"title: {p}" for p in QIITA.title_problems(title)] + [f"tags: {p}" for p in QIITA.tag_problems(tags)]
                 + [f"slug: {p}" for p in QIITA.slug_problems(slug) + ZENN.slug_problems(slug)])
    if problems:
        raise PipelineError("python -m pipeline init: " + "; ".join(problems) + " (give other --title, --tags or --slug)")
    if qiita_dir:
        notes.append(f"the article goes to the qiita-cli folder {qiita_dir} (public/{slug}.md)")
    if zenn_dir:
        notes.append(f"the Zenn article goes to the zenn-cli root {zenn_dir}")
    git_figures = publish_workflow(folder, qiita_dir, notes)
    table = pipeline_table(chosen, title, tags, slug, qiita_dir or "", zenn_dir or "", git_figures)
    # through a link that stays in the folder, the file it names is written (the link is kept)
    _write_pyproject(files["pyproject.toml"].resolve(), table, force, written, skipped)
    _write_file(files["mkdocs.yml"].resolve(), default_mkdocs_yml(title), force, written, skipped)
    _write_gitignore(files[".gitignore"].resolve(), written, skipped)
    return InitResult(folder=folder, experiments_dir=chosen, experiments=tuple(paths), title=title, tags=tags,
                      slug=slug, written=tuple(written), skipped=tuple(skipped), notes=tuple(notes),
                      qiita_dir=qiita_dir or "", zenn_dir=zenn_dir or "")


def _experiments_dir(folder: Path) -> str:
    """experiments/ when it holds notebooks, else the folder itself when they lie there, else experiments/."""
    if experiment_files(folder / EXPERIMENTS) or not experiment_files(folder):
        return EXPERIMENTS
    return "."


def _rel(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _create(path: Path, text: str) -> bool:
    """Write a new file; False (and nothing written) when one is already there."""
    try:
        with open(path, "x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except FileExistsError:
        return False
    return True


def _write_file(path: Path, text: str, force: bool, written: list[Path], skipped: list[Skipped]) -> None:
    if force and path.exists():
        atomic_write_text(path, text)
        written.append(path)
    elif _create(path, text):
        written.append(path)
    else:
        skipped.append(Skipped(path, "already there (--force replaces it)"))


def _write_pyproject(path: Path, table: str, force: bool, written: list[Path], skipped: list[Skipped]) -> None:
    """A new pyproject.toml, or the table appended to one that lacks it (its bytes kept as they are)."""
    if not path.exists():
        _write_file(path, table, force, written, skipped)
        return
    data = path.read_bytes()
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), [f"not valid TOML ({exc}); fix it, then run init again"]) from None
    text = data.decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    if "pipeline" in parsed.get("tool", {}):
        if not force:
            skipped.append(Skipped(path, "already has [tool.pipeline] (--force replaces that table)"))
            return
        replaced = _replace_pipeline_tables(text, table.replace("\n", newline), parsed)
        if replaced is None:
            raise ConfigError(str(path), ["[tool.pipeline] is not written as its own tables ([tool.pipeline] and "
                                          "[tool.pipeline.*] headers); remove it by hand, then run init again"])
        atomic_write_text(path, replaced)
    else:
        separator = "" if not text.strip() else newline if text.endswith("\n") else newline * 2
        with open(path, "a", encoding="utf-8", newline="") as handle:
            handle.write(separator + table.replace("\n", newline))
    written.append(path)


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
#: the comment init writes above [tool.pipeline] (replaced with the tables)
TABLE_COMMENT = "# ml-article-pipeline (python -m pipeline init); every setting: `python -m pipeline config`"


def _replace_pipeline_tables(text: str, table: str, parsed: dict) -> str | None:
    """*text* with its [tool.pipeline] and [tool.pipeline.*] tables replaced by *table*, where the
    first of them was; every other byte stays as it was. A table runs from its header to its last
    line that is neither blank nor a comment (the comments after it introduce what follows), with
    init's own comment above it; blank lines between two such tables go with them. None where the
    result would not read back as *parsed* with only its pipeline tables changed (a pipeline table
    written otherwise: dotted keys, an inline table)."""
    lines = text.splitlines(keepends=True)
    spans: list[list[int]] = []
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if not header:
            continue
        name = re.sub(r"\s*\.\s*", ".", header.group(1)).replace('"', "")
        if name != "tool.pipeline" and not name.startswith("tool.pipeline."):
            continue
        start, end = index, index + 1
        if start and lines[start - 1].strip() == TABLE_COMMENT:
            start -= 1
        for later in range(index + 1, len(lines)):
            if _HEADER.match(lines[later]):
                break
            if lines[later].strip() and not lines[later].lstrip().startswith("#"):
                end = later + 1
        if spans and not "".join(lines[spans[-1][1]:start]).strip():
            spans[-1][1] = end  # only blank lines between two pipeline tables: one span
        else:
            spans.append([start, end])
    if not spans:
        return None
    out = lines[:spans[0][0]] + [table]
    for k, (_, end) in enumerate(spans):
        out += lines[end:spans[k + 1][0] if k + 1 < len(spans) else len(lines)]
    result = "".join(out)
    try:
        again = tomllib.loads(result)
        wanted = tomllib.loads(table)["tool"]["pipeline"]
    except (tomllib.TOMLDecodeError, KeyError):
        return None
    mine = again.get("tool", {}).pop("pipeline", None)
    rest = {**parsed, "tool": {k: v for k, v in parsed["tool"].items() if k != "pipeline"}}
    return result if mine == wanted and again == rest else None


def _write_gitignore(path: Path, written: list[Path], skipped: list[Skipped]) -> None:
    if not path.exists():
        _create(path, "# the pipeline's executed notebooks, records, caches and exports\nbuild/\n")
        written.append(path)
        return
    text = text_of(path)
    if any(line.strip().rstrip("*").strip("/") == "build" for line in text.splitlines()):
        skipped.append(Skipped(path, "already ignores build/"))
        return
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(("" if not text or text.endswith("\n") else "\n") + "build/\n")
    written.append(path)


def next_steps(result: InitResult) -> list[str]:
    """What to do after init, as lines for the terminal."""
    here = "" if result.folder == Path.cwd().resolve() else f" -C {result.folder}"
    qiita = f"{result.qiita_dir or 'build/qiita'}/public/{result.slug}.md"
    zenn = f"{result.zenn_dir or 'build/zenn'}/articles/"
    if result.qiita_dir and result.zenn_dir:  # the writer's own folders: a commit and push publishes
        return [
            f"  1. python -m pipeline{here} build      run the experiments in Jupyter kernels, write the article",
            f"  2. python -m pipeline{here} preview    serve the site on http://127.0.0.1:8000/, rebuild on every edit",
            f"  3. git add -A && git commit -m \"{result.slug}\" && git push   publish: qiita-cli's publish workflow "
            f"(or `npx qiita publish {result.slug}`) posts public/{result.slug}.md, Zenn's GitHub sync deploys articles/",
            f"  4. git pull after each publish (qiita-cli's workflow commits the id back); python -m pipeline{here} "
            "status says where the article stands. More: docs/publishing.md",
        ]
    return [
        f"  1. python -m pipeline{here} build      run the experiments in Jupyter kernels, write the article",
        f"  2. python -m pipeline{here} preview    serve the site on http://127.0.0.1:8000/, rebuild on every edit",
        f"  3. the outputs: build/qiita/article.md (paste into Qiita), {qiita} (qiita-cli), {zenn} (Zenn), "
        "site/index.md (MkDocs; `mkdocs build --strict` writes build/html/)",
        f"  4. publish: `npx qiita publish {result.slug}` in {result.qiita_dir or 'build/qiita/'} (or paste article.md); "
        f"commit and push {result.zenn_dir or 'build/zenn/'} to the GitHub repository linked to Zenn; figures through "
        "git (image_base_url = \"git\") and more: docs/publishing.md",
        "  Title, tags, slug and export folders: pyproject.toml; every setting: docs/configuration.md; several "
        "articles: python -m pipeline build --all at the repository's top",
    ]
