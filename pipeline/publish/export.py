"""Stage 5: render the records and write the articles where people use them.

- ``build/qiita/article.md``: paste-ready Qiita Markdown (title goes in Qiita's title field);
- ``public/<slug>.md`` in the qiita-cli folder (``article.export_dir``, default build/qiita/): the
  same body with the front matter of Qiita's official CLI (npm ``@qiita/qiita-cli``), so
  ``npx qiita publish <slug>`` publishes it. What qiita-cli or the user set in that file (``id``,
  ``updated_at``, campaign fields, ...) is kept;
- ``build/qiita/figures/``: the figure files, for upload when no image_base_url is set;
- ``site/index.md`` + ``site/figures/`` + ``site/javascripts/mathjax/``: the site's page, for MkDocs or
  Zensical (``pipeline.publish.site``: MathJax is a file of the site, so both engines ship it);
- ``articles/<slug>.md`` + ``images/<slug>/`` in the zenn-cli root (``zenn.export_dir``, default
  build/zenn/): the Zenn article; figures are linked as ``/images/<slug>/...``, which Zenn serves
  from a GitHub-linked repository. ``published`` (and ``published_at``, ``publication_name``)
  already in the file are kept, so a build never unpublishes an article.

The qiita-cli and zenn-cli folders may be the writer's own, shared by many articles: only this
article's files are written there, each marked with the project that wrote it (``owner_mark``, an
HTML comment after the front matter; ``GENERATED_FILE`` in a figures folder), so a fresh clone
knows its own files and a file of another article or of the writer's is refused, never replaced.
Everything is staged into the build's ``Publication`` and appears together, each platform (the
site, Zenn, Qiita) whole or not at all: one its platform would refuse keeps its last good files
and is named in ``Exports.refused``, the others are published. With ``image_base_url = "git"``
the figures get content-addressed names and the Qiita file never publishes a placeholder
(``pipeline.publish.qiita``). Files outside build/ that the pipeline did not write before are
never replaced (``layout.check_owned``). Every export runs the dialect checks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.article.render import UPLOAD_MARK, RenderedArticle, render_all
from pipeline.article.title import titled
from pipeline.config import Config
from pipeline.errors import ExportError
from pipeline.layout import (
    GENERATED_FILE,
    GENERATED_LINE,
    Layout,
    check_owned,
    check_writable,
    inside,
    owner_file,
    owner_mark,
    project_path,
    read_manifest,
)
from pipeline.markdown.platforms import QIITA
from pipeline.markdown.urls import link_url_problems
from pipeline.progress import Progress
from pipeline.publish.frontmatter import front_problems, read_front_matter
from pipeline.publish.gitrepo import Reader, read_once
from pipeline.publish.qiita import QIITA_KEYS, git_links, hold, linked, qiita_front_matter
from pipeline.publish.site import mathjax_folder, stage_mathjax, stage_site_config
from pipeline.publish.zenn import (
    ZENN_KEYS,
    ZennPaths,
    export_article,
    fit_images,
    hosted_links,
    zenn_front_matter,
    zenn_paths,
)
from pipeline.publish.zenn_book import export_book
from pipeline.records import Drafts, ExperimentRecord
from pipeline.storage import Publication
from pipeline.summary import Exports

__all__ = ["QIITA_KEYS", "ZENN_KEYS", "export", "export_targets", "git_images", "pushed_paths", "qiita_cli_file",
           "qiita_front_matter", "read_front_matter", "zenn_front_matter"]


def export(records: list[ExperimentRecord], config: Config, progress: Progress, publication: Publication,
           layout: Layout | None = None, drafts: Drafts | None = None, preview: bool = False,
           repository: Reader | None = None) -> Exports:
    """Render and stage every platform. Each platform (the site, Zenn, Qiita) is staged whole or not at
    all: one that its platform would refuse (an ExportError) is left as it was and named in
    ``Exports.refused``, and the others are published all the same. *repository*: the writer's
    repository as the build read it (``gitrepo.read_once``), else read here."""
    layout = layout or config.layout
    if not (config.article.title and config.zenn.slug and config.zenn.topics):  # build resolved it already
        config = titled(config, records)
    dialects = ("qiita", "mkdocs") + (("zenn",) if config.zenn.enabled else ())
    rendered = render_all(records, config, dialects, drafts=drafts, preview=preview, layout=layout)
    qiita, mkdocs, zenn = rendered["qiita"], rendered["mkdocs"], rendered.get("zenn")
    for warning in dict.fromkeys(qiita.warnings + mkdocs.warnings + (zenn.warnings if zenn else ())):
        progress.warn(warning)
    for problem in QIITA.check(qiita.markdown):
        progress.warn(f"Qiita export: {problem}")

    paths = article_paths(config, layout)
    article, cli_file, page, targets = paths.article, paths.qiita_cli, paths.page, list(paths.targets)
    zenn_file = paths.zenn.entry if paths.zenn else None  # articles/<slug>.md, or books/<slug>/config.yaml
    check_writable(targets + [layout.manifest], layout)  # before any of them is read or staged
    check_owned(targets, layout)

    refused: list[str] = []
    published: list[Path] = []

    def platform(name: str, its_targets: list[Path], stage) -> bool:
        try:
            with publication.part():
                stage()
        except ExportError as error:
            refused.append(f"{name}: {error}")
            return False
        published.extend(its_targets)
        return True

    site_targets = [page, layout.site / "figures", mathjax_folder(layout)]
    platform("site", site_targets, lambda: _stage_site(mkdocs, page, config, layout, publication))
    git = config.article.image_base_url == "git"
    images = paths.images if git or zenn else None
    hosted: dict[str, Path] = {}
    zenn_problem = None
    repo = None
    if images is not None:  # the figures the Zenn export and (image_base_url = "git") Qiita link
        repo = (repository or read_once(layout.root, config.article.git_remote))()
        # what the pushed articles link stays until they no longer do: a push never breaks the live article
        kept = repo.linked_at_remote(list(paths.pushed), images) if repo else {}
        hosted, zenn_problem = _stage_images(qiita, zenn, images, layout, publication, progress, hashed=git, kept=kept)
    if zenn is not None:
        def stage_zenn() -> None:
            if zenn_problem:
                raise zenn_problem
            if config.zenn.format == "book":  # books/<slug>/: one chapter per experiment
                export_book(zenn, hosted, records, config, progress, publication, layout)
            else:
                export_article(_renamed(zenn, hosted), config, progress, publication, layout, zenn_file)

        zenn_ok = platform("Zenn", list(paths.zenn.targets), stage_zenn)
        if not zenn_ok and not git and images is not None:
            publication.drop(images)  # the Zenn export's own images: left as published with its article
    qiita_targets = [article, cli_file, layout.qiita / "figures"] + ([images] if git and images else [])
    platform("Qiita", qiita_targets,
             lambda: _stage_qiita(qiita, config, layout, publication, progress, cli_file, hosted, repo))
    record_manifest(published, layout, publication)
    pending = [f for f in qiita.figures if f.src.startswith(UPLOAD_MARK)] if not git else []
    uploads = tuple(layout.qiita / f.file for f in pending)
    return Exports(article, cli_file, page, uploads, zenn_file, tuple(refused))


@dataclass(frozen=True)
class ArticlePaths:
    """Where this article's files go, worked out once from the config and the layout."""

    #: build/qiita/article.md, public/<slug>.md in the qiita-cli folder, and the site's page
    article: Path
    qiita_cli: Path
    page: Path
    #: the Zenn export's paths (None when it is off)
    zenn: ZennPaths | None
    #: where figures live for ``image_base_url = "git"``: the Zenn export's images/<slug>/ (one copy
    #: serves both platforms), else images/<slug>/ in the qiita-cli folder
    images: Path
    #: every file and folder the export writes for this article: what the ownership check, the manifest
    #: and the up-to-date fingerprint look at (never the rest of a shared CLI folder)
    targets: tuple[Path, ...]
    #: the files a push publishes (outside build/): public/<slug>.md, the Zenn article or book folder, and
    #: images/<slug>/; what git commands name, and what "pull first" looks at
    pushed: tuple[Path, ...]


def article_paths(config: Config, layout: Layout | None = None) -> ArticlePaths:
    layout = layout or config.layout
    cli_file = qiita_cli_file(config, layout)
    zenn = zenn_paths(config.zenn, config.article, layout) if config.zenn.enabled else None
    images = zenn.images if zenn else layout.qiita_root / "images" / config.article.slug
    own = zenn.targets if zenn else (images,) if config.article.image_base_url == "git" else ()
    targets = (layout.qiita / "article.md", cli_file, layout.qiita / "figures", layout.site / "index.md",
               layout.site / "figures", mathjax_folder(layout), *own)
    pushed = tuple(p for p in dict.fromkeys((cli_file, *own)) if not inside(p, layout.build))
    return ArticlePaths(layout.qiita / "article.md", cli_file, layout.site / "index.md", zenn, images, targets, pushed)


def git_images(config: Config, layout: Layout) -> Path:
    return article_paths(config, layout).images


def pushed_paths(config: Config, layout: Layout | None = None) -> list[Path]:
    return list(article_paths(config, layout).pushed)


def export_targets(config: Config, layout: Layout) -> list[Path]:
    return list(article_paths(config, layout).targets)


def _stage_site(mkdocs: RenderedArticle, page: Path, config: Config, layout: Layout, publication: Publication) -> None:
    publication.write(page, f"{GENERATED_LINE}\n{mkdocs.markdown}")
    _stage_figures(mkdocs, layout.site / "figures", layout, publication)
    stage_mathjax(layout, publication)
    stage_site_config(config, publication)


def _stage_images(qiita: RenderedArticle, zenn: RenderedArticle | None, target: Path, layout: Layout,
                  publication: Publication, progress: Progress, hashed: bool,
                  kept: dict[str, bytes]) -> tuple[dict[str, Path], ExportError | None]:
    """Stage images/<slug>/: each figure the Qiita and Zenn articles link, fitted to Zenn's limits when the
    Zenn export is on (``fit_images``), and with *hashed* named by its content (``<name>-<sha256 prefix>``,
    so a path's bytes never change: ``pipeline.publish.qiita``), plus the files *kept* ({path in the
    folder: bytes}, those the remote's copies of the articles link) that no figure replaces. Returns
    {figure file: its copy's place} and the ExportError that refuses the Zenn export (a figure that
    cannot fit), if any."""
    figures = tuple({f.file: f for f in qiita.figures + (zenn.figures if zenn else ())}.values())
    if not figures and not kept:
        if target.exists():
            publication.remove(target)
        return {}, None
    folder = publication.folder(target)
    (folder / GENERATED_FILE).write_text(owner_file(target, layout), encoding="utf-8")
    for figure in figures:
        destination = folder / Path(figure.file).relative_to("figures")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(publication.resolve(layout.build / figure.file).read_bytes())
    problem = None
    if zenn is not None:
        try:
            fit_images(figures, folder, progress)
        except ExportError as error:
            problem = error  # the Zenn export is refused; Qiita links the original
    places = {}
    for figure in figures:
        name = Path(figure.file).relative_to("figures")
        if hashed:
            data = (folder / name).read_bytes()
            new = name.with_name(f"{name.stem}-{hashlib.sha256(data).hexdigest()[:12]}{name.suffix}")
            (folder / name).rename(folder / new)
            name = new
        places[figure.file] = target / name
    for name, data in kept.items():
        destination = folder / name
        if not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
    return places, problem


def _renamed(rendered: RenderedArticle, places: dict[str, Path]) -> RenderedArticle:
    """The Zenn article with each figure linked under the name its copy got in images/<slug>/."""
    import dataclasses

    return dataclasses.replace(rendered, markdown=hosted_links(rendered.markdown, rendered.figures, places))


def _stage_qiita(qiita: RenderedArticle, config: Config, layout: Layout, publication: Publication,
                 progress: Progress, cli_file: Path, hosted: dict[str, Path], repository) -> None:
    """Stage build/qiita/article.md, its figures for upload, and the qiita-cli file (``pipeline.publish.qiita``)."""
    _stage_figures(qiita, layout.qiita / "figures", layout, publication)
    try:
        earlier = cli_file.read_text(encoding="utf-8").replace("\r\n", "\n") if cli_file.is_file() else ""
    except (OSError, UnicodeDecodeError):
        earlier = ""
    body = qiita.markdown
    why = (f"Upload the files in {project_path(layout.qiita / 'figures', layout)}/ and replace the placeholders, or let "
           "your repository serve them: image_base_url = \"git\"")
    _check_links([f.src for f in qiita.figures if not f.src.startswith(UPLOAD_MARK)], "image_base_url")
    git = config.article.image_base_url == "git"
    mark = owner_mark(cli_file, layout)
    where = project_path(cli_file, layout)
    kept = read_front_matter(cli_file) if cli_file.is_file() else {}

    def compose(text: str) -> str:
        held = hold(earlier, kept.get("ignorePublish"), len({f.src for f in qiita.figures if f.src in text
                                                             and f.src.startswith(UPLOAD_MARK)}), where, why)
        front = qiita_front_matter(config, existing=cli_file, ignore_publish=held.value)
        return front + mark + held.line + "\n" + text, held

    if git:
        sources = {f.src: hosted[f.file] for f in qiita.figures if f.file in hosted}
        files = list(dict.fromkeys(sources.values()))
        links = git_links(files, config, layout.root, repository, earlier,
                          {path: publication.resolve(path) for path in files})
        _check_links(links.urls(lazy=False).values(), "image_url_template (or the remote's URL)")
        why = links.why
        body = linked(qiita.markdown, sources, links.urls(lazy=True))
        if links.kept and compose(body)[0] != earlier:  # the file changes anyway: pin what was linked at the branch
            body = linked(qiita.markdown, sources, links.urls(lazy=False))
    text, held = compose(body)
    for problem in front_problems(QIITA, text[:text.index("\n---\n") + 5]):
        progress.warn(f"qiita-cli file: {problem}")
    if held.said:  # a warning where a push publishes the file; in build/ a note
        (progress.warn if held.held and not inside(cli_file, layout.build) else progress.info)(held.said)
    publication.write(layout.qiita / "article.md", body)
    publication.write(cli_file, text)


def _check_links(urls, setting: str) -> None:
    """Every figure link the export writes passes the allow-list of links (``link_url_problems``),
    the same as links in the author's Markdown; ExportError (nothing published) names the setting."""
    problems = [p for url in urls for p in link_url_problems(url)]
    if problems:
        raise ExportError(f"figure links would be unsafe, so the Qiita article was not published: {'; '.join(problems[:3])}; "
                          f"fix tool.pipeline.article.{setting}")


def qiita_cli_file(config: Config, layout: Layout) -> Path:
    return layout.qiita_root / "public" / f"{config.article.slug}.md"


def _stage_figures(rendered: RenderedArticle, target: Path, layout: Layout, publication: Publication) -> tuple:
    """Copy the figure files *rendered* links into a staged *target* folder (marked as the pipeline's).
    An article with no figures gets no such folder in a qiita-cli or zenn-cli folder (one it had is removed)."""
    if not rendered.figures and not inside(target, layout.build) and not inside(target, layout.site):
        if target.exists():
            publication.remove(target)
        return rendered.figures
    folder = publication.folder(target)
    (folder / GENERATED_FILE).write_text(owner_file(target, layout), encoding="utf-8")
    for figure in rendered.figures:
        source = publication.resolve(layout.build / figure.file)
        destination = folder / Path(figure.file).relative_to("figures")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.read_bytes())
    return rendered.figures


def record_manifest(targets: list[Path], layout: Layout, publication: Publication) -> None:
    """Add *targets* to the manifest of what the pipeline has published; builds and previews share it."""
    mine = read_manifest(layout) | {project_path(t, layout) for t in targets}
    publication.write(layout.manifest, json.dumps(sorted(mine), indent=1) + "\n")


def prune(records: list[ExperimentRecord], layout: Layout, publication: Publication) -> list[str]:
    """Remove what deleted experiments left. Their records and figures leave with the publication;
    their executed notebooks, failure reports and cache entries (intermediates no article shows)
    are deleted at once."""
    import shutil

    names = {r.name for r in records}
    gone: set[str] = set()
    if layout.records.is_dir():
        for path in layout.records.glob("*.json"):
            if path.stem not in names:
                publication.remove(path)
                gone.add(path.stem)
    if layout.figures.is_dir():
        for path in layout.figures.iterdir():
            if path.is_dir() and not path.name.startswith(".") and path.name not in names:
                publication.remove(path)
                gone.add(path.name)
    for folder in (layout.executed, layout.failed):
        if folder.is_dir():
            for path in folder.iterdir():
                name = path.name.split(".failure.json")[0].removesuffix(".ipynb")
                if path.is_file() and not path.name.startswith(".") and name not in names:
                    path.unlink()
                    gone.add(name)
    if layout.cache.is_dir():
        for path in layout.cache.iterdir():
            if path.is_dir() and not path.name.startswith(".") and path.name not in names:
                shutil.rmtree(path, ignore_errors=True)
                gone.add(path.name)
    return sorted(gone)


