"""What the drafting pass asks, one ``Request`` per section, each with its own evidence.

- ``introduction`` and ``summary``: the article as a whole (chapter titles, the author's summary);
- per chapter, ``<name>:intro`` (what was tried and why) and ``<name>:notes`` (what the results
  show), from all its code and outputs, shortened to fit ``llm.context_tokens``;
- per bare part of a chapter (``pipeline.llm.sections``), ``<name>:step<cell>``: what the code
  does and what its outputs show, from that part's cells only; a part with no author heading
  is also asked for a proposed heading;
- ``<name>:title``: a chapter title, for a notebook titled only by its file name;
- ``proposal``: a title and tags for the article, when the config sets neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.article.drafted import needs_title
from pipeline.article.observations import fill, glue_context
from pipeline.config import Config
from pipeline.llm.gate import GateContext
from pipeline.llm.sections import (
    Part,
    anchors,
    estimate_tokens,
    evidence_of,
    output_texts,
    part_text,
    parts,
    record_text,
    terms,
    visible_cells,
)
from pipeline.llm.subjects import Fact, facts_of
from pipeline.markdown.scanner import headings
from pipeline.records import ExperimentRecord

PROMPT_VERSION = 2
DEFAULT_TITLE = "Untitled experiments"  # ArticleConfig's default: the article has no title of its own
DEFAULT_TAGS = ("Python",)

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
        "introduction": "次の章立ての記事の導入文を3〜5文で書いてください。章の一覧は繰り返さないでください。",
        "audience": "続けて、この記事の想定読者を箇条書き2〜3項目で挙げてください。",
        "intro": "この実験で何を、なぜ試したのかを2〜4文で説明してください。",
        "notes": "この実験の結果から読み取れることを、著者の考察を補う形で箇条書き3〜5項目で書いてください。",
        "summary": "記事全体のまとめを箇条書き3〜5項目で書いてください。",
        "step": "次のコードが何をしているか、その出力から何がわかるかを2〜4文で説明してください。",
        "heading": "1行目には「見出し: 」に続けて、この部分の短い見出し(20文字以内)を書いてください。",
        "title": "このノートブックの内容を表す章題を1つ、「タイトル: 」に続けて1行で書いてください。",
        "proposal": "この記事のタイトルを「タイトル: 」に続けて1行で、タグを「タグ: 」に続けてカンマ区切りで3〜5個書いてください。",
    },
    "en": {
        "introduction": "Write a 3-5 sentence introduction for an article with these chapters. Do not repeat the list.",
        "audience": "Then list who the article is for in 2-3 bullet points.",
        "intro": "Explain in 2-4 sentences what this experiment tries and why.",
        "notes": "Write 3-5 bullet points on what the results show, complementing the author's observations.",
        "summary": "Write a 3-5 bullet summary of the whole article.",
        "step": "Explain in 2-4 sentences what the following code does and what its outputs show.",
        "heading": "On the first line write \"Heading: \" and a short heading for this part (at most 6 words).",
        "title": "Write one chapter title for this notebook on one line, after \"Title: \".",
        "proposal": "Write a title for this article on one line after \"Title: \", and 3-5 comma-separated tags after \"Tags: \".",
    },
}
OVERHEAD_TOKENS = 400  # the system message, the instruction and the labels around the records


@dataclass(frozen=True)
class Request:
    """One drafting request: ``section`` names it ("introduction", "summary", "proposal",
    "<experiment>:intro|notes|title|step<cell>"); ``kind`` is the part after the colon, without
    the cell number; ``gate`` is what the gate needs to judge its answer (its evidence included)."""

    section: str
    kind: str
    messages: tuple[tuple[str, str], ...]
    gate: GateContext
    record: str = ""
    first_cell: int = -1  # for a step: the cell its explanation is shown before
    wants_heading: bool = False


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


def _headings(record: ExperimentRecord) -> tuple[str, ...]:
    found = [record.title]
    for cell in visible_cells(record):
        if cell.kind == "markdown":
            found += [text for _, _, text in headings(cell.source)]
    return tuple(h for h in found if h.strip())


class Planner:
    """Builds the requests for one build's records."""

    def __init__(self, records: list[ExperimentRecord], config: Config):
        self.records, self.config = records, config
        self.lang = "ja" if config.article.language == "ja" else "en"
        self.system, self.ask = SYSTEM[self.lang], ASK[self.lang]
        self.chapters = tuple(r.title for r in records)
        self.titles = "\n".join(f"{i}. {t}" for i, t in enumerate(self.chapters, 1))
        llm = config.llm
        self.budget = max(300, llm.context_tokens - llm.max_tokens - OVERHEAD_TOKENS)

    def _request(self, section: str, kind: str, instruction: str, body: str, evidence: str, *, record: str = "",
                 first_cell: int = -1, wants_heading: bool = False, headings: tuple[str, ...] = (),
                 own: set[str] | None = None, other: set[str] | None = None, shown: str = "",
                 outputs: str = "", facts: tuple[Fact, ...] = ()) -> Request:
        """One request; *shown* is the code and outputs its answer must be about (``anchors``),
        *outputs* what it is asked to say the outputs show, *facts* the values it may state,
        each with its subject."""
        gate = GateContext(prompt=body, instructions=f"{self.system}\n{instruction}", language=self.config.article.language,
                           evidence=evidence, chapters=self.chapters, headings=headings,
                           own_terms=tuple(sorted(own or ())), other_terms=tuple(sorted(other or ())),
                           anchors=anchors(shown), results=anchors(outputs, digits=True) if outputs else (), facts=facts)
        messages = (("system", self.system), ("user", f"{instruction}\n\n{body}"))
        return Request(section, kind, messages, gate, record, first_cell, wants_heading)

    def build(self) -> list[Request]:
        article, ask = self.config.article, self.ask
        everything = "\n".join(evidence_of(r) for r in self.records) + "\n" + self.titles
        audience = "\n".join(f"- {a}" for a in article.audience)
        # with no audience configured, the introduction also drafts the 想定読者 list
        ask_intro = ask["introduction"] if audience else f"{ask['introduction']}{ask['audience']}"
        shown = self.titles + "\n" + "\n".join(record_text(r, self.budget) for r in self.records)
        facts = tuple(f for r in self.records for f in facts_of(r))
        requests = [self._request("introduction", "introduction", ask_intro, f"# {article.title}\n{self.titles}\n\n{audience}",
                                  everything + "\n" + article.title + "\n" + audience, shown=shown, facts=facts)]
        for record in self.records:
            requests += self.chapter(record)
        summary_file = self.config.root / article.summary if article.summary else None
        author_summary = summary_file.read_text(encoding="utf-8", errors="replace") if summary_file and summary_file.is_file() else ""
        requests.append(self._request("summary", "summary", ask["summary"], f"{self.titles}\n\n{author_summary}",
                                      everything + "\n" + author_summary, shown=shown, facts=facts))
        if article.title == DEFAULT_TITLE or tuple(article.tags) == DEFAULT_TAGS:
            requests.append(self._request("proposal", "proposal", ask["proposal"], self.titles, everything))
        return requests

    def chapter(self, record: ExperimentRecord) -> list[Request]:
        ask, budget = self.ask, self.budget
        values = "\n".join(f"{k} = {v.text}" for k, v in record.glue.items())
        intro_cell = record.cells[0].source if record.cells and record.cells[0].kind == "markdown" else ""
        prose = _prose(record)
        fixed = f"# {record.title}\n\n## memo\n{intro_cell}\n\n## values\n{values}\n\n## observations\n{prose}"
        code = record_text(record, max(200, budget - estimate_tokens(fixed)))
        body = (f"# {record.title}\n\n## memo\n{intro_cell}\n\n## code and outputs\n{code}\n\n"
                f"## values\n{values}\n\n## observations\n{prose}")
        evidence, chapter_headings = evidence_of(record), _headings(record)
        name, facts = record.name, facts_of(record)
        results = "\n".join(t for c in visible_cells(record) for t in output_texts(c)) + "\n" + values
        requests = [self._request(f"{name}:{kind}", kind, ask[kind], body, evidence, record=name, headings=chapter_headings,
                                  shown=f"{code}\n{values}", outputs=results if kind == "notes" else "", facts=facts)
                    for kind in ("intro", "notes")]
        if needs_title(record):
            requests.append(self._request(f"{name}:title", "title", ask["title"], body, evidence, record=name,
                                          headings=chapter_headings))
        pieces = parts(record, budget)
        all_terms = [terms("\n".join(c.source for c in p.cells)) for p in pieces]
        for i, part in enumerate(pieces):
            requests.append(self.step(record, part, all_terms[i], set().union(*all_terms[:i], *all_terms[i + 1:]) - all_terms[i],
                                      chapter_headings))
        return requests

    def step(self, record: ExperimentRecord, part: Part, own: set[str], other: set[str],
             chapter_headings: tuple[str, ...]) -> Request:
        wants_heading = not part.heading
        instruction = self.ask["step"] + (self.ask["heading"] if wants_heading else "")
        where = f"# {record.title}\n" + (f"## {part.heading}\n" if part.heading else "")
        shown = part_text(part, self.budget)
        return self._request(f"{record.name}:step{part.first_cell + 1}", "step", instruction, f"{where}\n{shown}",
                             evidence_of(record, list(part.cells)) + "\n" + part.heading, record=record.name,
                             first_cell=part.first_cell, wants_heading=wants_heading, headings=chapter_headings,
                             own=own, other=other, shown=shown, facts=facts_of(record, list(part.cells)),
                             outputs="\n".join(t for c in part.cells for t in output_texts(c)))


def build_requests(records: list[ExperimentRecord], config: Config) -> list[Request]:
    return Planner(records, config).build()
