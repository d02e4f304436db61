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
Everything is staged into the build's ``Publication`` and appears together.
Files outside build/ that the pipeline did not write before are never replaced
(``layout.check_owned``). Every export runs the dialect checks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline.article.render import UPLOAD_MARK, RenderedArticle, render
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
from pipeline.markdown.platforms import QIITA, ZENN
from pipeline.markdown.urls import link_url_problems
from pipeline.progress import Progress
from pipeline.publish.site import mathjax_folder, stage_mathjax
from pipeline.publish.zenn_book import (
    export_book,
    fit_images,
    with_setting,
    zenn_entry,
    zenn_images,
    zenn_targets,
)
from pipeline.records import Drafts, ExperimentRecord
from pipeline.storage import Publication
from pipeline.summary import Exports
from pipeline.text import quoted

#: qiita-cli's front matter, in its order; the first group comes from the config
QIITA_KEYS = ("title", "tags", "private", "updated_at", "id", "organization_url_name", "slide", "ignorePublish")


#: Zenn's front matter, in zenn-cli's order; the last three are kept from an existing file
ZENN_KEYS = ("title", "emoji", "type", "topics", "published", "published_at", "publication_name")


def export(records: list[ExperimentRecord], config: Config, progress: Progress, publication: Publication,
           layout: Layout | None = None, drafts: Drafts | None = None, preview: bool = False) -> Exports:
    layout = layout or config.layout
    qiita = render(records, config, "qiita", drafts=drafts, layout=layout)
    mkdocs = render(records, config, "mkdocs", drafts=drafts, preview=preview, layout=layout)
    printed = tuple(dict.fromkeys(qiita.warnings + mkdocs.warnings))
    for warning in printed:
        progress.warn(warning)
    for problem in QIITA.check(qiita.markdown):
        progress.warn(f"Qiita export: {problem}")

    article, cli_file, page = layout.qiita / "article.md", qiita_cli_file(config, layout), layout.site / "index.md"
    zenn_file = zenn_entry(config, layout)  # articles/<slug>.md, or books/<slug>/config.yaml
    targets = export_targets(config, layout)
    check_writable(targets + [layout.manifest], layout)  # before any of them is read or staged
    check_owned(targets, layout)

    front = qiita_front_matter(config, existing=cli_file)
    for problem in _front_problems(QIITA, front):
        progress.warn(f"qiita-cli file: {problem}")
    _stage_figures(qiita, layout.qiita / "figures", layout, publication)
    publication.write(page, f"{GENERATED_LINE}\n{mkdocs.markdown}")
    _stage_figures(mkdocs, layout.site / "figures", layout, publication)
    stage_mathjax(layout, publication)
    if config.zenn.enabled:
        _export_zenn(records, config, progress, publication, layout, drafts, zenn_file, printed)
    body, pending = qiita.markdown, [f for f in qiita.figures if f.src.startswith(UPLOAD_MARK)]
    _check_links([f.src for f in qiita.figures if f not in pending], "image_base_url")
    if config.article.image_base_url == "git":  # after the Zenn export staged the images both platforms share
        body, pending = _link_from_git(qiita, config, layout, publication, progress, cli_file)
    publication.write(article, body)
    publication.write(cli_file, front + owner_mark(cli_file, layout) + "\n" + body)
    record_manifest(targets, layout, publication)
    uploads = tuple(layout.qiita / f.file for f in pending)
    return Exports(article, cli_file, page, uploads, zenn_file if config.zenn.enabled else None)


def git_images(config: Config, layout: Layout) -> Path:
    """Where figures live for ``image_base_url = "git"``: the Zenn export's images/<slug>/ (one copy
    serves both platforms), else images/<slug>/ in the qiita-cli folder."""
    if config.zenn.enabled:
        return zenn_images(config, layout)
    return layout.qiita_root / "images" / config.article.slug


def _link_from_git(qiita: RenderedArticle, config: Config, layout: Layout, publication: Publication,
                   progress: Progress, cli_file: Path) -> tuple[str, list]:
    """The Qiita body with each figure the repository's remote already serves linked to its raw URL,
    pinned to a pushed commit (``pipeline.publish.githost``); the others keep upload placeholders
    and the build says which git commands publish them."""
    from pipeline.publish.githost import earlier_pins, pin

    images = git_images(config, layout)
    if not config.zenn.enabled:
        _stage_figures(qiita, images, layout, publication)
    files = {f.src: images / Path(f.file).relative_to("figures") for f in qiita.figures}
    contents = {path: publication.resolve(path) for path in files.values()}
    article = config.article
    try:
        earlier = cli_file.read_text(encoding="utf-8") if cli_file.is_file() else ""
    except (OSError, UnicodeDecodeError):
        earlier = ""
    previous = earlier_pins(earlier, repo=layout.root, remote=article.git_remote, template=article.image_url_template)
    pins = pin(list(dict.fromkeys(files.values())), repo=layout.root, remote=article.git_remote,
               template=article.image_url_template, previous=previous, contents=contents)
    _check_links(pins.urls.values(), "image_url_template (or the remote's URL)")
    body = qiita.markdown
    for src, path in files.items():
        if path in pins.urls:
            body = body.replace(f"]({src})", f"]({pins.urls[path]})").replace(f'"{src}"', f'"{pins.urls[path]}"')
    pending = [f for f in qiita.figures if files[f.src] not in pins.urls]
    if pending:
        progress.warn(f"Qiita figures: {len(pending)} of {len(qiita.figures)} are not in {article.git_remote}'s "
                      f"pushed commits yet, so the Qiita article keeps upload placeholders for them. {pins.advice}")
    return body, pending


def _check_links(urls, setting: str) -> None:
    """Every figure link the export writes passes the allow-list of links (``link_url_problems``),
    the same as links in the author's Markdown; ExportError (nothing published) names the setting."""
    problems = [p for url in urls for p in link_url_problems(url)]
    if problems:
        raise ExportError(f"figure links would be unsafe, so nothing was published: {'; '.join(problems[:3])}; "
                          f"fix tool.pipeline.article.{setting}")


def qiita_cli_file(config: Config, layout: Layout) -> Path:
    return layout.qiita_root / "public" / f"{config.article.slug}.md"


def export_targets(config: Config, layout: Layout) -> list[Path]:
    """Every file and folder the export writes for this article: what the ownership check, the
    manifest and the up-to-date fingerprint look at (never the rest of a shared CLI folder)."""
    targets = [layout.qiita / "article.md", qiita_cli_file(config, layout), layout.qiita / "figures",
               layout.site / "index.md", layout.site / "figures", mathjax_folder(layout)]
    if config.zenn.enabled:
        targets += zenn_targets(config, layout)
    elif config.article.image_base_url == "git":
        targets.append(git_images(config, layout))
    return targets


def _export_zenn(records, config: Config, progress: Progress, publication: Publication, layout: Layout,
                 drafts, target: Path, printed: tuple[str, ...] = ()) -> None:
    zenn = render(records, config, "zenn", drafts=drafts, layout=layout)
    for warning in zenn.warnings:  # what only the Zenn article has (the badges it shows as links)
        if warning not in printed:
            progress.warn(warning)
    images = zenn_images(config, layout)
    if config.zenn.format == "book":  # books/<slug>/: one chapter per experiment (pipeline.publish.zenn_book)
        export_book(zenn, records, config, progress, publication, layout)
        fit_images(_stage_figures(zenn, images, layout, publication), publication.resolve(images), progress)
        return
    front = zenn_front_matter(config, existing=target)
    refused = ZENN.article_problems(zenn.markdown) + [
        with_setting(p) for p in _front_problems(ZENN, front) + ZENN.slug_problems(ZENN.slug_for(config))]
    if refused:  # zenn-cli or Zenn would refuse the article: an error, never a silent export
        raise ExportError("the Zenn article breaks Zenn's limits, so nothing was published (the last good "
                          "articles stay):\n" + "\n".join(f"  - {p}" for p in refused)
                          + "\n(or set enabled = false under [tool.pipeline.zenn] to skip the Zenn export)")
    for problem in ZENN.check(zenn.markdown) + ZENN.topic_warnings(ZENN.topics_for(config)):
        progress.warn(f"Zenn export: {problem}")
    publication.write(target, front + owner_mark(target, layout) + "\n" + zenn.markdown)
    fit_images(_stage_figures(zenn, images, layout, publication), publication.resolve(images), progress)


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


# ---------------------------------------------------------------------------
# qiita-cli front matter
# ---------------------------------------------------------------------------

def qiita_front_matter(config: Config, existing: Path | None = None) -> str:
    """YAML front matter in qiita-cli's layout. The title, tags, privacy and organization come
    from the config; every other field an existing file has (id and updated_at that qiita-cli
    wrote back, slide, ignorePublish, campaign fields of newer qiita-cli versions) is kept as written."""
    article = config.article
    kept = read_front_matter(existing) if existing and existing.is_file() else {}
    ours = {
        "title": quoted(article.title),
        "tags": None,
        "private": "true" if article.private else "false",
        "organization_url_name": quoted(article.organization_url_name) if article.organization_url_name else "null",
    }
    defaults = {"updated_at": "''", "id": "null", "slide": "false", "ignorePublish": "false"}
    lines = ["---"]
    for key in QIITA_KEYS + tuple(k for k in kept if k not in QIITA_KEYS):
        if key == "tags":
            lines.append("tags:")
            lines += [f"  - {quoted(tag)}" for tag in article.tags]
        elif key in ours:
            lines.append(f"{key}: {ours[key]}")
        else:
            value = kept.get(key, defaults.get(key, "null"))
            lines.append(f"{key}:{value}" if "\n" in value else f"{key}: {value}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def zenn_front_matter(config: Config, existing: Path | None = None) -> str:
    """YAML front matter for zenn-cli. Title, emoji, type and topics come from the config;
    published, published_at and publication_name already in the file are kept."""
    zenn = config.zenn
    kept = read_front_matter(existing) if existing and existing.is_file() else {}
    values = {
        "title": quoted(config.article.title),
        "emoji": quoted(zenn.emoji),
        "type": quoted(zenn.type),
        "topics": "[" + ", ".join(quoted(t) for t in ZENN.topics_for(config)) + "]",
        "published": "true" if zenn.published else "false",
        "publication_name": quoted(zenn.publication_name) if zenn.publication_name else None,
    }
    for key in ("published", "published_at", "publication_name"):
        if key in kept:
            values[key] = kept[key]
    lines = ["---"] + [f"{key}: {values[key]}" for key in ZENN_KEYS if values.get(key) is not None] + ["---"]
    return "\n".join(lines) + "\n"


def _front_problems(platform, front: str) -> list[str]:
    """The *platform*'s front-matter rules on *front* as YAML reads it; a front matter YAML cannot
    read is that problem (a value kept from the existing file, say), never a list of missing fields."""
    import yaml

    try:
        data = yaml.safe_load(front.strip().strip("-").strip()) or {}
    except yaml.YAMLError as exc:
        return [f"front matter: not valid YAML ({' '.join(str(exc).split())}); fix the value named there in the "
                "existing file, or delete the file to have it written anew"]
    return platform.front_matter_problems(data if isinstance(data, dict) else {})


def read_front_matter(path: Path) -> dict[str, str]:
    """The values of an existing front matter's top-level keys, as written: a one-line value
    stripped, a value that continues on indented lines (a list, say) kept whole, from the text
    after its colon. CRLF files read the same as LF files."""
    try:
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return {}
    match = re.match(r"---\n(.*?)\n---(\n|$)", text, re.S)
    if not match:
        return {}
    values: dict[str, str] = {}
    key = None
    for line in match.group(1).split("\n"):
        m = re.match(r"([A-Za-z_][\w-]*):(.*)$", line)
        if m:
            key = m.group(1)
            values[key] = m.group(2)
        elif key is not None and (line.startswith((" ", "\t", "-")) or not line.strip()):
            values[key] += "\n" + line
    return {k: (v.strip() if "\n" not in v.rstrip("\n") else v.rstrip("\n")) for k, v in values.items()
            if v.strip()}
