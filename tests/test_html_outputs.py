"""HTML outputs (``display(HTML(...))``, a pandas Styler): shown on all three platforms through the
sanitizer; an HTML output with nothing to show (a script, a widget) is one warning naming its cell;
what showed before (DataFrames as tables, ``display(Markdown(...))``, stored DataFrames' text) is
unchanged. Real kernels; the outputs read with markdown-it as Qiita would."""

from __future__ import annotations

import re

import nbformat
import pytest
from markdown_it import MarkdownIt

from pipeline.build import build
from pipeline.markdown.html_output import html_markdown

HTML_EXPERIMENT = '''
# %% [markdown]
# # HTML の出力

# %%
import pandas as pd
from IPython.display import HTML, Markdown, display
pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})

# %%
display(HTML('<div style="text-align:center"><b>決定係数</b>: 0.81</div>'))

# %%
display(Markdown("**平均** 0.82"))

# %%
display(HTML("<p>*not emphasis* costs $5 and $6</p><h2># not a heading</h2>"))

# %%
display(HTML('<img src=x onerror="alert(1)"><a href="javascript:alert(2)">click</a> <script>alert(3)</script>'
             '<style>p {color: red}</style><my-widget>kept text</my-widget>'))

# %%
display(HTML("<script>alert(4)</script>"))
display(HTML('<div id="plot"></div><script src="https://cdn.example/plot.js"></script>'))

# %%
pd.DataFrame({"model": ["tree", "knn"], "acc": [0.933, 0.947]}).style
'''


def _stored(path):
    """A notebook run elsewhere (Colab): a DataFrame (text and HTML) and a display(HTML(...))."""
    cell = nbformat.v4.new_code_cell("df\nHTML('<b>stored</b> 0.84')", execution_count=1, outputs=[
        nbformat.v4.new_output("execute_result", data={
            "text/plain": "   a\n0  7\n1  8", "text/html": "<table><tr><td>7</td></tr></table>"}, execution_count=1),
        nbformat.v4.new_output("display_data", data={
            "text/plain": "<IPython.core.display.HTML object>", "text/html": "<b>stored</b> 0.84"})])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Stored"), cell], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from conftest import Project

    from pipeline.progress import Progress

    project = Project(tmp_path_factory.mktemp("html") / "proj")
    project.add("01_html", HTML_EXPERIMENT)
    _stored(project.root / "experiments" / "02_stored.ipynb")
    project.write_config('execution_excludes = ["02_stored.ipynb"]\n')
    progress = Progress(quiet=True, live=False)
    summary = build(project.config(), progress=progress)
    texts = {"qiita": summary.exports.article.read_text(encoding="utf-8"),
             "zenn": summary.exports.zenn.read_text(encoding="utf-8"),
             "mkdocs": summary.exports.site_page.read_text(encoding="utf-8")}
    return texts, progress


@pytest.mark.parametrize("dialect", ["qiita", "zenn", "mkdocs"])
def test_an_html_output_is_shown_sanitized(built, dialect):
    texts, _ = built
    text = texts[dialect]
    page = MarkdownIt("commonmark", {"html": True}).render(text)
    visible = re.sub(r"<[^>]+>", "", page)
    assert "決定係数: 0.81" in visible and "stored 0.84" in visible
    assert "*not emphasis* costs $5 and $6" in visible and "<em>not emphasis" not in page
    assert "# not a heading" in visible and "<h2># not" not in page
    assert "kept text" in visible and "click" in visible
    prose = "".join(text.split("```")[::2])  # outside the code blocks
    for bad in ("onerror", "javascript:", "<script", "alert(", "color: red", "my-widget", "plot.js"):
        assert bad not in prose, bad
    if dialect == "qiita":
        assert '<div align="center">' in text and "<b>決定係数</b>: 0.81" in text
        assert "<td>tree</td>" in text and "<td>0.933000</td>" in text  # the Styler's table
    if dialect == "zenn":  # no HTML there: the table is a Markdown table
        assert "| 0 | tree | 0.933000 |" in text and "<td>" not in text


@pytest.mark.parametrize("dialect", ["qiita", "zenn", "mkdocs"])
def test_what_showed_before_is_unchanged(built, dialect):
    texts, _ = built
    text = texts[dialect]
    assert "| 0 | 1 | 0.5 |" in text  # a DataFrame run here: the Markdown table
    assert "**平均** 0.82" in text  # display(Markdown(...))
    assert "   a\n0  7\n1  8" in text and "<td>7</td>" not in text  # a stored DataFrame: its text


def test_an_html_output_with_nothing_to_show_is_one_warning_naming_its_cell(built):
    _, progress = built
    hidden = [w for w in progress.warnings if "HTML output" in w]
    assert hidden == [hidden[0]] and "01_html.py, cell 7" in hidden[0] and "script" in hidden[0], progress.warnings


@pytest.mark.parametrize("html, markdown, text", [
    ('<div style="text-align:center"><b>R2</b>: 0.81</div>', '<div style="text-align:center"><b>R2</b>: 0.81</div>',
     "R2: 0.81"),
    ("<img src='images/local.png' alt='a local file'>", "a local file", "a local file"),
    ("<script>x()</script><style>p{}</style>", "", ""),
    ("<iframe src='https://example.com'>fallback</iframe>", "", ""),
    ("<img src='data:image/png;base64,AAAA'>", "", ""),
    ("<img src='https://example.com/a.png' alt=''>", '<img src="https://example.com/a.png" alt="">', ""),
    ("<p>1. not a list</p><p>- nor this</p>", "<p>1. not a list</p>\n<p>- nor this</p>",
     "1. not a list\n- nor this"),
    ("<h3>Title</h3><x-el>kept</x-el>", "<b>Title</b>\nkept", "Title\nkept"),
    ("<div>1. a list in a div</div><figure>- b</figure>", "<div>&#49;. a list in a div</div>\n<figure>&#45; b</figure>",
     "1. a list in a div\n- b"),
    ("<table><tr><th>model</th><th>r</th></tr><tr><td>tree</td><td>-0.355</td></tr></table>",
     "<table>\n<tr><th>model</th> <th>r</th></tr>\n<tr><td>tree</td> <td>-0.355</td></tr>\n</table>",
     "model r\ntree -0.355"),
    ("<pre>a  b\n\n  c &lt;d&gt;</pre>", "<pre>a  b\n\n  c &lt;d&gt;</pre>", "a b\nc <d>"),
    ("a_b snake_case _edge_ `x` [y] | ~z~ \\", "a_b snake_case &#95;edge&#95; &#96;x&#96; &#91;y&#93; &#124; "
     "&#126;z&#126; &#92;", "a_b snake_case _edge_ `x` [y] | ~z~ \\"),
])
def test_html_markdown(html, markdown, text):
    assert html_markdown(html) == (markdown, text)


def test_a_long_html_output_is_cut_with_a_note():
    """A styled table of a whole data set stays an article's size: its first rows, then how many
    more (Zenn refuses an article over 80,000 characters)."""
    from pipeline.markdown.html_output import MAX_CHARS, MAX_ROWS

    rows = "".join(f"<tr><td>{i}</td><td>{i / 7:.3f}</td></tr>" for i in range(500))
    markdown, text = html_markdown(f"<table><tr><th>i</th><th>v</th></tr>{rows}</table><p>after</p>")
    assert markdown.count("<tr>") == MAX_ROWS and "(481 more rows; the full output is in build/executed/)" in markdown
    assert markdown.endswith("<p>after</p>") and "after" in text and "499" not in text
    markdown, _ = html_markdown("<div>" + "<p>many words</p>" * 10_000 + "</div>")
    assert len(markdown) < MAX_CHARS + 200 and markdown.endswith("(the rest of this output is in build/executed/)")
