"""The article's title: the author's (``[tool.pipeline.article] title``), else one chosen from the records.

Stated once, here: an article without a title of its own takes the first H1 of its experiments in
order when Qiita takes it as a title, else the readable name of the first experiment, else of the
project folder (``suggest.choose_title``, which ``init`` suggests from too). ``build`` and ``status``
title an untitled config from the experiments before anything derived from the title is needed
(the Zenn slug of a short ``article.slug``); ``render``, ``export`` and the LLM pass title it from the
records when called on their own. Loading the config reads no notebook.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

from pipeline.config import Config
from pipeline.markdown.platforms import ZENN
from pipeline.records import Experiment, ExperimentRecord
from pipeline.suggest import choose_title, h1s


def article_title(config: Config, chapters: Sequence[ExperimentRecord | Experiment]) -> str:
    """The author's title, else the one chosen from the H1 headings and names of the *chapters* in
    order: the records, or before execution the experiments (their markdown cells are the same)."""
    if config.article.title:
        return config.article.title
    return choose_title(h1s(source for chapter in chapters for source in _markdown(chapter)),
                        [c.name for c in chapters[:1]] + [config.root.name])


def titled(config: Config, chapters: Sequence[ExperimentRecord | Experiment]) -> Config:
    """*config* as the article stage reads it: the article's title filled in (the author's kept), and
    what derives from it and the tags resolved once, the Zenn slug and topics (``ZENN.slug_for``,
    ``ZENN.topics_for``), so that every export and path reads ``config.zenn.slug`` / ``topics``."""
    if config.article.title and config.zenn.slug and config.zenn.topics:
        return config  # resolved already (the author's own values pass the config's validation as they are)
    article = config.article if config.article.title else dataclasses.replace(
        config.article, title=article_title(config, chapters))
    zenn = dataclasses.replace(config.zenn, slug=ZENN.slug_for(config.zenn, article),
                               topics=ZENN.topics_for(config.zenn, article))
    return dataclasses.replace(config, article=article, zenn=zenn)


def _markdown(chapter: ExperimentRecord | Experiment) -> Iterator[str]:
    if isinstance(chapter, Experiment):
        return (c.source for c in chapter.notebook.cells if c.cell_type == "markdown")
    return (c.source for c in chapter.cells if c.kind == "markdown")


def titled_project(config: Config) -> Config:
    """``titled``, from the experiments when the author set no title (``build`` and ``status`` do this
    before reading paths derived from the title); unchanged when they cannot be read (the build says why)."""
    if config.article.title:
        return titled(config, ())
    from pipeline.errors import PipelineError
    from pipeline.experiments import discover

    try:
        return titled(config, discover(config))
    except PipelineError:
        return config
