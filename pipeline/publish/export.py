"""Stage 5: render the records and write the articles where people use them.

- ``build/qiita/article.md``: paste-ready Qiita Markdown (title goes in Qiita's title field);
- ``build/qiita/public/<slug>.md``: the same body with the front matter of
  Qiita's official CLI (npm ``@qiita/qiita-cli``), so ``npx qiita publish <slug>``
  publishes it. What qiita-cli or the user set in that file (``id``,
  ``updated_at``, campaign fields, ...) is kept;
- ``build/qiita/figures/``: the figure files, for upload when no image_base_url is set;
- ``site/index.md`` + ``site/figures/``: the MkDocs page (``mkdocs serve``);
- ``build/zenn/articles/<slug>.md`` + ``build/zenn/images/<slug>/``: the Zenn article in
  zenn-cli's layout; figures are linked as ``/images/<slug>/...``, which Zenn serves from a
  GitHub-linked repository. ``published`` (and ``published_at``, ``publication_name``) already
  in the file are kept, so a build never unpublishes an article.

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
from pipeline.layout import GENERATED_FILE, GENERATED_LINE, Layout, check_export_folders, check_owned, inside
from pipeline.markdown.platforms import QIITA, ZENN
from pipeline.progress import Progress
from pipeline.records import Drafts, ExperimentRecord
from pipeline.storage import Publication
from pipeline.summary import Exports

#: qiita-cli's front matter, in its order; the first group comes from the config
QIITA_KEYS = ("title", "tags", "private", "updated_at", "id", "organization_url_name", "slide", "ignorePublish")


#: Zenn's front matter, in zenn-cli's order; the last three are kept from an existing file
ZENN_KEYS = ("title", "emoji", "type", "topics", "published", "published_at", "publication_name")


def export(records: list[ExperimentRecord], config: Config, progress: Progress, publication: Publication,
           layout: Layout | None = None, drafts: Drafts | None = None, preview: bool = False) -> Exports:
    layout = layout or config.layout
    qiita = render(records, config, "qiita", drafts=drafts, layout=layout)
    mkdocs = render(records, config, "mkdocs", drafts=drafts, preview=preview, layout=layout)
    for warning in dict.fromkeys(qiita.warnings + mkdocs.warnings):
        progress.warn(warning)
    for problem in QIITA.check(qiita.markdown):
        progress.warn(f"Qiita export: {problem}")

    article = layout.qiita / "article.md"
    cli_file = layout.qiita / "public" / f"{config.article.slug}.md"
    page = layout.site / "index.md"
    targets = [article, cli_file, layout.qiita / "figures", page, layout.site / "figures"]

    zenn_file = layout.zenn / "articles" / f"{ZENN.slug_for(config)}.md"
    folders = [layout.qiita]
    if config.zenn.enabled:
        targets += [zenn_file, layout.zenn / "images" / ZENN.slug_for(config)]
        folders.append(layout.zenn)
    check_export_folders(folders, layout)
    check_owned(targets, layout)

    front = qiita_front_matter(config, existing=cli_file)
    for problem in QIITA.front_matter_problems(_front_values(front)):
        progress.warn(f"qiita-cli file: {problem}")
    publication.write(article, qiita.markdown)
    publication.write(cli_file, front + qiita.markdown)
    _stage_figures(qiita, layout.qiita / "figures", layout, publication)
    publication.write(page, f"{GENERATED_LINE}\n{mkdocs.markdown}")
    _stage_figures(mkdocs, layout.site / "figures", layout, publication)
    if config.zenn.enabled:
        _export_zenn(records, config, progress, publication, layout, drafts, zenn_file)
    for folder in folders:
        if not inside(folder, layout.build):
            publication.write(folder / GENERATED_FILE, "Written by ml-article-pipeline.\n")
    record_manifest(targets, folders, layout, publication)
    uploads = tuple(layout.qiita / f.file for f in qiita.figures if f.src.startswith(UPLOAD_MARK))
    return Exports(article, cli_file, page, uploads, zenn_file if config.zenn.enabled else None)


def _export_zenn(records, config: Config, progress: Progress, publication: Publication, layout: Layout,
                 drafts, target: Path) -> None:
    zenn = render(records, config, "zenn", drafts=drafts, layout=layout)
    front = zenn_front_matter(config, existing=target)
    refused = (ZENN.article_problems(zenn.markdown) + ZENN.front_matter_problems(_front_values(front))
               + ZENN.slug_problems(ZENN.slug_for(config)))
    if refused:  # zenn-cli or Zenn would refuse the article: an error, never a silent export
        raise ExportError("the Zenn article breaks Zenn's limits, so nothing was published (the last good "
                          "articles stay):\n" + "\n".join(f"  - {p}" for p in refused)
                          + "\n(or set enabled = false under [tool.pipeline.zenn] to skip the Zenn export)")
    for problem in ZENN.check(zenn.markdown) + ZENN.topic_warnings(ZENN.topics_for(config)):
        progress.warn(f"Zenn export: {problem}")
    publication.write(target, front + zenn.markdown)
    for figure in _stage_figures(zenn, layout.zenn / "images" / ZENN.slug_for(config), layout, publication):
        size = publication.resolve(layout.build / figure.file).stat().st_size
        for problem in ZENN.image_problems(figure.file, size):
            progress.warn(f"Zenn export: {problem}")


def _stage_figures(rendered: RenderedArticle, target: Path, layout: Layout, publication: Publication) -> tuple:
    """Copy the figure files *rendered* links into a staged *target* folder (marked as the pipeline's)."""
    folder = publication.folder(target)
    (folder / GENERATED_FILE).write_text("Written by ml-article-pipeline.\n", encoding="utf-8")
    for figure in rendered.figures:
        source = publication.resolve(layout.build / figure.file)
        destination = folder / Path(figure.file).relative_to("figures")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.read_bytes())
    return rendered.figures


def record_manifest(targets: list[Path], folders: list[Path], layout: Layout, publication: Publication) -> None:
    """Add *targets* (and the export *folders*, with a trailing "/") to the manifest of what the
    pipeline has published; builds and previews share it."""
    from pipeline.layout import read_manifest

    root = layout.root.resolve()
    mine = read_manifest(layout) | {t.resolve().relative_to(root).as_posix() for t in targets}
    mine |= {f"{f.resolve().relative_to(root).as_posix()}/" for f in folders}
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
        "title": _yaml_str(article.title),
        "tags": None,
        "private": "true" if article.private else "false",
        "organization_url_name": _yaml_str(article.organization_url_name) if article.organization_url_name else "null",
    }
    defaults = {"updated_at": "''", "id": "null", "slide": "false", "ignorePublish": "false"}
    lines = ["---"]
    for key in QIITA_KEYS + tuple(k for k in kept if k not in QIITA_KEYS):
        if key == "tags":
            lines.append("tags:")
            lines += [f"  - {_yaml_str(tag)}" for tag in article.tags]
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
        "title": _yaml_str(config.article.title),
        "emoji": _yaml_str(zenn.emoji),
        "type": _yaml_str(zenn.type),
        "topics": "[" + ", ".join(_yaml_str(t) for t in ZENN.topics_for(config)) + "]",
        "published": "true" if zenn.published else "false",
        "publication_name": _yaml_str(zenn.publication_name) if zenn.publication_name else None,
    }
    for key in ("published", "published_at", "publication_name"):
        if key in kept:
            values[key] = kept[key]
    lines = ["---"] + [f"{key}: {values[key]}" for key in ZENN_KEYS if values.get(key) is not None] + ["---"]
    return "\n".join(lines) + "\n"


def _front_values(front: str) -> dict:
    """The front matter as YAML reads it (for the dialect checks)."""
    import yaml

    try:
        data = yaml.safe_load(front.strip().strip("-").strip()) or {}
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


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


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar
