"""Alert boxes as each platform renders them, looked at in a real browser (issue 17).

One tiny experiment, built by the real pipeline on a real kernel, holds the four Jupyter alert
divs, the five GitHub alerts, a ``<details>`` block and a plain ``<div>``, each with bold text:

- MkDocs: the real ``mkdocs build --strict`` (Material), the page in chromium: each box is an
  admonition of its type, styled by the theme, its Markdown rendered.
- Zenn: the exported article rendered by zenn-markdown-html, Zenn's own renderer, and styled by
  zenn-content-css (both from .setup/npm, installed by ``.setup/install test``), in chromium:
  each box is Zenn's message (``aside.msg``), ``alert`` for danger and caution.
- Qiita: no renderer of Qiita's runs offline (qiita-markdown and its qiita_marker parser are Ruby
  gems; qiita-cli's preview asks Qiita's web API), so its Markdown is checked for structure only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import CHROMIUM, REPO
from helpers import served
from markdown_it import MarkdownIt

from pipeline.markdown.dialects import check_qiita
from pipeline.markdown.scanner import scan

NPM = REPO / ".setup" / "npm"
RENDER_ZENN = REPO / "tests" / "js" / "render_zenn.mjs"
ZENN_CSS = NPM / "node_modules" / "zenn-content-css" / "lib" / "index.css"
SLUG = "boxes-in-the-browser"

EXPERIMENT = '''
# %% [markdown]
# # 箱の実験
#
# 前文。
#
# <div class="alert alert-info">
# **info の箱** です。
# </div>
#
# <div class="alert alert-success">
# **success の箱** です。
# </div>
#
# <div class="alert alert-block alert-warning">
# **warning の箱** です。
# </div>
#
# <div class="alert alert-danger">
# **danger の箱** です。
# </div>

# %%
print("ok")

# %% [markdown]
# > [!NOTE]
# > **NOTE の箱** です。
#
# > [!TIP]
# > **TIP の箱** です。
#
# > [!IMPORTANT]
# > **IMPORTANT の箱** です。
#
# > [!WARNING]
# > **WARNING の箱** です。
#
# > [!CAUTION]
# > **CAUTION の箱** です。
#
# <details><summary>詳細</summary>
#
# - **details の中** です。
# </details>
#
# <div>
# **div の中** です。
# </div>
#
# 後文。
'''

#: (the box's bold text, MkDocs admonition type, Zenn message kind, Qiita note line), in order
BOXES = [
    ("info の箱", "note", "message", ":::note info"),
    ("success の箱", "success", "message", ":::note info"),
    ("warning の箱", "warning", "message", ":::note warn"),
    ("danger の箱", "danger", "alert", ":::note alert"),
    ("NOTE の箱", "note", "message", ":::note info"),
    ("TIP の箱", "tip", "message", ":::note info"),
    ("IMPORTANT の箱", "info", "message", ":::note info"),
    ("WARNING の箱", "warning", "message", ":::note warn"),
    ("CAUTION の箱", "danger", "alert", ":::note alert"),
]
MARKERS = [box[0] for box in BOXES]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The experiment built by the real pipeline (kernel, harvest, render, export): the project."""
    from pipeline.build import build
    from pipeline.config import load_config
    from pipeline.progress import Progress

    root = tmp_path_factory.mktemp("boxes") / "project"
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    (root / "experiments").mkdir()
    (root / "experiments" / "01_boxes.py").write_text(EXPERIMENT.lstrip("\n"), encoding="utf-8")
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [tool.pipeline]
        cell_timeout = 60
        experiment_timeout = 120

        [tool.pipeline.article]
        title = "箱のテスト"
        tags = ["Python"]
        slug = "{SLUG}"
        """), encoding="utf-8")
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as env:  # the autouse isolation is per test; this runs before it
        env.setenv("HOME", str(home))
        env.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        env.setenv("JUPYTER_PLATFORM_DIRS", "1")
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PIPELINE_DEBUG"):
            env.delenv(name, raising=False)
        result = build(load_config(root), progress=Progress(quiet=True, live=False))
    assert result.outcomes == {"01_boxes": "executed"}
    return root


def _look(folder: Path, path: str, probe: str) -> dict:
    """Serve *folder* on a local port, open *path* in chromium (no other host reachable) and
    return what the JavaScript function *probe* returns, with ``requests``: every URL the page asked for."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with served(folder) as origin, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--proxy-server=http://127.0.0.1:9"])  # any host but loopback fails
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(origin)
                       else route.abort())
            page.on("request", lambda request: requests.append(request.url))
            response = page.goto(origin + path, wait_until="load")
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
            seen = page.evaluate(probe)
        finally:
            browser.close()
    return {**seen, "requests": requests}


#: every box in the page: [tag, class, [bold texts], background colour, left border colour, visible]
_BOXES_PROBE = """(selector) => (root => Array.from(root.querySelectorAll(selector), box => {
  const style = getComputedStyle(box);
  return [box.tagName.toLowerCase(), box.className, Array.from(box.querySelectorAll('strong'), s => s.textContent.trim()),
          style.backgroundColor, style.borderLeftColor, box.getBoundingClientRect().height > 0];
}))"""


def _probe(root: str, selector: str) -> str:
    return (f"() => {{ const root = document.querySelector({json.dumps(root)}); "
            f"return {{boxes: ({_BOXES_PROBE})({json.dumps(selector)})(root), text: root.innerText, "
            f"strong: Array.from(root.querySelectorAll('strong'), s => s.textContent.trim())}}; }}")


def _ours(boxes: list, markers: list[str]) -> list:
    """The boxes that hold one of our bold texts, in page order."""
    return [box for box in boxes if set(box[2]) & set(markers)]


@pytest.mark.requires("chromium")
def test_mkdocs_admonitions_in_the_browser(built):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=built, capture_output=True,
                            text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    seen = _look(built / "build" / "html", "", _probe("article", ".admonition, details"))
    boxes = _ours(seen["boxes"], [*MARKERS, "details の中"])
    assert [(tag, cls, strong) for tag, cls, strong, *_ in boxes] == [
        *[("div", f"admonition {kind}", [marker]) for marker, kind, _, _ in BOXES],
        ("details", "note", ["details の中"])]
    assert all(visible for *_, visible in boxes)
    # Material styles each type in its own colour: danger is not drawn as a note
    border = {cls: colour for _, cls, _, _, colour, _ in boxes}
    assert len({border["admonition note"], border["admonition warning"], border["admonition danger"],
                border["admonition success"], border["admonition tip"]}) == 5, border
    assert "div の中" in seen["strong"] and "詳細" in seen["text"]
    for raw in ("**", ":::", "!!!", "???", "[!NOTE]", "&lt;", "<div", "<details"):
        assert raw not in seen["text"], raw
    assert seen["requests"] and all(url.startswith("http://127.0.0.1:") for url in seen["requests"])


def _zenn_renderer_problem() -> str | None:
    if shutil.which("node") is None:
        return "the Zenn browser test needs Node.js (apt-get install nodejs npm), then `.setup/install test`"
    for path in (NPM / "node_modules" / "zenn-markdown-html" / "package.json", ZENN_CSS):
        if not path.is_file():
            return f"{path.relative_to(REPO)} is missing: run `.setup/install test` (it runs npm ci in .setup/npm)"
    return None


def render_zenn(markdown: str, folder: Path) -> str:
    """*markdown* rendered to HTML by zenn-markdown-html (through tests/js/render_zenn.mjs)."""
    source = folder / "body.md"
    source.write_text(markdown, encoding="utf-8")
    done = subprocess.run(["node", str(RENDER_ZENN), str(source)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def zenn_body(article: str) -> str:
    """The article after its front matter, as zenn-cli hands it to the renderer."""
    match = re.match(r"---\n.*?\n---\n", article, re.S)
    assert match, "the Zenn article has no front matter"
    return article[match.end():]


def test_the_zenn_renderer_is_installed():
    """Not a skip: CI runs `.setup/install test` first, and so should anyone running the tests."""
    problem = _zenn_renderer_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    installed = json.loads((NPM / "node_modules" / "zenn-markdown-html" / "package.json").read_text(encoding="utf-8"))
    wanted = json.loads((NPM / "package.json").read_text(encoding="utf-8"))["dependencies"]["zenn-markdown-html"]
    assert installed["version"] == wanted, "an older .setup/npm install: run `.setup/install test`"


@pytest.mark.requires("chromium")
def test_zenn_messages_in_the_browser(built, tmp_path):
    problem = _zenn_renderer_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    article = (built / "build" / "zenn" / "articles" / f"{SLUG}.md").read_text(encoding="utf-8")
    html = render_zenn(zenn_body(article), tmp_path)
    page = tmp_path / "page"
    page.mkdir()
    shutil.copy(ZENN_CSS, page / "zenn-content.css")
    (page / "index.html").write_text(
        '<!doctype html><html lang="ja"><meta charset="utf-8"><title>zenn</title>'
        '<link rel="stylesheet" href="zenn-content.css"><body><div class="znc">' + html + "</div></body></html>",
        encoding="utf-8")
    seen = _look(page, "index.html", _probe(".znc", "aside, details"))
    boxes = _ours(seen["boxes"], [*MARKERS, "details の中"])
    assert [(tag, cls, strong) for tag, cls, strong, *_ in boxes] == [
        *[("aside", f"msg {kind}", [marker]) for marker, _, kind, _ in BOXES], ("details", "", ["details の中"])]
    assert all(visible for *_, visible in boxes)
    # zenn-content-css draws a message and an alert in two colours, neither transparent
    background = {cls: colour for _, cls, _, colour, _, _ in boxes if cls.startswith("msg")}
    assert len(set(background.values())) == 2 and "rgba(0, 0, 0, 0)" not in background.values(), background
    assert "div の中" in seen["strong"] and "詳細" in seen["text"]
    for raw in ("**", ":::", "[!NOTE]", "<div", "&lt;", "<details"):
        assert raw not in seen["text"], raw
    assert all(url.startswith("http://127.0.0.1:") for url in seen["requests"])


def test_qiita_notes_stand_apart(built):
    """Qiita's note blocks, by structure: each ``:::note KIND`` line and its closing ``:::`` stand
    outside code with blank lines around them, in the order of the boxes; the details block has
    blank lines inside so that CommonMark (Qiita's parser is cmark-gfm) renders its Markdown."""
    article = (built / "build" / "qiita" / "article.md").read_text(encoding="utf-8")
    assert check_qiita(article) == []
    lines = scan(article)
    notes = []
    for i, line in enumerate(lines):
        if line.code or not line.text.startswith(":::note "):
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].text == ":::")
        assert i == 0 or not lines[i - 1].text.strip(), f"no blank line before line {i + 1}: {line.text}"
        assert end + 1 == len(lines) or not lines[end + 1].text.strip(), f"no blank line after line {end + 1}"
        assert not any(lines[k].code or lines[k].text.startswith(":::") for k in range(i + 1, end))
        notes.append((line.text, "\n".join(lines[k].text for k in range(i + 1, end))))
    ours = [(opening, body) for opening, body in notes if any(f"**{marker}**" in body for marker in MARKERS)]
    assert ours == [(opening, f"**{marker}** です。") for marker, _, _, opening in BOXES]
    assert "<details><summary>詳細</summary>\n\n- **details の中** です。\n\n</details>" in article
    assert "\n\n<div>\n\n**div の中** です。\n\n</div>\n\n" in article
    html = MarkdownIt("commonmark", {"html": True}).render(article)
    assert "<li><strong>details の中</strong> です。</li>" in html and "<p><strong>div の中</strong> です。</p>" in html
    assert "**" not in re.sub(r"<code>.*?</code>|<pre>.*?</pre>", "", html, flags=re.S)
