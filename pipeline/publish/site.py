"""The MkDocs configuration of the article's site: the project's own mkdocs.yml, or the default one.

A project made by ``python -m pipeline init`` has a mkdocs.yml to edit. A project without one
still gets a site: ``build`` and ``preview`` write the pipeline's default configuration to
``build/mkdocs.yml`` (titled with the article, reading the site folder), which ``preview``
serves and ``mkdocs build -f build/mkdocs.yml`` builds. It is rewritten only when it changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.storage import write_if_changed

#: what to tell a user whose project has no mkdocs.yml
EDITABLE = "for a mkdocs.yml of your own to edit, run: python -m pipeline init (it never overwrites files)"


@dataclass(frozen=True)
class SiteConfig:
    #: the mkdocs.yml to build or serve the site with
    path: Path
    #: True: the pipeline's default configuration (the project has no mkdocs.yml)
    default: bool


def site_config(config: Config) -> SiteConfig:
    """The project's mkdocs.yml, or the default configuration written to build/mkdocs.yml."""
    own = config.root / "mkdocs.yml"
    if own.is_file():
        return SiteConfig(own, default=False)
    from pipeline.scaffold import default_mkdocs_yml

    target = config.build_dir / "mkdocs.yml"
    text = default_mkdocs_yml(config.article.title,
                              docs_dir=Path(os.path.relpath(config.site_dir, config.build_dir)).as_posix(),
                              site_dir="html")
    write_if_changed(target, "# Written by ml-article-pipeline: the default site configuration. " + EDITABLE + "\n"
                     + text)
    return SiteConfig(target, default=True)
