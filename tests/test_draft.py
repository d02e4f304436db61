"""The LLM pass against a scripted server at the HTTP boundary, and the fact check."""

import dataclasses

import pytest
from article_fixtures import llm_project
from fake_openai import FakeOpenAI, completion, naming
from helpers import free_port, publish

from pipeline.article.harvest import load_records
from pipeline.config import load_config
from pipeline.llm.draft import DraftError, draft, resolve_endpoint, safe_url
from pipeline.llm.factcheck import assess, mark_claims, unsupported_claims
from pipeline.records import GlueValue

SECRET = "sk-test-THIS-MUST-NEVER-BE-WRITTEN-0123456789"


@pytest.fixture
def config(tmp_path):
    return load_config(llm_project(tmp_path / "p", max_retries=2))


_good = naming("下書き: {name} について、その結果を説明します。")


def test_endpoint_lookup_order_and_key_hiding(config, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(DraftError, match="set OPENAI_API_KEY.*or run without --llm"):
        resolve_endpoint(config)
    assert resolve_endpoint(config, base_url="http://127.0.0.1:9/v1").api_key  # a local server needs no key
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://env.example/v1")
    endpoint = resolve_endpoint(config)
    assert endpoint.base_url == "https://env.example/v1" and endpoint.api_key == SECRET
    assert resolve_endpoint(config, base_url="https://arg.example/v1").base_url == "https://arg.example/v1"
    assert SECRET not in repr(endpoint)
    with_password = resolve_endpoint(config, base_url="https://user:hunter2-pass@proxy.example:8443/v1")
    assert "hunter2" not in repr(with_password) and "proxy.example:8443" in repr(with_password)
    assert safe_url("https://user:pw@h.example/v1") == "https://***@h.example/v1"


def test_drafts_are_cached_and_only_changed_sections_are_redrafted(config, quiet):
    recs = load_records(config)
    with FakeOpenAI([_good]) as server:
        first = draft(recs, config, base_url=server.base_url, progress=quiet)
        assert len(server.requests) == first.requests == 2 * len(recs) + 2
        assert server.requests[0]["model"] == "fake-model"
        assert first.sections["01_first"].intro.startswith("下書き")
        assert first.unsupported == ()

        again = draft(recs, config, base_url=server.base_url, progress=quiet)
        assert len(server.requests) == first.requests  # zero new requests
        assert again.cached == first.requests and again.sections == first.sections

        changed = [dataclasses.replace(recs[0], glue={"vocab_size": GlueValue(50000, "50000")}), recs[1]]
        draft(changed, config, base_url=server.base_url, progress=quiet)
        redrafted = server.requests[first.requests:]
        assert len(redrafted) == 2
        assert all("最初の実験" in r["messages"][1]["content"] for r in redrafted)

        draft(recs, config, base_url=server.base_url, redraft=True, progress=quiet)
        assert len(server.requests) == first.requests + 2 + first.requests


def test_retries_429_and_5xx_then_succeeds(config, quiet):
    with FakeOpenAI([(429, {"error": {"message": "slow down"}}), (503, {"error": {"message": "busy"}}), _good]) as server:
        result = draft(load_records(config)[:1], config, base_url=server.base_url, progress=quiet)
    assert result.requests == 4 and len(server.requests) == 6  # first request needed two retries
    assert quiet.warnings == []


@pytest.mark.parametrize("reply, expected", [
    ((500, {"error": {"message": "boom"}}), "InternalServerError"),
    ((200, "this is not json"), "malformed"),
    ((200, completion("")), "no usable text"),
    ((200, {"id": "x", "choices": []}), "no message content"),
])
def test_faults_fall_back_to_the_author_text(config, quiet, reply, expected):
    with FakeOpenAI([reply]) as server:
        result = draft(load_records(config), config, base_url=server.base_url, progress=quiet)
    assert result.sections == {} and result.introduction == ""
    # a request that did not get through is a warning; an answer that came but is unusable is a
    # rejection, listed once (in the build summary), not also as a warning
    reported = list(quiet.warnings) + [r.reason for r in result.rejected]
    assert any(expected in w for w in reported), reported
    assert all("the author's text is used" in w for w in quiet.warnings)
    assert not (quiet.warnings and result.rejected)


@pytest.mark.parametrize("reply", [(200, completion("")), (200, "this is not json"),
                                   (200, completion("def f(x):\n    return x[0] + {'a': 1}\nprint(f([1]))"))])
def test_an_unusable_answer_is_cached_so_a_rebuild_asks_nothing(config, quiet, reply):
    with FakeOpenAI([reply]) as server:
        first = draft(load_records(config), config, base_url=server.base_url, progress=quiet)
        asked = len(server.requests)
        again = draft(load_records(config), config, base_url=server.base_url, progress=quiet)
        assert len(server.requests) == asked and again.requests == 0
    assert len(first.rejected) == len(again.rejected) == first.requests > 0


def test_transport_failures_are_asked_again_on_the_next_build(config, quiet):
    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, max_retries=0))
    with FakeOpenAI([(503, {"error": {"message": "busy"}}), _good]) as server:
        first = draft(load_records(config)[:1], config, base_url=server.base_url, progress=quiet)
        assert "introduction" not in [r.section for r in first.rejected] and first.introduction == ""
        second = draft(load_records(config)[:1], config, base_url=server.base_url, progress=quiet)
        assert second.requests == 1 and second.introduction.startswith("下書き")


def test_garbage_is_not_published(config, quiet):
    code = "def f(x):\n    return x[0] + {'a': 1}\nprint(f([1]))"
    english = "This section explains the results of the experiment in plain English words."
    with FakeOpenAI([lambda p, h: (200, completion(english if "導入" in p["messages"][1]["content"] else code))]) as server:
        drafts = draft(load_records(config), config, base_url=server.base_url, progress=quiet)
        text = publish(load_records(config), config, quiet, drafts=drafts).article.read_text(encoding="utf-8")
    assert drafts.sections == {} and drafts.introduction == "" and drafts.summary == ""
    reasons = {r.section: r.reason for r in drafts.rejected}
    assert "not prose in the article's language" in reasons["introduction"]
    assert "looks like code" in reasons["01_first:notes"]
    assert "return x[0]" not in text and "plain English" not in text
    assert not any("01_first:notes" in w for w in quiet.warnings)  # listed once: in drafts.rejected (the summary)


def test_a_draft_with_too_many_unsupported_claims_is_rejected():
    evidence = "vocab 49152 prob 0.7031"
    reason, claims = assess("語彙は 49152 で、確率は 0.9 と 0.8 と 0.6 だった。", evidence, "ja", 0.25)
    assert reason and "3 of its 4 numbers" in reason and claims == ["0.9", "0.8", "0.6"]
    assert assess("語彙は 49152 で、確率は 0.7031 だった。", evidence, "ja", 0.25) == (None, [])


def test_an_unresponsive_endpoint_costs_at_most_the_deadline(config, quiet):
    import time

    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, timeout=1.0, max_retries=3, deadline=3.0))
    started = time.monotonic()
    with FakeOpenAI([_good], delay=5) as server:
        result = draft(load_records(config), config, base_url=server.base_url, progress=quiet)
    assert time.monotonic() - started < 5
    assert result.sections == {} and result.requests <= 2
    assert any("did not answer the last sections" in w or "deadline" in w for w in quiet.warnings)


def test_required_mode_fails_the_build_instead(config, quiet):
    with FakeOpenAI([(500, {"error": {"message": "boom"}})]) as server:
        with pytest.raises(DraftError, match="drafting introduction failed"):
            draft(load_records(config), config, base_url=server.base_url, required=True, progress=quiet)


def test_unreachable_endpoint_and_timeout_are_warnings(config, quiet):
    port = free_port()  # nothing listens on it
    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, max_retries=0, timeout=1.0))
    result = draft(load_records(config)[:1], config, base_url=f"http://127.0.0.1:{port}/v1", progress=quiet)
    assert result.sections == {} and any("APIConnectionError" in w for w in quiet.warnings)
    with FakeOpenAI([_good], delay=3) as server:
        draft(load_records(config)[:1], config, base_url=server.base_url, progress=quiet)
    assert any("APITimeoutError" in w for w in quiet.warnings)


def test_api_key_is_never_written(config, quiet, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def echo_key(payload, headers):  # a hostile server that puts the key in its error
        return 401, {"error": {"message": f"bad key {headers.get('authorization')}"}}

    recs = load_records(config)
    with FakeOpenAI([echo_key, _good]) as server:
        drafts = draft(recs, config, base_url=server.base_url, progress=quiet)
        publish(recs, config, quiet, drafts=drafts)
        assert server.headers[0]["authorization"] == f"Bearer {SECRET}"  # it was really sent
    assert any("[redacted]" in w for w in quiet.warnings)
    written = [p for p in config.root.rglob("*") if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err + "".join(quiet.warnings)


MOSTLY_SUPPORTED = "語彙数は 49152 で、比率は 0.1235、表の値は 1 だった。トークン `xyz` が現れた。"


def test_article_marks_drafted_prose_and_names_the_model(config, quiet):
    recs = load_records(config)
    # like llama.cpp's server: the response echoes the requested name; /v1/models names the served one
    served = "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    with FakeOpenAI([lambda p, h: (200, completion(MOSTLY_SUPPORTED, model=p["model"]))], models=[served]) as server:
        drafts = draft(recs, config, base_url=server.base_url, progress=quiet)
        host = server.base_url.split("/")[2]
    text = publish(recs, config, quiet, drafts=drafts).article.read_text(encoding="utf-8")
    # (escaped against autolinks in the Markdown source: "Q4_1\\.gguf")
    assert f"LLM (SmolLM2-135M-Instruct.Q4_1.gguf; {host}) が実行記録をもとに下書きしたもの" in text.replace("\\.", ".")
    assert "fake-model" not in text and "/models/" not in text
    assert "**考察(補足)**" in text
    assert "- 語彙数は 49152 で" in text  # the author's observation is still there
    assert "`xyz`<sup>要確認</sup>" in text
    assert {c.text for c in drafts.unsupported} == {"`xyz`"}
    # the hostile chapter's evidence has none of these numbers: its drafts were rejected
    assert {r.section for r in drafts.rejected} == {"02_hostile:intro", "02_hostile:notes"}


def test_fact_check_fail_mode_stops_before_export(config, quiet):
    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, fact_check="fail"))
    with FakeOpenAI([lambda p, h: (200, completion(MOSTLY_SUPPORTED))]) as server:
        with pytest.raises(DraftError, match="not supported by the records"):
            draft(load_records(config), config, base_url=server.base_url, progress=quiet)


def test_unsupported_claims_rules():
    evidence = "vocab 49152\nprob 0.7031\n 3575: ' capital'\nentropy 1.81\n"
    assert unsupported_claims("語彙は 49,152 で確率は 0.70、70.3% だった", evidence) == []
    assert unsupported_claims("確率 0.8 と 4096 次元", evidence) == ["0.8", "4096"]
    assert unsupported_claims("トークン ' capital' と `Tokyo`", evidence) == ["`Tokyo`"]
    assert mark_claims("値 4096 と 40960", ["4096"]) == "値 4096<sup>要確認</sup> と 40960"


def test_no_key_and_no_local_server_builds_without_drafts(config, quiet, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert draft(load_records(config), config, progress=quiet) is None
    assert any("OPENAI_API_KEY" in w and "building without drafted prose" in w for w in quiet.warnings)
    assert not config.layout.drafts.exists()  # nothing was asked, nothing cached


def test_without_a_configured_audience_the_introduction_drafts_one(config, quiet):
    config = dataclasses.replace(config, article=dataclasses.replace(config.article, audience=()))
    with FakeOpenAI([_good]) as server:
        draft(load_records(config)[:1], config, base_url=server.base_url, progress=quiet)
        assert "想定読者" in server.requests[0]["messages"][1]["content"]
    configured = load_config(config.root)
    with FakeOpenAI([_good]) as server:
        draft(load_records(configured)[:1], configured, base_url=server.base_url, redraft=True, progress=quiet)
        assert "想定読者" not in server.requests[0]["messages"][1]["content"]


def test_every_line_names_the_model_that_answered(config):
    """Before any answer the build names the endpoint and the configured model as only that;
    each answer, the pass's line, the cache and the summary name the model that answered."""
    import io
    import json

    from pipeline.llm.report import answered_line
    from pipeline.progress import Progress

    stream = io.StringIO()
    served = "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    echo = lambda p, h: (200, completion("以下のコードを使用して実行。", model=p["model"]))  # noqa: E731
    with FakeOpenAI([echo], models=[served]) as server:
        drafts = draft(load_records(config)[:1], config, base_url=server.base_url,
                       progress=Progress(stream=stream, live=False))
    out = stream.getvalue()
    asking = out.index(f"asking {server.base_url} (configured model: fake-model) for 4 of 4 sections")
    assert asking < out.index("answered by SmolLM2-135M-Instruct.Q4_1.gguf in ")
    assert "fake-model" not in out.replace("(configured model: fake-model)", "")
    assert answered_line(drafts=drafts).startswith("LLM drafts by SmolLM2-135M-Instruct.Q4_1.gguf at 127.0.0.1:")
    cached = [json.loads(p.read_text(encoding="utf-8")) for p in config.layout.drafts.glob("*.json")]
    assert {(c["served"], c["configured_model"]) for c in cached} == {("SmolLM2-135M-Instruct.Q4_1.gguf", "fake-model")}

    failing = dataclasses.replace(config, llm=dataclasses.replace(config.llm, max_retries=0))
    with FakeOpenAI([(500, {"error": {"message": "boom"}})]) as server:
        nothing = draft(load_records(failing)[:1], failing, base_url=server.base_url, redraft=True, progress=Progress(quiet=True))
    assert answered_line(nothing).startswith("LLM drafts: no model answered (configured model: fake-model);")
