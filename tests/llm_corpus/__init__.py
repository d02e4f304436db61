"""The gate's labelled corpus: real answers of a small model (garbage.jsonl) and drafts written
by hand (good.jsonl), each from a *set* of notebooks ("seed" for the seed study, the others
named for the notebooks they come from). See README.md; ``load`` reads both."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Example:
    id: str
    label: str  # "garbage" | "good"
    kind: str  # the failure it shows ("loop", "echo", ...), or "hand-written"
    answer: str
    finish_reason: str
    wants_heading: bool
    context: dict  # pipeline.llm.gate.GateContext's fields
    set: str = "seed"  # the notebooks it comes from

    def __repr__(self) -> str:
        return f"Example({self.id}, {self.label}, {self.kind})"


def load(name: str) -> list[Example]:
    """The examples of ``garbage`` or ``good``."""
    found = []
    for line in (HERE / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            found.append(Example(d["id"], d["label"], d["kind"], d["answer"], d.get("finish_reason", ""),
                                 bool(d.get("wants_heading")), d["context"], d.get("set", "seed")))
    return found


def verdict(example: Example, max_unsupported_share: float = 0.25):
    """The gate's verdict on *example* (the default max_unsupported_share): its reasons, or None."""
    from pipeline.llm.gate import GateContext, judge, proposal

    fields = {**example.context, "anchors": tuple(example.context.get("anchors", ())),
              "facts": tuple(tuple(f) for f in example.context.get("facts", ()))}
    context = GateContext(**fields)
    if example.id.split("@")[0].endswith((":title", "proposal")):
        return proposal(example.answer, context)[2]
    reasons = judge(example.answer, example.finish_reason, context, max_unsupported_share, example.wants_heading).reasons
    return "; ".join(reasons) or None
