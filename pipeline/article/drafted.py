"""What the LLM pass drafted, as the article shows it (``pipeline.article.chapters`` calls these).

- ``llm_disclosure``: the models that wrote the published drafts (each one, with how many
  sections it wrote, when there are several) and the endpoint's host;
- ``readable_title``: a chapter title for a notebook titled only by its file name
  (``makemore_part1_bigrams`` -> ``makemore part1 bigrams``), used when the pass is off or
  proposed none;
- ``drafted_block``: a drafted explanation of a bare part of a chapter, with its proposed heading.
"""

from __future__ import annotations

from pipeline.article.context import Block
from pipeline.markdown.scanner import escape_inline
from pipeline.records import Drafts, ExperimentRecord, StepDraft
from pipeline.text import readable_name


def llm_disclosure(drafts: Drafts) -> str:
    """"SmolLM2-135M-Instruct.Q4_1.gguf, 127.0.0.1:8765"; "" when nothing drafted was published."""
    by = drafts.answered_by
    if not by:
        return ""
    if len(by) == 1:
        names = next(iter(by))
    else:
        names = ", ".join(f"{name}: {count} sections" for name, count in sorted(by.items(), key=lambda kv: -kv[1]))
    return f"{names}; {drafts.host}" if drafts.host else names


def needs_title(record: ExperimentRecord) -> bool:
    """The notebook has no H1 of its own: its chapter is titled by its file name."""
    return record.title.strip() in ("", record.name)


def readable_title(record: ExperimentRecord) -> str:
    """The record's title; for one titled by its file name, that name made readable."""
    return record.title.strip() if not needs_title(record) else readable_name(record.name) or record.name


def drafted_block(step: StepDraft, prose, level: int) -> Block:
    """A drafted explanation (``kind="drafted"``): ``markdown`` sanitized, ``title`` the proposed
    heading (escaped; "" where the author wrote one)."""
    return Block("drafted", markdown=prose.untrusted(step.text), title=escape_inline(step.heading), title_level=level)
