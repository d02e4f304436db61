"""Putting the article where people use it: exports, the build lock, the no-change stamp, the site plugin.

``export`` (stage 5: render each dialect, check it, stage the Qiita, Zenn and site files in one
publication), with one module per target: ``qiita`` (the qiita-cli file), ``zenn`` (the Zenn
article, its paths and image limits) and ``zenn_book`` (the book format), ``site`` (mkdocs.yml for
MkDocs and Zensical, MathJax in the site), ``frontmatter`` (front matter as the platforms' CLIs read
it); ``githost`` (figures linked from the writer's repository, pinned to a pushed commit) and
``gitrepo`` (that repository read once per build); ``status`` (where each article stands, and what
to do next), ``lock`` (one command at a time per build folder), ``uptodate`` (a build with
nothing changed ends at once) and ``mkdocs_plugin`` (the ``offline-mathjax`` plugin older
mkdocs.yml files still name).

May import: the shared modules at the package's top, ``pipeline.markdown`` and ``pipeline.article``;
never ``run``, ``llm`` or the commands.
"""
