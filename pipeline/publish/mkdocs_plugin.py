"""An MkDocs plugin for the article site: MathJax served from the site itself.

MathJax comes from a PyPI package installed with the project (``django-static-mathjax``,
MathJax 3.2.2; only its files are used, not Django) and is copied into the built site,
so the page typesets math with no network: ``mkdocs serve`` and ``pipeline preview``
work offline, and no page loads anything from a CDN. mkdocs.yml enables it as
``plugins: [offline-mathjax]`` (registered in pyproject.toml under mkdocs.plugins).

It also supplies MathJax's settings for pymdownx.arithmatex, ``javascripts/mathjax.js``
(``extra_javascript`` in mkdocs.yml), when the docs folder has no file of that name: a
project made by ``python -m pipeline init`` needs no file of its own in ``site/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin

#: where extra_javascript in mkdocs.yml expects it, under the built site
TARGET = Path("javascripts") / "mathjax"
#: where extra_javascript in mkdocs.yml expects MathJax's settings (a file there in docs_dir wins)
SETTINGS = "javascripts/mathjax.js"
#: MathJax settings for pymdownx.arithmatex (generic mode), as Material for MkDocs documents them
SETTINGS_SCRIPT = r"""// MathJax settings for pymdownx.arithmatex (generic mode), as Material for MkDocs documents.
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex" }
};
document$.subscribe(() => {
  if (window.MathJax && MathJax.typesetPromise) { MathJax.startup.output.clearCache(); MathJax.typesetClear(); MathJax.texReset(); MathJax.typesetPromise(); }
});
"""
_UNUSED = ("tex-chtml*.js", "tex-svg*.js", "tex-mml-svg.js", "mml-*.js", "node-main.js", "core.js", "loader.js",
           "startup.js", "latest.js", "*.map")


def mathjax_source() -> Path:
    """The MathJax distribution inside the installed package."""
    try:
        import mathjax  # the top-level package of django-static-mathjax
    except ImportError:
        raise PluginError("MathJax for the offline site comes from the django-static-mathjax package, which is not "
                          "installed: run .setup/install (or pip install -e '.[docs]')") from None
    return Path(mathjax.__file__).parent / "static" / "mathjax"


class OfflineMathJax(BasePlugin):
    def on_files(self, files, *, config):
        """MathJax's settings as a page asset, unless the docs folder has its own."""
        if files.get_file_from_path(SETTINGS) is None:
            from mkdocs.structure.files import File

            files.append(File.generated(config, SETTINGS, content=SETTINGS_SCRIPT))
        return files

    def on_post_build(self, config, **kwargs) -> None:
        source = mathjax_source()
        target = Path(config["site_dir"]) / TARGET
        shutil.copytree(source / "es5", target / "es5", ignore=shutil.ignore_patterns(*_UNUSED), dirs_exist_ok=True)
        shutil.copy2(source / "LICENSE", target / "LICENSE")
