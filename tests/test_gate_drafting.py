"""Section-by-section drafting against a scripted server: each request carries its own part of
the chapter, bare notebooks get explanations spread through them, the gate stops degenerate
answers, the disclosure names the model that answered, and requests run up to llm.concurrency."""

import dataclasses
import re

import pytest
from article_fixtures import llm_project, records
from fake_openai import FakeOpenAI, by_prompt, completion, naming, prompt_of

from pipeline.article.render import render
from pipeline.config import load_config
from pipeline.llm.draft import draft
from pipeline.llm.sections import MAX_CELLS
from pipeline.records import Cell, ExperimentRecord, ImageOutput, StreamOutput

STEP = r"\n# Headed\n## Section {}\n"  # a step request's own heading (the chapter-wide ones hold all of them)
GOOD_STEP = naming("見出し: 値の確認\n{name} の値を計算しています。", "出力から、{name} は {value} だとわかります。")
GROUNDED = naming("{name} の値を計算しています。", "出力の {name} は {value} です。")


@pytest.fixture
def config(tmp_path):
    return load_config(llm_project(tmp_path / "p", max_retries=0))


def _record(name: str, cells: list[Cell], title: str | None = None) -> ExperimentRecord:
    base = records()[0]
    return dataclasses.replace(base, name=name, source=f"experiments/{name}.ipynb", title=title or name,
                               cells=tuple(dataclasses.replace(c, index=i) for i, c in enumerate(cells)), glue={})


def headed_notebook() -> ExperimentRecord:
    """Headings and code, no prose: three sections."""
    cells = [Cell(0, "markdown", "# Headed")]
    for n, topic in enumerate(["alpha", "beta", "gamma"]):
        cells += [Cell(0, "markdown", f"## Section {topic}"),
                  Cell(0, "code", f"{topic}_value = {n + 1} * 7\nprint({topic}_value)",
                       outputs=(StreamOutput("stdout", f"{(n + 1) * 7}\n"),))]
    return _record("headed", cells, "Headed")


def bare_notebook(cells: int = 60) -> ExperimentRecord:
    """No markdown at all: 60 code cells, 40 with outputs, 2 figures (like a bare lecture notebook)."""
    made = []
    for i in range(cells):
        outputs = (StreamOutput("stdout", f"step_{i} -> {i * i}\n"),) if i % 3 != 2 else ()
        if i in (20, 45):
            outputs += (ImageOutput(f"figures/bare/bare-cell{i}.png", "image/png", ""),)
        made.append(Cell(0, "code", f"var_{i} = compute_{i}({i})\nprint('step_{i} ->', var_{i})", outputs=outputs))
    return _record("makemore_part1_bigrams", made)


def _step_prompts(server) -> list[str]:
    return [p for p in server.prompts if "[cell " in p and "## code and outputs" not in p]


def test_each_section_of_a_headed_notebook_gets_its_own_request(config, quiet):
    record = headed_notebook()
    with FakeOpenAI([by_prompt([(STEP.format("alpha"), "alpha_value を計算して、その値 7 を出力しています。計算の結果が確かめられます。")],
                               default=GROUNDED)]) as server:
        drafts = draft([record], config, base_url=server.base_url, progress=quiet)
    steps = _step_prompts(server)
    assert len(steps) == 3
    for topic, prompt in zip(["alpha", "beta", "gamma"], steps):
        assert f"{topic}_value" in prompt and f"## Section {topic}" in prompt  # its own code and heading
        assert all(f"{other}_value" not in prompt for other in {"alpha", "beta", "gamma"} - {topic})
        assert "見出し" not in prompt  # the author's heading stands: no heading is asked for
    published = drafts.sections["headed"].steps
    assert [s.first_cell for s in published] == [2, 4, 6] and all(not s.heading for s in published)
    text = render([record], config, "qiita", drafts=drafts).markdown
    assert text.index("Section alpha") < text.index("alpha_value を計算") < text.index("alpha_value = 1")


def test_the_fact_check_uses_the_part_s_own_records(config, quiet):
    """A number from another section is not evidence for this one."""
    record = headed_notebook()
    with FakeOpenAI([by_prompt([(STEP.format("gamma"), "gamma_value は 7 と 14 を足した値で、出力は 21 です。計算が合っています。")],
                               default=GROUNDED)]) as server:
        drafts = draft([record], config, base_url=server.base_url, progress=quiet)
    reasons = {r.section: r.reason for r in drafts.rejected}
    assert "appear in no record" in reasons["headed:step7"]  # 7 and 14 are in the other sections only


def test_a_bare_notebook_gets_explanations_spread_through_it(config, quiet):
    record = bare_notebook()
    with FakeOpenAI([by_prompt([(r"タイトル", "タイトル: バイグラムで作る文字の言語モデル")], default=GOOD_STEP)]) as server:
        drafts = draft([record], config, base_url=server.base_url, progress=quiet)
    steps = _step_prompts(server)
    assert len(steps) >= 60 // MAX_CELLS
    covered = [int(n) for p in steps for n in re.findall(r"\[cell (\d+)", p)]
    assert sorted(covered) == list(range(1, 61))  # every cell, once, in consecutive parts
    assert all("見出し" in p for p in steps)  # no author heading: one is proposed
    draft_steps = drafts.sections[record.name].steps
    assert len(draft_steps) == len(steps) and all(s.heading == "値の確認" for s in draft_steps)
    text = render([record], config, "qiita", drafts=drafts).markdown
    assert "## 1. バイグラムで作る文字の言語モデル" in text and "ファイル名: makemore_part1_bigrams" in text
    assert text.count("値の確認(見出し案: LLM)") == len(steps)
    assert text.count("補足(LLM による下書き)") >= len(steps)


def test_without_the_llm_a_file_name_title_is_made_readable(config):
    text = render([bare_notebook(3)], config, "qiita").markdown
    assert "## 1. Makemore part1 bigrams" in text


def test_long_outputs_are_shortened_to_the_context(config, quiet):
    long = Cell(0, "code", "print(big)", outputs=(StreamOutput("stdout", "".join(f"line {i}\n" for i in range(5000))),))
    record = _record("long", [long, Cell(0, "code", "x = 1")], "Long")
    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, context_tokens=2048, max_tokens=200))
    with FakeOpenAI([(200, completion("この部分では長い出力を表示しています。出力は行番号の並びです。"))]) as server:
        draft([record], config, base_url=server.base_url, progress=quiet)
    for prompt in server.prompts:
        assert len(prompt) < 2048 * 4
    step = _step_prompts(server)[0]
    assert "line 0\n" in step and "line 4999" in step and re.search(r"\(\d+ characters cut\)", step)


DEGENERATE = [
    ("loop", "- 語彙数は、トークンの基本化に含まる。\n" * 10, "repeats itself"),
    ("chapters", "以下のコードで文を書いて、\n1. 最初の実験\n2. Hostile outputs\n3. Headed", "chapters"),
    ("leadin", "以下のコードを使用して実行。", "lead-in"),
    ("cutoff", "この部分では値を計算して、その結果を出力で確かめ", "cut off"),
    ("headings", "## 値の確認\n**Section alpha**\n## Section beta", "headings"),
]


@pytest.mark.parametrize("kind, answer, reason", DEGENERATE, ids=[d[0] for d in DEGENERATE])
def test_degenerate_answers_are_rejected_with_their_reason(config, quiet, kind, answer, reason):
    finish = "length" if kind == "cutoff" else "stop"
    with FakeOpenAI([(200, completion(answer, finish_reason=finish))]) as server:
        drafts = draft([*records(), headed_notebook()], config, base_url=server.base_url, progress=quiet)
    assert drafts.sections == {} and drafts.answered_by == {} and drafts.introduction == drafts.summary == ""
    assert all(reason in r.reason for r in drafts.rejected), drafts.rejected


def test_an_answer_about_another_section_is_rejected(config, quiet):
    about_gamma = "gamma_value と beta_value の計算をしています。結果を出力で確かめています。"
    with FakeOpenAI([by_prompt([(STEP.format("alpha"), about_gamma)], default=GROUNDED)]) as server:
        drafts = draft([headed_notebook()], config, base_url=server.base_url, progress=quiet)
    reasons = {r.section: r.reason for r in drafts.rejected}
    assert "another part of the chapter" in reasons["headed:step3"]
    assert [s.first_cell for s in drafts.sections["headed"].steps] == [4, 6]


def test_each_model_that_answered_is_named_and_the_cache_keeps_it(config, quiet):
    record = headed_notebook()

    def two_models(payload, headers):
        model = "big-model" if re.search(STEP.format("alpha"), prompt_of(payload)) else "small-model"
        answer = GROUNDED(payload, headers)[1]
        return 200, {**answer, "model": model}

    with FakeOpenAI([two_models]) as server:
        drafts = draft([record], config, base_url=server.base_url, progress=quiet)
        host = server.base_url.split("/")[2]
    assert drafts.answered_by == {"big-model": 1, "small-model": drafts.answered - 1}
    text = render([record], config, "mkdocs", drafts=drafts).markdown
    assert f"small-model: {drafts.answered - 1} sections, big-model: 1 sections; {host}" in text
    with FakeOpenAI([(200, completion("alpha_value の値を計算しています。", model="another-model"))]) as server:
        again = draft([record], config, base_url=server.base_url, progress=quiet)
        assert server.requests == []  # all from the cache, which says who wrote them
    assert again.answered_by == drafts.answered_by


def test_nothing_passing_is_said_plainly(config, quiet):
    with FakeOpenAI([(200, completion("以下のコードを使用して実行。"))]) as server:
        drafts = draft([headed_notebook()], config, base_url=server.base_url, progress=quiet)
    assert drafts.answered and not drafts.answered_by
    assert any(w.startswith(f"none of the {drafts.answered} drafts passed the gate") for w in quiet.warnings)
    assert "LLM" not in render([headed_notebook()], config, "qiita", drafts=drafts).markdown.split("##")[0]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_requests_run_up_to_the_configured_concurrency(config, quiet, concurrency):
    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, concurrency=concurrency))
    with FakeOpenAI([lambda payload, headers: (*GROUNDED(payload, headers), 0.3)]) as server:
        drafts = draft([bare_notebook(12)], config, base_url=server.base_url, progress=quiet)
    assert drafts.requests == len(server.requests) > concurrency
    assert server.max_in_flight == concurrency


def test_title_and_tags_are_proposed_when_the_config_has_none(config, quiet):
    article = dataclasses.replace(config.article, title="Untitled experiments", tags=("Python",))
    config = dataclasses.replace(config, article=article)
    answer = "タイトル: 小さな言語モデルで確かめる語彙と生成\nタグ: Python, LLM, 自然言語処理"
    with FakeOpenAI([by_prompt([(r"タイトル", answer)])]) as server:
        drafts = draft(records(), config, base_url=server.base_url, progress=quiet)
    assert drafts.proposed_title == "小さな言語モデルで確かめる語彙と生成"
    assert drafts.proposed_tags == ("Python", "LLM", "自然言語処理")
    text = render(records(), config, "qiita", drafts=drafts).markdown
    assert "小さな言語モデルで確かめる" not in text  # proposed in the summary, never applied
