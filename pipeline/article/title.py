"""The article's title: the author's (``[tool.pipeline.article] title``), else one chosen from the records.

Stated once, here: an article without a title of its own takes the first H1 of its experiments in
order when Qiita takes it as a title, else the readable name of the first experiment, else of the
project folder (``suggest.choose_title``, which ``init`` suggests from too). The export and the LLM
pass read it from here; loading the config reads no notebook.
"""

from __future__ import annotations

import dataclasses

from pipeline.config import Config
from pipeline.records import ExperimentRecord
from pipeline.suggest import choose_title, h1s


def article_title(config: Config, records: list[ExperimentRecord]) -> str:
    """The author's title, else the one chosen from the records' H1 headings and names."""
    if config.article.title:
        return config.article.title
    markdown = (cell.source for record in records for cell in record.cells if cell.kind == "markdown")
    return choose_title(h1s(markdown), [r.name for r in records[:1]] + [config.root.name])


def titled(config: Config, records: list[ExperimentRecord]) -> Config:
    """*config* with the article's title filled in (unchanged when the author set one)."""
    if config.article.title:
        return config
    return dataclasses.replace(config, article=dataclasses.replace(config.article, title=article_title(config, records)))
