"""``offline-mathjax``: the MkDocs plugin that mkdocs.yml files written by earlier versions name.

MathJax and its settings are now files the build writes into docs_dir (``javascripts/mathjax/``,
see ``pipeline.publish.site``), loaded through ``extra_javascript``, so that Zensical, which runs
no MkDocs plugin, ships them too. An older mkdocs.yml still names this plugin and loads the
settings from ``javascripts/mathjax.js``: for it, and under MkDocs only, the plugin still supplies
that file (unless docs_dir has one of the author's) and says how to update the configuration.
The configuration ``init`` writes today names no plugin.
"""

from __future__ import annotations

import logging

from mkdocs.plugins import BasePlugin

from pipeline.publish.site import SCRIPTS, SETTINGS_SCRIPT

#: where an older mkdocs.yml loads MathJax's settings from
OLD_SETTINGS = "javascripts/mathjax.js"

log = logging.getLogger("mkdocs.plugins.offline-mathjax")


class OfflineMathJax(BasePlugin):
    def on_files(self, files, *, config):
        """MathJax's settings where an older mkdocs.yml loads them, unless the docs folder has its own."""
        if OLD_SETTINGS in [str(script) for script in config["extra_javascript"]] \
                and files.get_file_from_path(OLD_SETTINGS) is None:
            from mkdocs.structure.files import File

            files.append(File.generated(config, OLD_SETTINGS, content=SETTINGS_SCRIPT))
        log.info("offline-mathjax is no longer needed: `python -m pipeline build` writes MathJax into docs_dir. Remove "
                 f"the plugin from mkdocs.yml and load {', then '.join(SCRIPTS)} in extra_javascript, which Zensical "
                 "builds too")
        return files
