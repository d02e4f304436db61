"""Cases about hostile text: outputs, glue values, model fields, exception messages, SVG,
fences, control bytes and LLM prose that try to run script or break the article's
structure. Their pages are loaded in chromium together (``browser.browser_check``)."""

from __future__ import annotations

import base64
import textwrap

from helpers import png

from .harness import Ctx, Run, case

# hostile outputs ------------------------------------------------------------------

def flag(ctx: Ctx) -> str:
    return f"window.__pwned_{ctx.case.name}=1"


def payload(ctx: Ctx) -> str:
    f = flag(ctx)
    return (f"<script>{f}</script><img src=x onerror=\"{f}\"><svg onload=\"{f}\"></svg>"
            f"<iframe srcdoc=\"<script>top.__pwned_{ctx.case.name}=1</script>\"></iframe>PWNED")


def hostile_experiment(ctx: Ctx, *cells: str, observation: str = "") -> None:
    """Chapter 2 of three (01h_ sorts between 01_fig and 02_table), so that output escaping
    its chapter would swallow the next one. A cell starting with a "# %%" line keeps it."""
    parts = [f"# %% [markdown]\n# # Hostile {ctx.case.name}\n"]
    parts += [c.strip() + "\n" if c.startswith("# %%") else f"# %%\n{textwrap.dedent(c).strip()}\n" for c in cells]
    if observation:
        parts.append("# %% [markdown]\n" + "\n".join(f"# {line}".rstrip() for line in observation.splitlines()) + "\n")
        ctx.chapter_notes = 1
    ctx.experiment(f"01h_{ctx.case.name}", "\n".join(parts))


def hostile_build(ctx: Ctx, *args: str, rc: int = 0, env: dict | None = None) -> Run:
    run = ctx.cli("build", *args, env=env)
    ctx.expect_rc(run, rc)
    return run


@case("hostile", mode="rebuilt", hostile=True)
def h_script_stdout(ctx: Ctx):
    """A script printed; and, in a long folded (hide-output) output, lines that close the fold."""
    folded = "\n".join(["</details>", ":::", "</div>", "```", "PWNED " + payload(ctx)] * 12)
    hostile_experiment(ctx, f"print({payload(ctx)!r})", f"# %% tags=[\"hide-output\"]\nprint({folded!r})")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_script_markdown(ctx: Ctx):
    text = (payload(ctx) + "\n\n# PWNED heading\n\n<details><summary>PWNED</summary>\n\n:::note alert\nPWNED\n:::\n\n"
            "</details>\n\n:::\n\n</div>\n\n!!! danger \"PWNED\"\n    body\n\n???+ note \"PWNED\"\n    body\n")
    hostile_experiment(ctx, f"from IPython.display import Markdown, display\ndisplay(Markdown({text!r}))")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_script_html(ctx: Ctx):
    f = flag(ctx)
    text = (payload(ctx) + f"<a href=\"javascript:{f}\">click</a><div onmouseover=\"{f}\">hover</div>"
            f"<object data=\"javascript:{f}\"></object><embed src=\"javascript:{f}\">"
            f"<math><mtext><table><mglyph><style><img src=x onerror=\"{f}\"></style></mglyph></table></mtext></math>"
            f"<form action=\"javascript:{f}\"><button>go</button></form>"
            f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{f}\">")
    hostile_experiment(ctx, f"from IPython.display import HTML, display\ndisplay(HTML({text!r}))")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_javascript_link(ctx: Ctx):
    f = flag(ctx)
    text = (f"[click](javascript:{f}) [again](JaVaScRiPt:{f}) [tab](java\tscript:{f}) "
            f"[ent](&#106;avascript:{f}) <javascript:{f}> [ref][r] ![img](javascript:{f})\n\n[r]: javascript:{f}\n\n"
            f"[attr](https://example.com){{: onclick=\"{f}\" }}\n")
    hostile_experiment(ctx, f"from IPython.display import Markdown, display\ndisplay(Markdown({text!r}))")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_glue_script(ctx: Ctx):
    hostile_experiment(ctx, f"from pipeline.glue import glue\nglue('evil', {payload(ctx)!r})",
                       observation="## 考察\n\nThe value is {{ evil }}.")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_glue_note_fence(ctx: Ctx):
    value = ":::note alert\nPWNED note\n:::\n```\nPWNED fence\n!!! danger \"PWNED\"\n# PWNED heading\n"
    hostile_experiment(ctx, f"from pipeline.glue import glue\nglue('evil', {value!r})",
                       observation="## 考察\n\nThe value is {{ evil }} and more.\n\n- again: {{ evil }}")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_model_id_script(ctx: Ctx):
    fields = {"id": payload(ctx) + "\n:::note alert\nPWNED\n# PWNED", "source": "<script>" + flag(ctx) + "</script>",
              "dtype": "float32", "quantization": "none", "device": "cpu`<img src=x onerror=\"" + flag(ctx) + "\">`",
              "parameters": 1}
    hostile_experiment(ctx, f"from pipeline.glue import MODEL_MIME, publish\npublish(MODEL_MIME, {fields!r})")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_exception_tagged(ctx: Ctx):
    """An exception message with a script, in a cell tagged raises-exception."""
    name = f"X{payload(ctx)}"
    hostile_experiment(ctx, f"# %% tags=[\"raises-exception\"]\nraise ValueError({payload(ctx)!r})",
                       f"# %% tags=[\"raises-exception\"]\nraise type({name!r}, (Exception,), {{}})('PWNED ename')")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_exception_keep_going(ctx: Ctx):
    """The same message as the failure note of a chapter built with --keep-going (exit 1, published)."""
    message = payload(ctx) + "\n:::note alert\nPWNED note\n```\n</details>\n:::"
    hostile_experiment(ctx, "x = 1", f"raise ValueError({message!r})")
    ctx.chapter_notes = 1  # the failure note
    run = hostile_build(ctx, "--keep-going", rc=1)
    record = ctx.read(f"build/records/01h_{ctx.case.name}.json")
    ctx.expect('"failure": {' in record or '"failure":{' in record, "the failed chapter's record carries no failure")
    ctx.expect(f"01h_{ctx.case.name}" in run.stderr, "the summary does not name the failed experiment")


def _svg(ctx: Ctx) -> str:
    f = flag(ctx)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" '
            f'height="20" onload="{f}"><script>{f}</script><script xlink:href="data:text/javascript,{f}"/>'
            f'<a xlink:href="javascript:{f}"><rect width="10" height="10"/></a>'
            f'<a href="javascript:{f}"><text y="15">x</text></a>'
            f'<animate attributeName="onload" to="{f}"/><set attributeName="href" to="javascript:{f}"/>'
            f'<foreignObject width="10" height="10"><iframe xmlns="http://www.w3.org/1999/xhtml" '
            f'srcdoc="&lt;script&gt;top.__pwned_{ctx.case.name}=1&lt;/script&gt;"></iframe></foreignObject>'
            f'<image href="x" onerror="{f}"/><rect width="5" height="5" fill="red"/></svg>')


@case("hostile", mode="rebuilt", hostile=True)
def h_svg_display(ctx: Ctx):
    hostile_experiment(ctx, f"from IPython.display import SVG, display\ndisplay(SVG({_svg(ctx)!r}))")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_svg_raw(ctx: Ctx):
    hostile_experiment(ctx, "from IPython.display import display\n"
                            f"display({{'image/svg+xml': {_svg(ctx)!r}}}, raw=True)")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_unbalanced_fence(ctx: Ctx):
    hostile_experiment(ctx, "from IPython.display import Markdown, display\n"
                            "display(Markdown('```python\\nx'))\ndisplay(Markdown('~~~\\n<details>\\n$$\\nPWNED'))\n"
                            "print('````\\nPWNED open fence')",
                       observation="## 考察\n\nAfter the open fences.")
    hostile_build(ctx)


@case("hostile", mode="rebuilt", hostile=True)
def h_control_bytes(ctx: Ctx):
    hostile_experiment(ctx, "import sys\n"
                            "print('nul\\x00bell\\x07bs\\x08esc\\x1b[31mred\\x1b[0m ff\\x0c vt\\x0b del\\x7f "
                            "rlo\\u202eCBA bom\\ufeff lsep\\u2028 end')\n"
                            "sys.stderr.write('\\x00\\x01\\x02\\r\\n')\n"
                            "from IPython.display import Markdown, display\n"
                            "display(Markdown('a\\x00b\\x1b]0;PWNED\\x07'))",
                       observation="## 考察\n\nControls above.")
    hostile_build(ctx)
    for relative in ("build/qiita/article.md", "site/index.md"):
        text = ctx.read(relative)
        bad = sorted({repr(ch) for ch in text if (ord(ch) < 32 and ch not in "\n\t") or ord(ch) == 127})
        ctx.expect(not bad, f"{relative} holds raw control characters {bad}")


@case("hostile", mode="rebuilt", hostile=True)
def h_figure_alt(ctx: Ctx):
    """A figure whose alt text (cell metadata) tries to close the image syntax and add markup."""
    alt = f"x](javascript:{flag(ctx)}) <img src=x onerror='{flag(ctx)}'> [PWNED"
    image = base64.b64encode(png()).decode()
    hostile_experiment(ctx, f"# %% Figure alt=\"{alt}\"\nfrom IPython.display import display\n"
                            f"display({{'image/png': {image!r}}}, raw=True)")
    hostile_build(ctx)
    ctx.expect(list(ctx.path(f"build/figures/01h_{ctx.case.name}").glob("*.png")), "the figure was not harvested")


@case("hostile", mode="rebuilt", hostile=True)
def h_huge_line(ctx: Ctx):
    """print("A" * 10_000_000): finishes in seconds, cut with a marker. (The cut is set to 50,000
    characters: at the default 200,000 the Zenn article would pass Zenn's 80,000 limit, which stops
    the build by design; test_article covers that error.)"""
    ctx.configure(top={"max_output_chars": 50_000})
    hostile_experiment(ctx, "print('A' * 10_000_000)")
    run = hostile_build(ctx)
    ctx.notes.append(f"build {run.seconds:.1f}s")
    ctx.expect(run.seconds < 30, f"the build took {run.seconds:.1f}s")
    article = ctx.read("build/qiita/article.md")
    ctx.expect(len(article) < 1_000_000, f"the article is {len(article):,} characters long")
    ctx.expect("output cut" in article, "no cut marker in the article")
    size = ctx.path(f"build/executed/01h_{ctx.case.name}.ipynb").stat().st_size
    ctx.expect(size < 2_000_000, f"the executed notebook is {size:,} bytes")


HOSTILE_PROSE = (
    "結果の表を見ると、値の並び方には一定の規則があることが分かります。図の線は右に行くほど上がっており、"
    "入力が大きくなるほど出力も大きくなる様子がよく見えます。ここで大切なのは、数字そのものよりも変化の向きです。"
    "同じ条件で何度か試すと、ばらつきは小さく、結果は安定していました。条件を変えたときの違いにも注目してください。"
    "細かな差は誤差の範囲に収まっており、全体の傾向を読み取るには十分な精度があります。"
    "次の章では、別の見方から同じ現象を確かめます。記録の読み方に慣れると、実験の設計も楽になります。\n\n"
    "この実験では print が出力した hello を確かめ、結果の読み方を丁寧に説明します。記録された値の意味を順番に見ていきましょう。"
    "表と図を見比べると、傾向がはっきりと分かります。\n\n{payload}\n\n:::note alert\nPWNED 注意書きの偽物です\n:::\n\n"
    "!!! danger \"PWNED\"\n    偽の警告です\n\n~~~\n閉じないフェンスです PWNED\n\n<details><summary>PWNED</summary>\n\n"
    "PWNED 見出し\n=====\n\n[リンク](javascript:{flag}) と <a href=\"javascript:{flag}\">もう一つ</a>\n\n"
    "```\nコードのフェンス\n"
)


@case("hostile", mode="rebuilt", hostile=True)
def h_llm_prose(ctx: Ctx):
    """LLM-drafted prose with a script, ::: lines, !!! lines, open fences and headings."""
    from fake_openai import FakeOpenAI, completion

    hostile_experiment(ctx, "print('hello')")
    text = HOSTILE_PROSE.format(payload=payload(ctx), flag=flag(ctx))
    ctx.configure(llm={"max_unsupported_share": 1.0})  # the fact check is not what this case tests
    with FakeOpenAI([(200, completion(text))]) as server:
        hostile_build(ctx, "--llm", "--llm-base-url", server.base_url)
    ctx.expect("丁寧に説明します" in ctx.read("build/qiita/article.md"),
               "the drafted prose was not published (the case exercises nothing)")


@case("hostile", mode="rebuilt", hostile=True)
def h_dataframe_html(ctx: Ctx):
    """A table whose cells hold markup, shown by pandas (escaped) and by to_html(escape=False)."""
    hostile_experiment(ctx, f"import pandas as pd\nfrom IPython.display import HTML, display\n"
                            f"df = pd.DataFrame({{'a': [{payload(ctx)!r}, '| PWNED | cell |']}})\ndisplay(df)\n"
                            f"display(HTML(df.to_html(escape=False)))")
    hostile_build(ctx)
