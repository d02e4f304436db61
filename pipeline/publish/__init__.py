"""Putting the article where people use it: exports, the build lock, the no-change stamp, the site plugin.

``export`` (stage 5: render each dialect, check it, write the Qiita, Zenn and MkDocs files),
``lock`` (one command at a time per build folder), ``uptodate`` (a build with nothing changed
ends at once) and ``mkdocs_plugin`` (MathJax served from the site).

May import: the shared modules at the package's top, ``pipeline.markdown`` and ``pipeline.article``;
never ``run``, ``llm`` or the commands.
"""
