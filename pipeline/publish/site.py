"""The article's site: one mkdocs.yml that MkDocs (with Material for MkDocs) and Zensical both build.

- ``site_config``: the project's own mkdocs.yml (``python -m pipeline init`` writes one), or the
  pipeline's default configuration at ``build/mkdocs.yml`` (titled with the article, reading the
  site folder), which the export stages with the site (``stage_site_config``), so a ``build()``
  called from Python writes it too. MkDocs builds that one; Zensical
  (0.0.73) refuses a docs_dir outside the configuration's folder, so it needs the project's own.
- ``stage_mathjax``: MathJax (3.2.2, from the ``django-static-mathjax`` package; only its files
  are used, not Django) and its settings for pymdownx.arithmatex, written by the export into
  docs_dir as ``javascripts/mathjax/``. mkdocs.yml loads both through ``extra_javascript``, so
  either engine ships them and the page typesets math offline: Zensical runs no MkDocs plugin or
  hook, so nothing the page needs may come from one.
- ``engine``: which of the two builds and serves the site (``[tool.pipeline.site] engine``, else
  the one installed); ``build_command`` is its command line.
- ``site_warnings``: what a project's own mkdocs.yml lacks for math to work in both engines.

Search needs no file of ours: MkDocs' search (lunr with ``lang: ja``) and Zensical's both find
Japanese words inside unspaced text (docs/site.md has the measurements).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import ExportError, PipelineError
from pipeline.layout import GENERATED_FILE, Layout, owner_file
from pipeline.storage import Publication

#: what to tell a user whose project has no mkdocs.yml
EDITABLE = "for a mkdocs.yml of your own to edit, run: python -m pipeline init (it never overwrites files)"
#: the folder of docs_dir the export writes MathJax and its settings into
MATHJAX = "javascripts/mathjax"
#: what ``extra_javascript`` in mkdocs.yml loads, in this order: the settings, then MathJax
SCRIPTS = (f"{MATHJAX}/config.js", f"{MATHJAX}/es5/tex-mml-chtml.js")
#: MathJax settings for pymdownx.arithmatex (generic mode), as Material for MkDocs documents them;
#: ``document$`` (a page loaded by instant navigation) exists in Material's and Zensical's pages alike
SETTINGS_SCRIPT = r"""// MathJax settings for pymdownx.arithmatex (generic mode), as Material for MkDocs documents.
// Written by ml-article-pipeline; to change them, point extra_javascript in mkdocs.yml at a file of your own.
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex" }
};
if (typeof document$ !== "undefined") document$.subscribe(() => {
  if (window.MathJax && MathJax.typesetPromise) { MathJax.startup.output.clearCache(); MathJax.typesetClear(); MathJax.texReset(); MathJax.typesetPromise(); }
});
"""
#: the parts of MathJax's es5 folder that tex-mml-chtml.js loads (TeX extensions on first use, the
#: CommonHTML fonts, the menu's accessibility tools), and its licence
_MATHJAX_PARTS = ("es5/tex-mml-chtml.js", "es5/input/tex/extensions", "es5/input/mml/extensions",
                  "es5/output/chtml/fonts/woff-v2", "es5/ui", "es5/a11y", "es5/sre", "LICENSE")
#: the engines, each with the modules it needs
ENGINES = {"mkdocs": ("mkdocs", "material"), "zensical": ("zensical",)}
INSTALL = "pip install '.[site]' (both engines; '.[mkdocs]' or '.[zensical]' for one), or run .setup/install"


@dataclass(frozen=True)
class SiteConfig:
    #: the mkdocs.yml to build or serve the site with
    path: Path
    #: True: the pipeline's default configuration (the project has no mkdocs.yml)
    default: bool


def site_config(config: Config) -> SiteConfig:
    """The project's mkdocs.yml, or the default configuration the export stages at build/mkdocs.yml."""
    own = config.root / "mkdocs.yml"
    if own.is_file():
        return SiteConfig(own, default=False)
    return SiteConfig(config.build_dir / "mkdocs.yml", default=True)


def stage_site_config(config: Config, publication: Publication) -> None:
    """Stage the default configuration (titled with the article, reading the site folder) when the
    project has no mkdocs.yml of its own; an unchanged one is left as it is."""
    site = site_config(config)
    if not site.default:
        return
    from pipeline.scaffold import default_mkdocs_yml

    text = default_mkdocs_yml(config.article.title,
                              docs_dir=Path(os.path.relpath(config.site_dir, config.build_dir)).as_posix(),
                              site_dir="html")
    publication.write(site.path, "# Written by ml-article-pipeline: the default site configuration. " + EDITABLE
                      + "\n" + text)


def site_warnings(site: SiteConfig) -> list[str]:
    """What the project's mkdocs.yml lacks for math to be typeset by both engines (an older init's
    file loads MathJax through the offline-mathjax plugin, which Zensical does not run)."""
    try:
        text = site.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    missing = [script for script in SCRIPTS if script not in text]
    if not missing or "arithmatex" not in text:
        return []
    return [f"{site.path.name}: extra_javascript does not load {' and '.join(missing)}, which the build writes "
            "into the site folder: Zensical will not typeset the formulas (MkDocs only through the offline-mathjax "
            f"plugin). List them under extra_javascript, in this order: {', '.join(SCRIPTS)}"]


# MathJax in docs_dir ----------------------------------------------------------------

def mathjax_folder(layout: Layout) -> Path:
    return layout.site / MATHJAX


def mathjax_source() -> Path:
    """The MathJax distribution inside the installed django-static-mathjax package."""
    spec = importlib.util.find_spec("mathjax")  # the package's top-level name
    if spec is None or not spec.submodule_search_locations:
        raise ExportError("the site's MathJax comes from the django-static-mathjax package, which is not installed: "
                          "pip install django-static-mathjax (a dependency of ml-article-pipeline), or run .setup/install")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def stage_mathjax(layout: Layout, publication: Publication) -> Path:
    """Stage ``javascripts/mathjax/`` in docs_dir: the settings (``config.js``), MathJax's files and
    its licence, marked as the pipeline's. A folder that already holds exactly that (same files, same
    sizes; the settings and the mark compared whole) is left out of the publication: no copy."""
    files = _mathjax_files(mathjax_source())
    target = mathjax_folder(layout)
    ours = {GENERATED_FILE: owner_file(target, layout), "config.js": SETTINGS_SCRIPT}
    if _published(target, files, ours):
        return target
    folder = publication.folder(target)
    for name, text in ours.items():
        (folder / name).write_text(text, encoding="utf-8")
    for relative, path in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / relative)
    return target


def _mathjax_files(source: Path) -> dict[str, Path]:
    """The files of MathJax the site ships, by their path in the folder."""
    files = {}
    for part in _MATHJAX_PARTS:
        path = source / part
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and file.suffix != ".map":
                files[file.relative_to(source).as_posix()] = file
    return files


def _published(target: Path, files: dict[str, Path], ours: dict[str, str]) -> bool:
    try:
        if any((target / name).read_text(encoding="utf-8") != text for name, text in ours.items()):
            return False
        there = {p.relative_to(target).as_posix(): p.stat().st_size for p in target.rglob("*") if p.is_file()}
    except (OSError, UnicodeDecodeError):
        return False
    return there == {**{name: (target / name).stat().st_size for name in ours},
                     **{relative: path.stat().st_size for relative, path in files.items()}}


# the engines -------------------------------------------------------------------

def installed(name: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in ENGINES[name])


def engine(config: Config, site: SiteConfig) -> str:
    """The engine that builds and serves *site*: the configured one, else the one installed (MkDocs when
    both are, as `mkdocs serve` was the preview before Zensical). Zensical takes only a configuration
    whose folder holds the docs and site folders, so not the default one in build/."""
    chosen = config.site.engine
    if chosen and not installed(chosen):
        raise PipelineError(f"tool.pipeline.site.engine is {chosen!r}, which is not installed: "
                            f"pip install '.[{chosen}]' (or set another engine)")
    if not chosen:
        chosen = next((name for name in ENGINES if installed(name)), "")
    if not chosen:
        raise PipelineError(f"neither MkDocs (with Material for MkDocs) nor Zensical is installed to serve the site: "
                            f"{INSTALL}")
    if chosen == "zensical" and site.default:
        raise PipelineError(f"Zensical serves only a configuration in the project's folder (it refuses a docs_dir "
                            f"outside the configuration's folder), and {config.root} has no mkdocs.yml: run python -m "
                            "pipeline init, which writes one (it never overwrites files), or set engine = \"mkdocs\" "
                            "under [tool.pipeline.site]")
    return chosen


def build_command(name: str, site: SiteConfig) -> list[str]:
    """The command line that builds the site with engine *name* into the configuration's site_dir,
    a warning failing the build (``--strict``, which both engines take)."""
    return [sys.executable, "-m", name, "build", "--strict", "-f", str(site.path)]
