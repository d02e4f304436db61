"""Cases about credentials: environment values, an allowed token, and passwords inside
LLM endpoint URLs must never show in an output, a file or a message."""

from __future__ import annotations

from helpers import free_port

from .harness import Ctx, case, failing
from .project import SECRETS, URL_PASSWORD

# secrets ---------------------------------------------------------------------------

@case("secrets", mode="rebuilt")
def secret_env_printed(ctx: Ctx):
    """An experiment prints os.environ and each credential; nothing may show them."""
    names = list(SECRETS)
    ctx.experiment("03_env", failing("Environment", "import os\nprint(dict(os.environ))",
                                     f"for name in {names!r}:\n    print(name, os.environ.get(name))",
                                     "import sys\nsys.stderr.write(repr(os.environ))",
                                     "from pipeline.glue import glue\nglue('env', dict(os.environ))"))
    ctx.expect_ok(ctx.cli("build"))
    ctx.expect("MY_SERVICE_SECRET" in ctx.read("build/qiita/article.md"),
               "the experiment's output is not in the article")


@case("secrets", mode="rebuilt")
def secret_allowed_token_redacted(ctx: Ctx):
    """kernel_env_allow = ["HF_TOKEN"]: the kernel sees it, no output shows it."""
    ctx.configure(top={"kernel_env_allow": ["HF_TOKEN"]})
    ctx.experiment("03_env", failing("Allowed token", "import os\ntoken = os.environ.get('HF_TOKEN', '')\n"
                                     "print('length', len(token))\nprint(token)",
                                     "import sys\nsys.stderr.write(token)",
                                     "from IPython.display import Markdown, HTML, display\n"
                                     "display(Markdown('token: ' + token))\ndisplay(HTML('<b>' + token + '</b>'))",
                                     "from pipeline.glue import glue\nglue('token', token)\ntoken",
                                     "import warnings\nwarnings.warn('token ' + token)"))
    path = ctx.path("experiments/03_env.py")
    path.write_text(path.read_text(encoding="utf-8") + '\n# %% tags=["raises-exception"]\nraise RuntimeError(token)\n',
                    encoding="utf-8")
    ctx.expect_ok(ctx.cli("build"))
    ctx.expect(f"length {len(SECRETS['HF_TOKEN'])}" in ctx.read("build/qiita/article.md"),
               "the kernel did not see HF_TOKEN although kernel_env_allow lists it")


@case("secrets", mode="rebuilt")
def secret_llm_url_password(ctx: Ctx):
    """--llm-base-url with user:password (a working endpoint): the password is never printed or written."""
    from fake_openai import FakeOpenAI, completion

    with FakeOpenAI([(200, completion("この実験の結果を丁寧に説明します。図と表から傾向が読み取れます。"))]) as server:
        url = server.base_url.replace("http://", f"http://user:{URL_PASSWORD}@")
        ctx.expect_ok(ctx.cli("build", "--llm", "--llm-base-url", url))


@case("secrets", mode="rebuilt")
def secret_llm_url_password_unreachable(ctx: Ctx):
    """The same with an endpoint that refuses connections (error messages often quote URLs)."""
    url = f"http://user:{URL_PASSWORD}@127.0.0.1:{free_port()}/v1"
    ctx.configure(llm={"max_retries": 0})
    ctx.expect_ok(ctx.cli("build", "--llm", "--llm-base-url", url))
    run = ctx.cli("build", "--llm=required", "--llm-base-url", url)
    ctx.expect_error(run)


@case("secrets", mode="rebuilt")
def secret_llm_url_password_in_config(ctx: Ctx):
    """llm.base_url with user:password in pyproject.toml: `config` and the build never print it."""
    from fake_openai import FakeOpenAI

    with FakeOpenAI([(500, {"error": {"message": "boom"}})]) as server:
        url = server.base_url.replace("http://", f"http://user:{URL_PASSWORD}@")
        ctx.configure(llm={"base_url": url, "max_retries": 0})
        ctx.secret_files.add("pyproject.toml")
        ctx.expect_ok(ctx.cli("config"))
        ctx.expect_ok(ctx.cli("build", "--llm"))
