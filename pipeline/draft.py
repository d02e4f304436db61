"""Stage 3 (optional): draft explanatory prose from the records with an LLM, then fact-check it.

Any OpenAI-compatible endpoint works (OpenAI, a local llama.cpp server, ...).
What is drafted: the article's introduction, per experiment a short "what we
tried" and notes that expand the author's observations, and the summary. Code
and outputs always come from the records; the author's observations stay and
the drafted text is shown apart from them.

Drafts are cached in ``build/drafts/`` under a hash of (prompt, model,
parameters), so a rebuild with nothing changed makes no request and changing
one experiment redrafts only its section. Every number, token id and quoted
token in a draft must appear in the records it was drafted from; the rest are
reported (and marked in the text).

Faults (timeouts, 429/5xx after retries with backoff, unreachable endpoint,
empty or malformed answers) become warnings and the author's own text is used,
unless the pass is required. The API key is looked up in one place
(``resolve_endpoint``) and never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .config import Config
from .errors import PipelineError
from .progress import Progress
from .records import Claim, Drafts, ErrorOutput, ExperimentRecord, ResultOutput, SectionDraft, StreamOutput
from .storage import atomic_write_text

PROMPT_VERSION = 1
MAX_CODE_CHARS = 2000  # prompts must fit small local models (4k context)
MAX_OUTPUT_CHARS = 2000
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


class DraftError(PipelineError):
    """The LLM pass was required and could not be done."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str

    def __repr__(self) -> str:  # never show the key
        return f"Endpoint({self.base_url or 'https://api.openai.com/v1'}, key={'set' if self.api_key else 'none'})"


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


def _observations(record: ExperimentRecord) -> str:
    import jinja2

    from .render import fill_observation, glue_context

    glue = glue_context(record)
    texts = []
    for cell in record.cells[1:]:
        if cell.kind == "markdown":
            try:
                texts.append(fill_observation(cell.source, glue))
            except jinja2.TemplateError:  # the harvester already warned about broken observations
                texts.append(cell.source)
    return "\n\n".join(texts)


def _code(record: ExperimentRecord) -> str:
    code = "\n\n".join(c.source for c in record.cells if c.kind == "code")
    return code[:MAX_CODE_CHARS]


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
                f"## values\n{values}\n\n## observations\n{_observations(record)}")
        evidence = evidence_of(record)
        requests.append(Request(f"{record.name}:intro", (("system", system), ("user", f"{ask['intro']}\n\n{body}")), evidence))
        requests.append(Request(f"{record.name}:notes", (("system", system), ("user", f"{ask['notes']}\n\n{body}")), evidence))
    summary_file = config.root / config.article.summary if config.article.summary else None
    author_summary = summary_file.read_text(encoding="utf-8") if summary_file and summary_file.is_file() else ""
    requests.append(Request("summary", (("system", system), ("user", f"{ask['summary']}\n\n{titles}\n\n{author_summary}")),
                            everything + "\n" + author_summary))
    return requests


# ---------------------------------------------------------------------------
# Cache, requests, fact check
# ---------------------------------------------------------------------------

def request_key(request: Request, model: str, temperature: float, max_tokens: int) -> str:
    blob = json.dumps({"v": PROMPT_VERSION, "messages": request.messages, "model": model,
                       "temperature": temperature, "max_tokens": max_tokens}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def draft(records: list[ExperimentRecord], config: Config, *, model: str | None = None, base_url: str | None = None,
          api_key: str | None = None, redraft: bool = False, required: bool = False,
          progress: Progress | None = None) -> Drafts | None:
    """Draft every section (from the cache where possible). None when the pass could not start
    and is not required."""
    progress = progress or Progress()
    llm = config.llm
    model = model or llm.model
    try:
        endpoint = resolve_endpoint(config, base_url, api_key)
        from openai import OpenAI
    except ImportError:
        return _give_up(DraftError("the LLM pass needs the openai package: pip install '.[llm]'"), required, progress, None)
    except DraftError as exc:
        return _give_up(exc, required, progress, None)

    client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=llm.timeout, max_retries=llm.max_retries)
    cache_dir = config.build_dir / "drafts"
    texts: dict[str, str] = {}
    requests_made = cached = 0
    unsupported: list[Claim] = []
    plan = build_requests(records, config)
    progress.info(f"drafting {len(plan)} sections with {model} at {endpoint!r}")
    for item in plan:
        key = request_key(item, model, llm.temperature, llm.max_tokens)
        path = cache_dir / f"{key}.json"
        text = None if redraft else _cached(path)
        if text is not None:
            cached += 1
        else:
            try:
                requests_made += 1
                text = _ask(client, model, item, llm.temperature, llm.max_tokens)
            except Exception as exc:  # openai errors, malformed answers: all become one warning
                message = redact(f"drafting {item.section} failed ({type(exc).__name__}: {exc})", endpoint.api_key)
                if required:
                    raise DraftError(message + "; run without --llm=required to fall back to the author's text") from None
                progress.warn(message + "; the author's text is used")
                continue
            atomic_write_text(path, json.dumps({"section": item.section, "model": model, "messages": item.messages,
                                                "text": text}, ensure_ascii=False, indent=1))
        claims = unsupported_claims(text, item.evidence)
        unsupported += [Claim(item.section, c) for c in claims]
        texts[item.section] = mark_claims(text, claims)

    sections = {}
    for record in records:
        intro, notes = texts.get(f"{record.name}:intro", ""), texts.get(f"{record.name}:notes", "")
        if intro or notes:
            sections[record.name] = SectionDraft(intro, notes)
    drafts = Drafts(model=model, introduction=texts.get("introduction", ""), summary=texts.get("summary", ""),
                    sections=sections, unsupported=tuple(unsupported), requests=requests_made, cached=cached)
    progress.info(f"drafts: {requests_made} requested, {cached} from the cache, {len(unsupported)} unsupported claims")
    for claim in unsupported:
        progress.warn(f"drafted {claim.section}: {claim.text!r} appears in no record (marked 要確認 in the article)")
    if unsupported and llm.fact_check == "fail":
        raise DraftError(f"{len(unsupported)} drafted claims are not supported by the records "
                         "(tool.pipeline.llm.fact_check = \"fail\"); see the warnings above, --redraft, or set it to \"warn\"")
    return drafts


def _give_up(exc: DraftError, required: bool, progress: Progress, value):
    if required:
        raise exc
    progress.warn(f"{exc}; building without drafted prose")
    return value


def _cached(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["text"])
    except (ValueError, KeyError, TypeError):
        return None


class EmptyAnswer(Exception):
    pass


def _ask(client, model: str, item: Request, temperature: float, max_tokens: int) -> str:
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": role, "content": content} for role, content in item.messages],
        temperature=temperature,
        max_tokens=max_tokens,
    )
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        raise EmptyAnswer("the endpoint's answer has no message content") from None
    text = clean_answer(content or "")
    if not text:
        raise EmptyAnswer("the endpoint answered with no usable text")
    return text


def clean_answer(text: str) -> str:
    """Drop code blocks and headings: drafts are prose only."""
    text = re.sub(r"```.*?(```|$)", "", text, flags=re.S)
    lines = [l for l in text.splitlines() if not re.match(r"\s*#{1,6}\s", l)]
    return "\n".join(lines).strip()


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text


_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?%?")
_QUOTED = re.compile(r"`([^`\n]{1,60})`|\"([^\"\n]{1,60})\"|'([^'\n]{1,60})'")


def _number_value(text: str) -> float | None:
    try:
        return float(text.rstrip("%").replace(",", ""))
    except ValueError:
        return None


def _supported_number(raw: str, known: set[str], values: list[float]) -> bool:
    """Quoted as recorded, or the same value rounded to the digits the draft shows
    (a percentage may also restate a recorded fraction: 70.3% for 0.703)."""
    plain = raw.rstrip("%").replace(",", "")
    if plain in known:
        return True
    number = _number_value(raw)
    if number is None:
        return False
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    tolerance = 0.5 * 10 ** -decimals + 1e-12
    if any(abs(number - v) <= tolerance for v in values):
        return True
    return raw.endswith("%") and any(abs(number - v * 100) <= tolerance for v in values)


def unsupported_claims(draft_text: str, evidence: str) -> list[str]:
    """Numbers, token ids and quoted tokens in *draft_text* that *evidence* does not contain."""
    known = {m.group(0).rstrip("%").replace(",", "") for m in _NUMBER.finditer(evidence)}
    values = [v for v in (_number_value(k) for k in known) if v is not None]
    claims = [m.group(0) for m in _NUMBER.finditer(draft_text) if not _supported_number(m.group(0), known, values)]
    for match in _QUOTED.finditer(draft_text):
        quoted = next(g for g in match.groups() if g is not None)
        if quoted.strip() and quoted not in evidence:
            claims.append(match.group(0))
    return list(dict.fromkeys(claims))


def mark_claims(text: str, claims: list[str]) -> str:
    """Mark each unsupported claim where it stands, so a reader sees it needs checking."""
    for claim in sorted(claims, key=len, reverse=True):
        text = re.sub(r"(?<![\w.])" + re.escape(claim) + r"(?![\w])", lambda m: f"{m.group(0)}<sup>要確認</sup>", text)
    return text
