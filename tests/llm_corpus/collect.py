"""Turn a project's cached LLM answers (build/drafts/*.json), or drafts written by hand, into
corpus lines for the gate.

    python tests/llm_corpus/collect.py PROJECT_ROOT OUT.jsonl [--source TEXT] [--set NAME] [--drafts DIR]
    python tests/llm_corpus/collect.py PROJECT_ROOT OUT.jsonl --written DRAFTS.json [--set NAME]

Each answer gets the gate context of the request it answered (rebuilt from the project's
records by today's planner: evidence with its repeated lines dropped, facts, anchors, chapters,
headings, the terms of its part)
and the prompt that was really sent. Cached answers get ``label: "?"``: label each line
"garbage" or "good" by hand (with a ``kind``) before moving it into garbage.jsonl or good.jsonl.
``--written`` takes ``{"section": "answer", ...}`` (drafts written by hand for the project's
sections) and writes them labelled "good". ``--set`` names the notebooks they come from
("seed" for the seed study; bench_gate.py reports each set apart).
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
    parser.add_argument("--set", default="seed", help="the notebooks the answers come from (default: seed)")
    parser.add_argument("--drafts", type=Path, help="the cache folder (default: PROJECT/build/drafts)")
    parser.add_argument("--written", type=Path, help="a JSON object of hand-written drafts by section")
    args = parser.parse_args(argv)
    config = load_config(args.project)
    plan = {r.section: r for r in build_requests(load_records(config), config)}
    if args.written:
        entries = [{"section": section, "answer": answer, "finish_reason": "stop"}
                   for section, answer in json.loads(args.written.read_text(encoding="utf-8")).items()]
        names = [f"good-{args.set}-{n:02d}-{e['section']}" for n, e in enumerate(entries, 1)]
        label, kind, source = "good", "hand-written", "written by hand for this corpus"
    else:
        paths = sorted((args.drafts or config.layout.drafts).glob("*.json"))
        entries = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
        names = [f"{e.get('section')}@{path.stem[:8]}" for e, path in zip(entries, paths)]
        label, kind, source = "?", "", args.source
    lines = []
    for name, entry in zip(names, entries):
        answer = entry.get("answer", entry.get("text"))
        request = plan.get(entry.get("section", ""))
        if not isinstance(answer, str) or not answer.strip() or request is None:
            continue
        messages = dict(entry.get("messages") or request.messages)
        context = dataclasses.asdict(request.gate)
        context["evidence"] = "\n".join(dict.fromkeys(context["evidence"].splitlines()))  # the check reads no order
        user = messages.get("user", context["prompt"])
        context["prompt"] = user
        context["instructions"] = messages.get("system", "") + "\n" + user.split("\n\n")[0]
        lines.append({"id": name, "label": label, "kind": kind, "set": args.set, "source": source,
                      "section": entry["section"], "answer": answer, "finish_reason": entry.get("finish_reason", ""),
                      "wants_heading": request.wants_heading, "context": context})
    with args.out.open("a", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{len(lines)} answers appended to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
