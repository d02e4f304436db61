"""What the build says about the LLM pass: the line naming who answered (``answered_line``),
and beyond its counts, who wrote the published drafts, that none passed (plainly), and the
title, tags and chapter titles it proposes. Every line names the model that answered, never
only the configured one (a local server answers whatever name it is asked for)."""

from __future__ import annotations

from pipeline.records import Drafts


def who_answered(drafts: Drafts) -> str:
    """"SmolLM2-135M-Instruct.Q4_1.gguf at 127.0.0.1:8766"; "no model answered (configured model:
    gpt-4o-mini)" when no answer came."""
    if not drafts.served:
        return f"no model answered (configured model: {drafts.model})"
    names = ", ".join(drafts.served) if len(drafts.served) > 1 or not drafts.host else next(iter(drafts.served))
    return f"{names} at {drafts.host}" if drafts.host else names


def answered_line(drafts: Drafts) -> str:
    """The pass in one line: who answered, then the counts."""
    head = f"LLM drafts by {who_answered(drafts)}:" if drafts.served else f"LLM drafts: {who_answered(drafts)};"
    return (f"{head} {drafts.requests} requests, {drafts.cached} from the cache, "
            f"{len(drafts.rejected)} rejected, {len(drafts.unsupported)} unsupported claims")


def draft_summary_lines(drafts: Drafts) -> list[str]:
    lines = []
    if drafts.answered_by:
        written = ", ".join(f"{name} ({count} sections)" for name, count in drafts.answered_by.items())
        lines.append(f"published drafts written by: {written} at {drafts.host}")
    elif drafts.answered:
        lines.append(f"no draft passed the gate: the {drafts.answered} answers of {who_answered(drafts)} were all "
                     "rejected, so the article has no drafted prose (a model this small is for testing the plumbing; "
                     "see docs/llm.md for what drafting needs)")
    if drafts.proposed_title:
        lines.append(f"proposed title (not applied; set tool.pipeline.article.title): {drafts.proposed_title}")
    if drafts.proposed_tags:
        lines.append(f"proposed tags (not applied; set tool.pipeline.article.tags): {', '.join(drafts.proposed_tags)}")
    for name, section in drafts.sections.items():
        if section.title:
            lines.append(f"proposed chapter title for {name} (shown, marked as drafted): {section.title}")
    return lines
