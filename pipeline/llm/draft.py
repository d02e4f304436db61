"""Stage 3 (optional): draft explanatory prose from the records with an LLM, then check it.

Any OpenAI-compatible endpoint works (OpenAI, a local llama.cpp server, ...).
What is drafted: the article's introduction, per experiment a short "what we
tried" and notes that expand the author's observations, and the summary. Code
and outputs always come from the records; the author's text stays and the
drafted text is shown apart from it.

- Cache: ``build/drafts/KEY.json`` under a hash of (prompt, model, parameters).
  An answer that arrived is cached whatever it is (usable, rejected, empty), so a
  rebuild with nothing changed makes no request; only transport failures are
  asked again on the next build (``--redraft`` asks everything again).
- Time: every request has ``llm.timeout``, retries 429/5xx/dropped connections
  with backoff, and the whole pass ends at ``llm.deadline``; after two sections
  in a row fail to get through, the endpoint is given up for this build.
- Gate: see ``pipeline.llm.factcheck``: a draft that is not prose in the article's
  language or whose unsupported claims pass ``llm.max_unsupported_share`` is
  rejected; the rest have their unsupported claims marked 要確認.
- Secrets: the API key is looked up in one place (``resolve_endpoint``) and
  never written; a base URL is only ever shown without its user:password part.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pipeline.article.observations import fill, glue_context
from pipeline.config import Config
from pipeline.errors import PipelineError
from pipeline.layout import Layout
from pipeline.llm.factcheck import assess, mark_claims
from pipeline.progress import Progress
from pipeline.records import (
    Claim,
    Drafts,
    ErrorOutput,
    ExperimentRecord,
    Rejection,
    ResultOutput,
    SectionDraft,
    StreamOutput,
)
from pipeline.storage import atomic_write_text
from pipeline.text import safe_url

PROMPT_VERSION = 1
MAX_CODE_CHARS = 2000  # prompts must fit small local models (4k context)
MAX_OUTPUT_CHARS = 2000
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
GIVE_UP_AFTER = 2  # sections in a row whose request did not get through


class DraftError(PipelineError):
    """The LLM pass was required and could not be done."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str

    def __repr__(self) -> str:  # never show the key or a password in the URL
        return f"Endpoint({safe_url(self.base_url)}, key={'set' if self.api_key else 'none'})"


def resolve_endpoint(config: Config, base_url: str | None = None, api_key: str | None = None) -> Endpoint:
    """Where to send requests. Lookup order: argument, then config (base_url only), then environment
    (OPENAI_BASE_URL, OPENAI_API_KEY). A local server needs no key."""
    base = base_url or config.llm.base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = api_key or os.environ.get("OPENAI_API_KEY") or ""
    if not key:
        if base and (urlparse(base).hostname or "") in LOCAL_HOSTS:
            key = "local-server-needs-no-key"
        else:
            raise DraftError("the LLM pass needs an API key: set OPENAI_API_KEY (or point OPENAI_BASE_URL / "
                             "tool.pipeline.llm.base_url at a local OpenAI-compatible server), or run without --llm")
    return Endpoint(base, key)


# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------

SYSTEM = {
    "ja": ("あなたは機械学習の技術記事の編集者です。与えられた実験記録(コード・出力・著者の考察・記録された値)だけを根拠に、"
           "日本語で説明文を書きます。コードや出力そのものは書かないでください(記事には実物が別に載ります)。"
           "記録にない数値やトークンは書かないでください。見出しは付けず、Markdown の段落か箇条書きで答えてください。"),
    "en": ("You are the editor of a technical article about machine-learning experiments. Write explanatory prose "
           "in English based only on the given records (code, outputs, the author's observations, recorded values). "
           "Do not write code or outputs (the article shows the real ones). Do not state numbers or tokens that are "
           "not in the records. No headings; answer in Markdown paragraphs or bullet points."),
}
ASK = {
    "ja": {
        "introduction": "次の章立ての記事の導入文を3〜5文で書いてください。",
        "audience": "続けて、この記事の想定読者を箇条書き2〜3項目で挙げてください。",
        "intro": "この実験で何を、なぜ試したのかを2〜4文で説明してください。",
        "notes": "この実験の結果から読み取れることを、著者の考察を補う形で箇条書き3〜5項目で書いてください。",
        "summary": "記事全体のまとめを箇条書き3〜5項目で書いてください。",
    },
    "en": {
        "introduction": "Write a 3-5 sentence introduction for an article with these chapters.",
        "audience": "Then list who the article is for in 2-3 bullet points.",
        "intro": "Explain in 2-4 sentences what this experiment tries and why.",
        "notes": "Write 3-5 bullet points on what the results show, complementing the author's observations.",
        "summary": "Write a 3-5 bullet summary of the whole article.",
    },
}


@dataclass(frozen=True)
class Request:
    section: str  # "introduction" | "summary" | "<experiment>:intro" | "<experiment>:notes"
    messages: tuple[tuple[str, str], ...]
    evidence: str


def evidence_of(record: ExperimentRecord) -> str:
    """All the text a draft about *record* may quote from."""
    parts = [record.title]
    for cell in record.cells:
        parts.append(cell.source)
        for out in cell.outputs:
            if isinstance(out, StreamOutput):
                parts.append(out.text)
            elif isinstance(out, ResultOutput):
                parts += [out.text, out.markdown or ""]
            elif isinstance(out, ErrorOutput):
                parts += [out.ename, out.evalue]
    for name, value in record.glue.items():
        parts += [name, value.text, json.dumps(value.value, ensure_ascii=False), f"{name} = {value.text}"]
    return "\n".join(parts)


def _prose(record: ExperimentRecord) -> str:
    """The author's markdown after the first cell, with glue values filled in."""
    import jinja2

    glue = glue_context(record.glue)
    texts = []
    for cell in record.cells[1:]:
        if cell.kind == "markdown":
            try:
                texts.append(fill(cell.source, glue))
            except jinja2.TemplateError:  # the harvester already warned about broken citations
                texts.append(cell.source)
    return "\n\n".join(texts)


def _code(record: ExperimentRecord) -> str:
    return "\n\n".join(c.source for c in record.cells if c.kind == "code")[:MAX_CODE_CHARS]


def _outputs(record: ExperimentRecord) -> str:
    texts = []
    for cell in record.cells:
        for out in cell.outputs:
            if isinstance(out, StreamOutput) and out.name == "stdout":
                texts.append(out.text)
            elif isinstance(out, ResultOutput):
                texts.append(out.markdown or out.text)
    return "\n".join(texts)[:MAX_OUTPUT_CHARS]


def build_requests(records: list[ExperimentRecord], config: Config) -> list[Request]:
    lang = "ja" if config.article.language == "ja" else "en"
    system = SYSTEM[lang]
    ask = ASK[lang]
    titles = "\n".join(f"{i}. {r.title}" for i, r in enumerate(records, 1))
    everything = "\n".join(evidence_of(r) for r in records) + "\n" + titles
    audience = "\n".join(f"- {a}" for a in config.article.audience)
    # with no audience configured, the introduction also drafts the 想定読者 list
    ask_intro = ask["introduction"] if audience else f"{ask['introduction']}{ask['audience']}"
    requests = [Request("introduction", (("system", system), ("user", f"{ask_intro}\n\n# {config.article.title}\n{titles}\n\n{audience}")),
                        everything + "\n" + config.article.title + "\n" + audience)]
    for record in records:
        values = "\n".join(f"{k} = {v.text}" for k, v in record.glue.items())
        intro_cell = record.cells[0].source if record.cells and record.cells[0].kind == "markdown" else ""
        body = (f"# {record.title}\n\n## memo\n{intro_cell}\n\n## code\n{_code(record)}\n\n## outputs\n{_outputs(record)}\n\n"
                f"## values\n{values}\n\n## observations\n{_prose(record)}")
        evidence = evidence_of(record)
        requests.append(Request(f"{record.name}:intro", (("system", system), ("user", f"{ask['intro']}\n\n{body}")), evidence))
        requests.append(Request(f"{record.name}:notes", (("system", system), ("user", f"{ask['notes']}\n\n{body}")), evidence))
    summary_file = config.root / config.article.summary if config.article.summary else None
    author_summary = summary_file.read_text(encoding="utf-8", errors="replace") if summary_file and summary_file.is_file() else ""
    requests.append(Request("summary", (("system", system), ("user", f"{ask['summary']}\n\n{titles}\n\n{author_summary}")),
                            everything + "\n" + author_summary))
    return requests


def request_key(request: Request, model: str, temperature: float, max_tokens: int) -> str:
    blob = json.dumps({"v": PROMPT_VERSION, "messages": request.messages, "model": model,
                       "temperature": temperature, "max_tokens": max_tokens}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


# ---------------------------------------------------------------------------
# The pass
# ---------------------------------------------------------------------------

class Unusable(Exception):
    """The endpoint answered, but with nothing usable (cached as such)."""


class Unreachable(Exception):
    """The request did not get through (timeouts, refused connections, 429/5xx after retries)."""


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
    cache_dir = layout.drafts
    deadline = time.monotonic() + llm.deadline
    texts: dict[str, str] = {}
    made = cached = failed_in_row = 0
    unsupported: list[Claim] = []
    rejected: list[Rejection] = []
    plan = build_requests(records, config)
    progress.info(f"drafting {len(plan)} sections with {model} at {safe_url(endpoint.base_url)}")
    for item in plan:
        path = cache_dir / f"{request_key(item, model, llm.temperature, llm.max_tokens)}.json"
        entry = None if redraft else _cached(path)
        if entry is not None:
            cached += 1
        elif failed_in_row >= GIVE_UP_AFTER or time.monotonic() >= deadline:
            why = ("the endpoint did not answer the last sections" if failed_in_row >= GIVE_UP_AFTER
                   else f"the pass reached its {llm.deadline:g}s deadline (tool.pipeline.llm.deadline)")
            _failed(f"drafting {item.section} skipped: {why}", required, progress)
            continue
        else:
            made += 1
            try:
                entry = {"status": "ok", "text": _ask(client, model, item, llm, deadline), "fresh": True}
            except Unusable as exc:
                entry = {"status": "unusable", "reason": str(exc), "fresh": True}
            except Unreachable as exc:
                failed_in_row += 1
                _failed(_redact(f"drafting {item.section} failed ({exc})", endpoint.api_key), required, progress)
                continue
            failed_in_row = 0
        fresh = entry.pop("fresh", False)
        claims: list[str] = []
        if entry["status"] == "ok":  # the gate, once per answer (a cached one meets today's gate too)
            reason, claims = assess(entry["text"], item.evidence, config.article.language, llm.max_unsupported_share)
            if reason:
                entry = {"status": "rejected", "reason": reason, "text": entry["text"]}
        if fresh:
            atomic_write_text(path, json.dumps({"section": item.section, "model": model, "messages": item.messages,
                                                **entry}, ensure_ascii=False, indent=1))
        if entry["status"] != "ok":
            rejected.append(Rejection(item.section, entry.get("reason", entry["status"])))
            continue
        unsupported += [Claim(item.section, c) for c in claims]
        texts[item.section] = mark_claims(entry["text"], claims)

    sections = {}
    for record in records:
        intro, notes = texts.get(f"{record.name}:intro", ""), texts.get(f"{record.name}:notes", "")
        if intro or notes:
            sections[record.name] = SectionDraft(intro, notes)
    drafts = Drafts(model=model, introduction=texts.get("introduction", ""), summary=texts.get("summary", ""),
                    sections=sections, unsupported=tuple(unsupported), rejected=tuple(rejected),
                    requests=made, cached=cached)
    progress.info(f"drafts: {made} requested, {cached} from the cache, {len(rejected)} rejected, "
                  f"{len(unsupported)} unsupported claims")
    for claim in unsupported:
        progress.warn(f"drafted {claim.section}: {claim.text!r} appears in no record (marked 要確認 in the article)")
    if unsupported and llm.fact_check == "fail":
        raise DraftError(f"{len(unsupported)} drafted claims are not supported by the records "
                         "(tool.pipeline.llm.fact_check = \"fail\"); see the warnings above, --redraft, or set it to \"warn\"")
    return drafts


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
    """A cached answer: {"status": "ok"|"unusable"|"rejected", ...}, or None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    status = data.get("status", "ok")  # entries written before statuses existed were usable answers
    if status == "ok" and isinstance(data.get("text"), str):
        return {"status": "ok", "text": data["text"]}
    if status in ("unusable", "rejected"):
        return {"status": status, "reason": str(data.get("reason", status))}
    return None


def _ask(client, model: str, item: Request, llm, deadline: float) -> str:
    """One section, retried with backoff on 429/5xx and dropped connections, within the deadline."""
    import openai

    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            raise Unreachable(f"no time left before the {llm.deadline:g}s deadline")
        try:
            response = client.with_options(timeout=min(llm.timeout, remaining)).chat.completions.create(
                model=model,
                messages=[{"role": role, "content": content} for role, content in item.messages],
                temperature=llm.temperature,
                max_tokens=llm.max_tokens,
            )
            break
        except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            attempt += 1
            if attempt > llm.max_retries:
                raise Unreachable(f"{type(exc).__name__}: {exc}") from None
            time.sleep(min(2 ** attempt * 0.25 + random.uniform(0, 0.25), max(0.0, deadline - time.monotonic() - 1)))
        except openai.APIStatusError as exc:  # 4xx: asking again will not help
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        except (openai.APIResponseValidationError, ValueError) as exc:  # an answer arrived, but not a valid one
            raise Unusable(f"the endpoint's answer is malformed ({type(exc).__name__}: {exc})") from None
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        raise Unusable("the endpoint's answer has no message content") from None
    text = clean_answer(content if isinstance(content, str) else "")
    if not text:
        raise Unusable("the endpoint answered with no usable text")
    return text


def clean_answer(text: str) -> str:
    """Drop code blocks and headings: drafts are prose only."""
    text = re.sub(r"```.*?(```|$)", "", text, flags=re.S)
    lines = [line for line in text.splitlines() if not re.match(r"\s*#{1,6}\s", line)]
    return "\n".join(lines).strip()


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text
