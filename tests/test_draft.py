"""The LLM pass against a scripted server at the HTTP boundary, and the fact check."""

import dataclasses
import os

import pytest

from article_fixtures import make_project, records
from fake_openai import FakeOpenAI, completion
from pipeline.build import publish
from pipeline.config import load_config
from pipeline.draft import DraftError, draft, mark_claims, resolve_endpoint, unsupported_claims
from pipeline.harvest import load_records
from pipeline.records import GlueValue

SECRET = "sk-test-THIS-MUST-NEVER-BE-WRITTEN-0123456789"


@pytest.fixture
def config(tmp_path):
    root = make_project(tmp_path / "p")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.pipeline.llm]\nmodel = "fake-model"\nmax_retries = 2\ntimeout = 5\n',
                         encoding="utf-8")
    return load_config(root)


def _good(payload, headers):
    title = next((l[2:] for l in payload["messages"][1]["content"].splitlines() if l.startswith("# ")), "まとめ")
    return 200, completion(f"下書き: {title} についての説明。")


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
    ((200, "this is not json"), "drafting"),
    ((200, completion("")), "no usable text"),
    ((200, {"id": "x", "choices": []}), "no message content"),
])
def test_faults_fall_back_to_the_author_text(config, quiet, reply, expected):
    with FakeOpenAI([reply]) as server:
        result = draft(load_records(config), config, base_url=server.base_url, progress=quiet)
    assert result.sections == {} and result.introduction == ""
    assert quiet.warnings and all("the author's text is used" in w for w in quiet.warnings)
    assert any(expected in w for w in quiet.warnings), quiet.warnings


def test_required_mode_fails_the_build_instead(config, quiet):
    with FakeOpenAI([(500, {"error": {"message": "boom"}})]) as server:
        with pytest.raises(DraftError, match="drafting introduction failed"):
            draft(load_records(config), config, base_url=server.base_url, required=True, progress=quiet)


def test_unreachable_endpoint_and_timeout_are_warnings(config, quiet):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
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
        publish(recs, config, quiet, drafts)
        assert server.headers[0]["authorization"] == f"Bearer {SECRET}"  # it was really sent
    assert any("[redacted]" in w for w in quiet.warnings)
    written = [p for p in config.root.rglob("*") if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err + "".join(quiet.warnings)


def test_article_marks_drafted_prose_and_names_the_model(config, quiet):
    recs = load_records(config)
    with FakeOpenAI([lambda p, h: (200, completion("補足の説明。トークン `xyz` は 12345 個。"))]) as server:
        drafts = draft(recs, config, base_url=server.base_url, progress=quiet)
    text = publish(recs, config, quiet, drafts).article.read_text(encoding="utf-8")
    assert "LLM (fake-model) が実行記録をもとに下書きしたもの" in text
    assert "**考察(補足)**" in text
    assert "- 語彙数は 49152 で" in text  # the author's observation is still there
    assert "`xyz`<sup>要確認</sup>" in text and "12345<sup>要確認</sup>" in text
    assert {c.text for c in drafts.unsupported} == {"`xyz`", "12345"}


def test_fact_check_fail_mode_stops_before_export(config, quiet):
    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, fact_check="fail"))
    with FakeOpenAI([lambda p, h: (200, completion("値は 31337 だった。"))]) as server:
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
    assert os.environ.get("OPENAI_API_KEY") is None


def test_without_a_configured_audience_the_introduction_drafts_one(config, quiet):
    config = dataclasses.replace(config, article=dataclasses.replace(config.article, audience=()))
    with FakeOpenAI([_good]) as server:
        draft(load_records(config)[:1], config, base_url=server.base_url, progress=quiet)
        assert "想定読者" in server.requests[0]["messages"][1]["content"]
    configured = load_config(config.root)
    with FakeOpenAI([_good]) as server:
        draft(load_records(configured)[:1], configured, base_url=server.base_url, redraft=True, progress=quiet)
        assert "想定読者" not in server.requests[0]["messages"][1]["content"]
