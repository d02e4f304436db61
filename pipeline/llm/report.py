"""What the build summary says about the LLM pass beyond its counts: who wrote the published
drafts, that none passed (plainly), and the title, tags and chapter titles it proposes."""

from __future__ import annotations

from pipeline.records import Drafts


def draft_summary_lines(drafts: Drafts) -> list[str]:
    lines = []
    if drafts.answered_by:
        written = ", ".join(f"{name} ({count} sections)" for name, count in drafts.answered_by.items())
        lines.append(f"published drafts written by: {written} at {drafts.host}")
    elif drafts.answered:
        lines.append(f"no draft passed the gate: the {drafts.answered} answers from {drafts.host} were all rejected, "
                     "so the article has no drafted prose (a model this small is for testing the plumbing; "
                     "see docs/llm.md for what drafting needs)")
    if drafts.proposed_title:
        lines.append(f"proposed title (not applied; set tool.pipeline.article.title): {drafts.proposed_title}")
    if drafts.proposed_tags:
        lines.append(f"proposed tags (not applied; set tool.pipeline.article.tags): {', '.join(drafts.proposed_tags)}")
    for name, section in drafts.sections.items():
        if section.title:
            lines.append(f"proposed chapter title for {name} (shown, marked as drafted): {section.title}")
    return lines
