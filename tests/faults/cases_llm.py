"""Cases about the LLM endpoint: unreachable, failing, slow, malformed or empty answers
fall back to the author's text; ``--llm=required`` fails clearly instead."""

from __future__ import annotations

import re

from helpers import free_port

from .harness import Ctx, Run, case, tail

# LLM endpoint faults -----------------------------------------------------------------


def _author_text_kept(ctx: Ctx, run: Run) -> None:
    ctx.expect_ok(run)
    ctx.expect("The answer is 42." in ctx.read("build/qiita/article.md"), "the author's observation is gone")
    ctx.expect("author's text is used" in run.stderr or "without drafted prose" in run.stderr,
               f"no warning that the author's text is used; stderr ends: {tail(run.stderr)}")


@case("llm", mode="rebuilt")
def llm_unreachable(ctx: Ctx):
    ctx.configure(llm={"max_retries": 0})
    run = ctx.cli("build", "--llm", "--llm-base-url", f"http://127.0.0.1:{free_port()}/v1")
    _author_text_kept(ctx, run)
    ctx.expect(run.seconds < 20, f"took {run.seconds:.1f}s against a closed port")


@case("llm", mode="rebuilt")
def llm_server_errors(ctx: Ctx):
    from fake_openai import FakeOpenAI

    with FakeOpenAI([(500, {"error": {"message": "boom"}})]) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    _author_text_kept(ctx, run)
    ctx.expect(run.seconds < 30, f"took {run.seconds:.1f}s against a failing endpoint")


@case("llm", mode="rebuilt")
def llm_deadline(ctx: Ctx):
    """An endpoint that answers after 30 s, per-request timeout 20 s, deadline 3 s: the whole
    pass ends within the deadline."""
    from fake_openai import FakeOpenAI, completion

    ctx.configure(llm={"timeout": 20.0, "deadline": 3.0, "max_retries": 0})
    with FakeOpenAI([(200, completion("遅い答えです。"))], delay=30) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    _author_text_kept(ctx, run)
    started = re.search(r"asking \S+ \(configured model: [^)]+\) for \d+ of \d+ sections", run.stderr)
    ctx.notes.append(f"build {run.seconds:.1f}s")
    ctx.expect(run.seconds < 3.0 + 6, f"the build took {run.seconds:.1f}s with a 3s LLM deadline")
    ctx.expect(started, "no 'asking ...' line")


@case("llm", mode="rebuilt")
def llm_timeouts(ctx: Ctx):
    """Every request times out (1 s): the pass gives up on the endpoint quickly."""
    from fake_openai import FakeOpenAI, completion

    ctx.configure(llm={"timeout": 1.0, "deadline": 60.0, "max_retries": 0})
    with FakeOpenAI([(200, completion("遅い答えです。"))], delay=10) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    _author_text_kept(ctx, run)
    ctx.expect(run.seconds < 15, f"took {run.seconds:.1f}s with 1s timeouts")


@case("llm", mode="rebuilt")
def llm_malformed_json(ctx: Ctx):
    from fake_openai import FakeOpenAI

    with FakeOpenAI([(200, "this is not json {")]) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    _author_text_kept(ctx, run)


@case("llm", mode="rebuilt")
def llm_empty_answers(ctx: Ctx):
    """Empty answers fall back to the author's text, and a rebuild asks nothing again."""
    from fake_openai import FakeOpenAI, completion

    with FakeOpenAI([(200, completion(""))]) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
        asked = len(server.requests)
        again = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
        ctx.expect(len(server.requests) == asked, f"the rebuild made {len(server.requests) - asked} requests")
    _author_text_kept(ctx, run)
    ctx.expect_ok(again)
    ctx.expect(asked > 0, "no request was made")


@case("llm")
def llm_required_unreachable(ctx: Ctx):
    """--llm=required with an unreachable endpoint: a clear error, nothing published."""
    ctx.configure(llm={"max_retries": 0})
    run = ctx.cli("build", "--llm=required", "--llm-base-url", f"http://127.0.0.1:{free_port()}/v1")
    ctx.expect_error(run, "--llm")


@case("llm", mode="rebuilt")
def llm_degenerate_answers(ctx: Ctx):
    """A model that loops on one line: nothing of it is published, the summary says why and that
    no draft passed, and the article does not claim drafted prose."""
    from fake_openai import FakeOpenAI, completion

    loop = "- 以下のコードを使用して実行。\n" * 10
    with FakeOpenAI([(200, completion(loop))], models=["tiny-looping-model.gguf"]) as server:
        run = ctx.cli("build", "--llm", "--llm-base-url", server.base_url)
    ctx.expect_ok(run)
    article = ctx.read("build/qiita/article.md")
    ctx.expect("The answer is 42." in article, "the author's observation is gone")
    ctx.expect("以下のコードを使用して実行" not in article, "a looping draft was published")
    ctx.expect("repeats itself" in run.stderr and "no draft passed the gate" in run.stderr,
               f"no rejection reason or no plain 'nothing passed'; stderr ends: {tail(run.stderr)}")
    ctx.expect("LLM (" not in article, "the article claims drafted prose")
