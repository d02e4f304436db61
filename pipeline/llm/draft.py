"""Stage 3 (optional): draft explanatory prose from the records with an LLM, then gate it.

Any OpenAI-compatible endpoint works (OpenAI, a local llama.cpp server, ...). What is
drafted (``pipeline.llm.prompts``): the article's introduction and summary, per experiment a
short "what we tried" and notes that expand the author's observations, an explanation for
every part of a chapter the author left bare (``pipeline.llm.sections``), a chapter title for
a notebook titled by its file name, and a title and tags to propose when the config has none.
Code and outputs always come from the records; the author's text stays and the drafted text
is shown apart from it, naming the model that answered.

- Cache: ``build/drafts/KEY.json`` under a hash of (prompt, model, parameters). An answer
  that arrived is cached whatever it is (usable, rejected, empty) with the model that wrote
  it, so a rebuild with nothing changed makes no request and says the same; only transport
  failures are asked again on the next build (``--redraft`` asks everything again).
- Time: up to ``llm.concurrency`` requests at once; every request has ``llm.timeout``,
  retries 429/5xx/dropped connections with backoff, and the whole pass ends at
  ``llm.deadline``; after two requests in a row fail to get through, the endpoint is given up
  for this build.
- Gate: ``pipeline.llm.gate`` (degenerate answers) and ``pipeline.llm.factcheck`` (claims no
  record supports); the unsupported claims of a published draft are marked 要確認.
- Secrets: the API key is looked up in one place (``endpoint.resolve_endpoint``) and never
  written; the disclosure names the endpoint's host only.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from pathlib import Path

from pipeline.config import Config
from pipeline.layout import Layout
from pipeline.llm.endpoint import (
    Answer,
    DraftError,
    Unreachable,
    Unusable,
    ask,
    listed_models,
    redact,
    resolve_endpoint,
    served_model,
)
from pipeline.llm.factcheck import mark_claims
from pipeline.llm.gate import judge, proposal
from pipeline.llm.prompts import PROMPT_VERSION, Request, build_requests
from pipeline.llm.report import answered_line, who_answered
from pipeline.progress import Progress
from pipeline.records import Claim, Drafts, ExperimentRecord, Rejection, SectionDraft, StepDraft
from pipeline.storage import atomic_write_text
from pipeline.text import safe_url

__all__ = ["DraftError", "build_requests", "draft", "request_key", "resolve_endpoint", "safe_url"]
GIVE_UP_AFTER = 2  # requests in a row that did not get through


def request_key(request: Request, model: str, temperature: float, max_tokens: int) -> str:
    blob = json.dumps({"v": PROMPT_VERSION, "messages": request.messages, "model": model,
                       "temperature": temperature, "max_tokens": max_tokens}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class _Asker:
    """Asks the endpoint for the requests the cache lacks, up to ``llm.concurrency`` at once,
    saying who answered each one as it comes."""

    def __init__(self, client, model: str, llm, deadline: float, progress: Progress):
        self.client, self.model, self.llm, self.deadline, self.progress = client, model, llm, deadline, progress
        self.lock = threading.Lock()
        self.failed_in_row = 0
        self.listed: tuple[str, ...] | None = None

    def __call__(self, item: Request) -> dict:
        with self.lock:
            if self.failed_in_row >= GIVE_UP_AFTER:
                return {"status": "skipped", "reason": "the endpoint did not answer the last sections"}
        if time.monotonic() >= self.deadline:
            return {"status": "skipped", "reason": f"the pass reached its {self.llm.deadline:g}s deadline "
                                                   "(tool.pipeline.llm.deadline)"}
        started = time.monotonic()
        try:
            answer: Answer = ask(self.client, self.model, item.messages, self.llm, self.deadline)
        except Unusable as exc:
            entry = {"status": "unusable", "reason": str(exc)}
        except Unreachable as exc:
            with self.lock:
                self.failed_in_row += 1
            return {"status": "failed", "reason": str(exc)}
        else:
            served = served_model(answer.model, self.model, self._listed())
            entry = {"status": "ok", "answer": answer.text, "finish_reason": answer.finish_reason, "served": served}
            self.progress.info(f"      {item.section}: answered by {served} in {time.monotonic() - started:.1f}s")
        with self.lock:
            self.failed_in_row = 0
        return entry

    def _listed(self) -> tuple[str, ...]:
        with self.lock:
            if self.listed is None:
                self.listed = listed_models(self.client)
            return self.listed


def draft(records: list[ExperimentRecord], config: Config, *, model: str | None = None, base_url: str | None = None,
          api_key: str | None = None, redraft: bool = False, required: bool = False,
          progress: Progress | None = None, layout: Layout | None = None) -> Drafts | None:
    """Draft every section (from the cache where possible). None when the pass could not start
    and is not required. Rejected drafts are listed in the returned ``Drafts`` (the build summary
    shows them), not as warnings."""
    progress = progress or Progress()
    layout = layout or config.layout
    llm = config.llm
    model = model or llm.model
    try:
        endpoint = resolve_endpoint(config, base_url, api_key)
        from openai import OpenAI
    except ImportError:
        return _give_up(DraftError("the LLM pass needs the openai package: pip install '.[llm]'"), required, progress)
    except DraftError as exc:
        return _give_up(exc, required, progress)

    client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=llm.timeout, max_retries=0)
    plan = build_requests(records, config)
    paths = {item.section: layout.drafts / f"{request_key(item, model, llm.temperature, llm.max_tokens)}.json"
             for item in plan}
    entries = {} if redraft else {item.section: e for item in plan if (e := _cached(paths[item.section])) is not None}
    missing = [item for item in plan if item.section not in entries]
    if missing:  # nothing has answered yet: name what was asked for, as what it is
        progress.info(f"asking {endpoint.url} (configured model: {model}) for "
                      f"{len(missing)} of {len(plan)} sections" + (f", {llm.concurrency} at once" if llm.concurrency > 1 else ""))
    asker = _Asker(client, model, llm, time.monotonic() + llm.deadline, progress)
    try:
        fresh = dict(zip((item.section for item in missing), _ask_all(asker, missing, llm.concurrency)))
    finally:
        client.close()

    result = _Assembly(records, model, endpoint.host)
    for item in plan:
        entry = entries.get(item.section) or fresh[item.section]
        if entry["status"] in ("failed", "skipped"):
            reason = entry["reason"]
            message = (f"drafting {item.section} failed ({reason})" if entry["status"] == "failed"
                       else f"drafting {item.section} skipped: {reason}")
            _failed(redact(message, endpoint.api_key), required, progress)
            continue
        rejected = result.add(item, entry, llm.max_unsupported_share)
        if item.section in fresh:
            result.requests += 1
            atomic_write_text(paths[item.section], json.dumps({
                "section": item.section, "configured_model": model, "host": endpoint.host, "messages": item.messages,
                **entry, "gate": rejected or "published"}, ensure_ascii=False, indent=1))
        else:
            result.cached += 1
    drafts = result.drafts()
    progress.info(answered_line(drafts))
    if drafts.answered and not drafts.answered_by:
        progress.warn(f"none of the {drafts.answered} drafts passed the gate: the article has no drafted prose "
                      f"({who_answered(drafts)} is too weak for drafting; see docs/llm.md)")
    for claim in drafts.unsupported:
        progress.warn(f"drafted {claim.section} ({result.served_of[claim.section]}): {claim.text!r} is not what the "
                      "records hold (marked 要確認 in the article)")
    if drafts.unsupported and llm.fact_check == "fail":
        raise DraftError(f"{len(drafts.unsupported)} drafted claims are not supported by the records "
                         "(tool.pipeline.llm.fact_check = \"fail\"); see the warnings above, --redraft, or set it to \"warn\"")
    return drafts


def _ask_all(asker, items: list, workers: int) -> list:
    """*asker* on every item, up to *workers* at once, answers in order. The workers are daemon
    threads and the main thread waits in short joins, so Ctrl-C stops the build at once instead of
    waiting for requests in flight (a thread pool would join them at exit)."""
    if workers <= 1 or len(items) <= 1:
        return [asker(item) for item in items]
    answers: list = [None] * len(items)
    waiting: queue.SimpleQueue = queue.SimpleQueue()
    for number in range(len(items)):
        waiting.put(number)
    errors: list[BaseException] = []

    def work() -> None:
        while not errors:
            try:
                number = waiting.get_nowait()
            except queue.Empty:
                return
            try:
                answers[number] = asker(items[number])
            except BaseException as exc:  # handed to the main thread
                errors.append(exc)

    threads = [threading.Thread(target=work, name="pipeline-llm", daemon=True) for _ in range(min(workers, len(items)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    if errors:
        raise errors[0]
    return answers


class _Assembly:
    """Gated answers, gathered into ``Drafts``."""

    def __init__(self, records: list[ExperimentRecord], model: str, host: str):
        self.records, self.model, self.host = records, model, host
        self.texts: dict[str, str] = {}
        self.steps: dict[str, list[StepDraft]] = {}
        self.titles: dict[str, str] = {}
        self.answered_by: dict[str, int] = {}
        self.served: dict[str, int] = {}  # every model that answered -> answers
        self.served_of: dict[str, str] = {}  # section -> the model that answered it
        self.unsupported: list[Claim] = []
        self.rejected: list[Rejection] = []
        self.proposed: tuple[str, tuple[str, ...]] = ("", ())
        self.requests = self.cached = self.answered = 0

    def add(self, item: Request, entry: dict, max_share: float) -> str | None:
        """Gate one answer; the reason it is rejected, or None."""
        if entry["status"] != "ok":
            return self._reject(item, entry.get("reason", entry["status"]))
        self.answered += 1
        served = entry.get("served") or self.model
        self.served[served] = self.served.get(served, 0) + 1
        self.served_of[item.section] = served
        if item.kind in ("title", "proposal"):
            title, tags, problem = proposal(entry["answer"], item.gate)
            if problem:
                return self._reject(item, problem)
            if item.kind == "title":
                self.titles[item.record] = title
                self._credit(served)
            else:
                self.proposed = (title, tags)
            return None
        verdict = judge(entry["answer"], entry.get("finish_reason", ""), item.gate, max_share, item.wants_heading)
        if not verdict.ok:
            return self._reject(item, "; ".join(verdict.reasons))
        self._credit(served)
        self.unsupported += [Claim(item.section, c) for c in verdict.claims]
        text = mark_claims(verdict.text, list(verdict.claims))
        if item.kind == "step":
            self.steps.setdefault(item.record, []).append(StepDraft(item.first_cell, text, verdict.heading))
        else:
            self.texts[item.section] = text
        return None

    def _reject(self, item: Request, reason: str) -> str:
        self.rejected.append(Rejection(item.section, reason))
        return reason

    def _credit(self, served: str) -> None:
        self.answered_by[served] = self.answered_by.get(served, 0) + 1

    def drafts(self) -> Drafts:
        sections = {}
        for record in self.records:
            name = record.name
            draft = SectionDraft(self.texts.get(f"{name}:intro", ""), self.texts.get(f"{name}:notes", ""),
                                 tuple(self.steps.get(name, ())), self.titles.get(name, ""))
            if draft != SectionDraft():
                sections[name] = draft
        return Drafts(model=self.model, introduction=self.texts.get("introduction", ""),
                      summary=self.texts.get("summary", ""), sections=sections, unsupported=tuple(self.unsupported),
                      rejected=tuple(self.rejected), requests=self.requests, cached=self.cached,
                      answered_by=dict(self.answered_by), host=self.host, proposed_title=self.proposed[0],
                      proposed_tags=self.proposed[1], answered=self.answered, served=dict(self.served))


def _give_up(exc: DraftError, required: bool, progress: Progress):
    if required:
        raise exc
    progress.warn(f"{exc}; building without drafted prose")
    return None


def _failed(message: str, required: bool, progress: Progress) -> None:
    if required:
        raise DraftError(message + "; run without --llm=required to fall back to the author's text")
    progress.warn(message + "; the author's text is used")


def _cached(path: Path) -> dict | None:
    """A cached answer: {"status": "ok", "answer", "finish_reason", "served"} or
    {"status": "unusable", "reason"}; None when there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    status = data.get("status")
    if status == "ok" and isinstance(data.get("answer"), str):
        return {"status": "ok", "answer": data["answer"], "finish_reason": str(data.get("finish_reason", "")),
                "served": str(data.get("served") or "")}
    if status == "unusable":
        return {"status": "unusable", "reason": str(data.get("reason", status))}
    return None
