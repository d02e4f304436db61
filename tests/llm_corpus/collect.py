"""Turn a project's cached LLM answers (build/drafts/*.json) into corpus lines for the gate.

    python tests/llm_corpus/collect.py PROJECT_ROOT OUT.jsonl [--source TEXT] [--drafts DIR]

Each answer gets the gate context of the request it answered (rebuilt from the project's
records by today's planner: evidence, chapters, headings, the terms of its part), the prompt
that was really sent, and ``label: "?"``: label each line "garbage" or "good" by hand (with a
``kind``) before moving it into garbage.jsonl or good.jsonl.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from pipeline.article.harvest import load_records
    from pipeline.config import load_config
    from pipeline.llm.prompts import build_requests

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", default="SmolLM2-135M-Instruct Q4_1, llama_cpp.server, seed study")
    parser.add_argument("--drafts", type=Path, help="the cache folder (default: PROJECT/build/drafts)")
    args = parser.parse_args(argv)
    config = load_config(args.project)
    plan = {r.section: r for r in build_requests(load_records(config), config)}
    lines = []
    for path in sorted((args.drafts or config.layout.drafts).glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        answer = entry.get("answer", entry.get("text"))
        request = plan.get(entry.get("section", ""))
        if not isinstance(answer, str) or not answer.strip() or request is None:
            continue
        messages = dict(entry.get("messages") or [])
        context = dataclasses.asdict(request.gate)
        user = messages.get("user", context["prompt"])
        context["prompt"] = user
        context["instructions"] = messages.get("system", "") + "\n" + user.split("\n\n")[0]
        lines.append({"id": f"{entry['section']}@{path.stem[:8]}", "label": "?", "kind": "", "source": args.source,
                      "section": entry["section"], "answer": answer, "finish_reason": entry.get("finish_reason", ""),
                      "wants_heading": request.wants_heading, "context": context})
    with args.out.open("a", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{len(lines)} answers appended to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
