"""Stage 5: write the rendered articles where people use them.

- ``build/qiita/article.md``: paste-ready Qiita Markdown (title goes in Qiita's title field);
- ``build/qiita/public/<slug>.md``: the same body with the front matter that
  Qiita's official CLI (npm ``@qiita/qiita-cli``) expects, so ``npx qiita publish
  <slug>`` publishes it. ``id`` and ``updated_at`` that qiita-cli wrote back
  after a publish are kept, so re-exporting never forgets the published article;
- ``site/index.md`` + ``site/figures/``: the MkDocs page (``mkdocs serve``);
- ``build/qiita/figures/``: the figure files, for upload when no image_base_url is set.

Everything is staged first and swapped in, so a failure leaves the last export.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .render import UPLOAD_MARK, RenderedArticle
from .storage import atomic_write_text, copy_item, replacing_dir

FRONT_MATTER_KEYS = ("title", "tags", "private", "updated_at", "id", "organization_url_name", "slide", "ignorePublish")


@dataclass(frozen=True)
class ExportResult:
    article: Path
    qiita_cli: Path
    site_page: Path
    uploads: tuple[Path, ...]  # figure files still to upload (no image_base_url)

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.article, self.qiita_cli, self.site_page)


def export_dir(config: Config) -> Path:
    return (config.root / config.article.export_dir).resolve()


def site_dir(config: Config) -> Path:
    """The MkDocs docs_dir (``site/``)."""
    return config.root / "site"


def export(qiita: RenderedArticle, mkdocs: RenderedArticle, config: Config) -> ExportResult:
    target = export_dir(config)
    public = target / "public" / f"{config.article.slug}.md"
    front = front_matter(config, existing=public)

    uploads = []
    with replacing_dir(target) as staging:
        (staging / "public").mkdir(parents=True)
        (staging / "article.md").write_text(qiita.markdown, encoding="utf-8")
        (staging / "public" / public.name).write_text(front + qiita.markdown, encoding="utf-8")
        for figure in qiita.figures:
            _copy_figure(config, figure.file, staging / figure.file)
            if figure.src.startswith(UPLOAD_MARK):
                uploads.append(target / figure.file)
        _keep_other_qiita_files(target, staging)

    site = site_dir(config)
    with replacing_dir(site / "figures") as staging:
        for figure in mkdocs.figures:
            _copy_figure(config, figure.file, staging / Path(figure.file).relative_to("figures"))
    page = atomic_write_text(site / "index.md", mkdocs.markdown)
    return ExportResult(target / "article.md", target / "public" / public.name, page, tuple(uploads))


def _copy_figure(config: Config, relative: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(config.build_dir / relative, destination)


def _keep_other_qiita_files(old: Path, new: Path) -> None:
    """qiita-cli keeps its own files (qiita.config.json, other articles) beside ours: carry them over."""
    if not old.is_dir():
        return
    for item in old.iterdir():
        if item.name not in ("article.md", "public", "figures"):
            copy_item(item, new / item.name)
    if (old / "public").is_dir():
        for item in (old / "public").iterdir():
            if not (new / "public" / item.name).exists():
                copy_item(item, new / "public" / item.name)


def front_matter(config: Config, existing: Path | None = None) -> str:
    """YAML front matter in qiita-cli's layout; values qiita-cli wrote back are kept."""
    article = config.article
    kept = read_front_matter(existing) if existing and existing.is_file() else {}
    values = {
        "title": article.title,
        "tags": list(article.tags),
        "private": article.private,
        "updated_at": kept.get("updated_at", "''"),
        "id": kept.get("id", "null"),
        "organization_url_name": article.organization_url_name or "null",
        "slide": "false",
        "ignorePublish": "false",
    }
    lines = ["---"]
    for key in FRONT_MATTER_KEYS:
        value = values[key]
        if key == "tags":
            lines.append("tags:")
            lines += [f"  - {_yaml_str(tag)}" for tag in value]
        elif key == "title":
            lines.append(f"title: {_yaml_str(value)}")
        elif isinstance(value, bool):
            lines.append(f"{key}: {'true' if value else 'false'}")
        elif key == "organization_url_name" and value != "null":
            lines.append(f"{key}: {_yaml_str(value)}")
        else:
            lines.append(f"{key}: {value}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def read_front_matter(path: Path) -> dict[str, str]:
    """The raw scalar values of an existing qiita-cli file's front matter."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not match:
        return {}
    values = {}
    for line in match.group(1).splitlines():
        m = re.match(r"([A-Za-z_]+):\s*(.*)$", line)
        if m and m.group(2):
            values[m.group(1)] = m.group(2).strip()
    return values


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar
