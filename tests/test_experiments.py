"""Reading experiments: percent scripts and notebooks, discovery, order, line ranges, parameters."""

import nbformat
import pytest

from pipeline.errors import ExperimentFormatError, ExperimentNotFound
from pipeline.experiments import discover

SCRIPT = """# ---
# jupyter:
#   pipeline:
#     data: []
# ---

# %% [markdown]
# # Title here
# text

# %% Load things
import os


# %% tags=["parameters"]
n = 1
name = "x"
"""


def _lines(project, name, text):
    project.add(name, text)
    [exp] = discover(project.config(), [name])
    return [c.metadata["pipeline"]["lines"] for c in exp.notebook.cells]


def test_line_ranges_come_from_jupytext_and_skip_header_and_trailing_blanks(project):
    assert _lines(project, "01_s", SCRIPT) == [[7, 9], [11, 12], [15, 17]]


def test_text_before_the_first_marker_is_its_own_cell(project):
    assert _lines(project, "01_t", "import os\n\n# %%\nx = 1\n") == [[1, 1], [3, 4]]


def test_a_coding_header_keeps_line_ranges(project):
    """jupytext writes `# -*- coding: utf-8 -*-` first for notebooks with non-ASCII text."""
    text = "# -*- coding: utf-8 -*-\n" + SCRIPT
    assert _lines(project, "01_c", text) == [[8, 10], [12, 13], [16, 18]]


def test_notebooks_and_dotted_names_are_experiments_and_other_files_are_reported(project, quiet):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# ノート\n本文"),
                                         nbformat.v4.new_code_cell("print(1)")])
    nbformat.write(nb, str(project.root / "experiments" / "04.01-Simple-Line-Plots.ipynb"))
    project.add("02_script", "# %%\nx = 1\n")
    (project.root / "experiments" / "notes.txt").write_text("not an experiment", encoding="utf-8")
    warnings = []
    found = discover(project.config(), warn=warnings.append)
    assert [e.name for e in found] == ["02_script", "04.01-Simple-Line-Plots"]
    assert found[1].title == "ノート" and found[1].notebook.cells[0].metadata["pipeline"]["lines"] is None
    assert len(warnings) == 1 and "experiments/notes.txt: not an experiment" in warnings[0]
    [picked] = discover(project.config(), ["04.01-Simple-Line-Plots"])
    assert picked.name == "04.01-Simple-Line-Plots"
    [picked] = discover(project.config(), ["04.01-Simple-Line-Plots.ipynb"])
    assert picked.path.suffix == ".ipynb"


def test_stored_outputs_by_config_or_notebook_metadata(project):
    for name, meta in (("01_colab", {}), ("02_gpu", {"pipeline": {"execute": False}}), ("03_here", {})):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")], metadata=meta)
        nbformat.write(nb, str(project.root / "experiments" / f"{name}.ipynb"))
    project.write_config('execution_excludes = ["*colab*"]\n')
    assert [(e.name, e.stored) for e in discover(project.config())] == [
        ("01_colab", True), ("02_gpu", True), ("03_here", False)]
    project.add("04_script", "# %%\nx = 1\n")
    project.write_config('execution_excludes = ["04_*"]\n')
    with pytest.raises(ExperimentFormatError, match="a script stores none"):
        discover(project.config())


def test_non_utf8_and_broken_notebooks_name_the_file(project):
    (project.root / "experiments" / "01_latin.py").write_bytes("# %%\nx = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(ExperimentFormatError, match=r"experiments/01_latin.py: not UTF-8 text"):
        discover(project.config())
    (project.root / "experiments" / "01_latin.py").unlink()
    (project.root / "experiments" / "02_broken.ipynb").write_text("{not json", encoding="utf-8")
    with pytest.raises(ExperimentFormatError, match=r"experiments/02_broken.ipynb: not a readable Jupyter notebook"):
        discover(project.config())


def test_discover_reads_title_parameters_and_ranges(project):
    project.add("01_one", SCRIPT)
    [exp] = discover(project.config())
    assert exp.title == "Title here"
    assert exp.parameters == {"n": 1, "name": "x"}
    assert [c.metadata["pipeline"]["lines"] for c in exp.notebook.cells] == [[7, 9], [11, 12], [15, 17]]
    assert repr(exp) == "Experiment('01_one', cells=3)"


def test_order_from_config_then_by_name(project):
    for name in ("01_a", "02_b", "03_c"):
        project.add(name, "# %%\nx = 1\n")
    project.write_config('order = ["03_c"]\n')
    assert [e.name for e in discover(project.config())] == ["03_c", "01_a", "02_b"]
    assert [e.name for e in discover(project.config(), ["02_b.py", "01_a"])] == ["01_a", "02_b"]


def test_unknown_name_lists_known_ones(project):
    project.add("01_a", "# %%\nx = 1\n")
    with pytest.raises(ExperimentNotFound, match="no experiment named 'nope'.*known: 01_a"):
        discover(project.config(), ["nope"])


def test_unknown_name_in_order_is_an_error(project):
    project.add("01_a", "# %%\nx = 1\n")
    project.write_config('order = ["zz"]\n')
    with pytest.raises(ExperimentNotFound, match="tool.pipeline.order names zz"):
        discover(project.config())


def test_script_without_markers_says_how_to_fix(project):
    project.add("01_plain", "print('no cells')\n")
    with pytest.raises(ExperimentFormatError, match=r"experiments/01_plain.py: no '# %%' cell markers"):
        discover(project.config())


def test_missing_data_file_names_it(project):
    project.add("01_d", "# ---\n# jupyter:\n#   pipeline:\n#     data: [missing.csv]\n# ---\n# %%\nx = 1\n")
    with pytest.raises(ExperimentFormatError, match="declared data file 'missing.csv' not found"):
        discover(project.config())


def test_pipeline_settings_outside_the_jupyter_key_are_an_error_not_ignored(project):
    project.add("01_h", "# ---\n# pipeline:\n#   data: [words.txt]\n# ---\n\n# %%\nx = 1\n")
    with pytest.raises(ExperimentFormatError, match=r"experiments/01_h.py: the header's 'pipeline:' settings would be "
                                                    r"ignored: .* under 'jupyter:'"):
        discover(project.config())
    project.add("01_h", "# ---\n# title: a front matter of another tool\n# ---\n\n# %%\nx = 1\n")
    assert discover(project.config())[0].notebook.cells[-1].source == "x = 1"


# ---------------------------------------------------------------------------
# sphinx-gallery examples (pipeline.gallery)
# ---------------------------------------------------------------------------

def _gallery(project, name):
    from wild import HERE

    project.add(name, (HERE / f"{name}.py").read_text(encoding="utf-8"))
    [exp] = discover(project.config(), [name])
    return exp


def test_a_gallery_script_reads_as_prose_and_code_with_its_title_and_lines(project):
    exp = _gallery(project, "plot_wine_classifiers")
    cells = exp.notebook.cells
    assert exp.title == "Comparing two classifiers on the wine set"
    assert [c.cell_type for c in cells] == ["markdown", "code", "markdown", "code", "markdown", "code"]
    assert [c.metadata["pipeline"]["lines"] for c in cells] == [[1, 9], [13, 21], [24, 36], [38, 40], [43, 59],
                                                                 [61, 67]]
    docstring, _, loading, _, models, last = (c.source for c in cells)
    assert docstring.startswith("# Comparing two classifiers on the wine set\n\nThis example trains")
    assert "a `LogisticRegression`, the second a `SVC` with" in docstring  # :class:`~...` as Sphinx shows it
    assert loading.startswith("## Loading the data\n\n") and "apart with `train_test_split()`:" in loading
    assert "- `X` holds 13 chemical measurements per wine;\n- `y` holds" in loading
    assert "See cross_validation for" in loading  # :ref: as plain text
    assert "```python\nX_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n```" in loading
    assert "$$\nk(x, x') = \\exp(-\\gamma \\|x - x'\\|^2)\n$$" in models and "$-\\sum_i \\log p(y_i \\mid x_i)$" in models
    assert "> [!NOTE]\n> Scaling matters" in models
    assert "[the RBF kernel](https://en.wikipedia.org/wiki/Radial_basis_function_kernel)" in models
    assert "sphinx_gallery" not in last and not any(c.source.lstrip().startswith("# %%") for c in cells)


def test_matplotlib_style_separators_directives_and_definition_lists(project):
    cells = _gallery(project, "plot_sine_styles").notebook.cells
    docstring, _, styles, _, options, _ = (c.source for c in cells)
    assert docstring.startswith("# Line styles on a sine wave\n\nDraws $\\sin(x)$") and "one `plot()` call" in docstring
    assert "*New in version 3.8: The examples below need nothing newer.*" in docstring
    assert styles.startswith("## Three styles") and '1. `"-"`, a solid line;\n2. `"--"`, dashes;' in styles
    assert '```python\nax.plot(x, y, linestyle="dashed")\n```' in styles  # code-block with Sphinx's :caption:
    assert "> [!NOTE]\n> **See also**\n>\n> linestyles and `matplotlib.pyplot.plot()`." in styles
    assert options.startswith("**linestyle**: The argument that picks the style.")
    assert "> **Tip**" in options and "minigallery" not in options


def test_percent_scripts_with_a_plain_docstring_stay_jupytext_scripts(project):
    text = '"""Train the model."""\n\n# %% [markdown]\n# # Training\n\n# %%\nx = 1\n'
    assert _lines(project, "01_plain", text) == [[1, 1], [3, 4], [6, 7]]
    titled = '"""\nTitle\n=====\n"""\n\n# %% [markdown]\n# # Real title\n\n# %%\nx = 1\n'
    project.add("02_titled", titled)
    [exp] = discover(project.config(), ["02_titled"])
    assert exp.title == "Real title"  # Jupytext markdown cells: not a gallery script


def test_gallery_math_blocks_are_typeset_as_sphinx_typesets_them():
    """Sphinx's math directive: lines broken with \\\\ are one aligned equation (Sphinx wraps them in
    split; left bare, MathJax and KaTeX stop at "Misplaced &"), and its options (:label:, :nowrap:)
    keep the equation instead of losing it."""
    from pipeline.gallery import rst_to_markdown

    [text] = rst_to_markdown(["Title\n=====\n\n.. math::\n\n   a &= b \\\\\n   &= c\n\n"
                              ".. math::\n   :label: eq-ridge\n\n   w = (X^T X)^{-1} X^T y\n\n"
                              ".. math::\n   :nowrap:\n\n   \\begin{eqnarray}\n   y & = & x\n   \\end{eqnarray}\n\n"
                              ".. math::\n\n   \\begin{aligned} p &= q \\\\ r &= s \\end{aligned}\n"])
    assert "$$\n\\begin{aligned}\na &= b \\\\\n&= c\n\\end{aligned}\n$$" in text
    assert "$$\nw = (X^T X)^{-1} X^T y\n$$" in text
    assert "$$\n\\begin{eqnarray}\ny & = & x\n\\end{eqnarray}\n$$" in text
    assert "$$\n\\begin{aligned} p &= q \\\\ r &= s \\end{aligned}\n$$" in text  # the author's own environment


def test_gallery_footnotes_and_citations_keep_their_text():
    """The References of an example (``.. [1] ...`` footnotes and citations) are shown where the
    author wrote them, with the label their references show."""
    from pipeline.gallery import rst_to_markdown

    [text] = rst_to_markdown(["Title\n=====\n\nRidge helps ill-conditioned matrices [1]_, see [Hoerl1970]_.\n\n"
                              ".. topic:: References\n\n   .. [1] Golub, G. and Van Loan, C. *Matrix Computations*.\n\n"
                              ".. [Hoerl1970] Hoerl, A. E. and Kennard, R. W. (1970).\n"])
    assert "matrices [1], see [Hoerl1970]." in text.replace("&#91;", "[").replace("&#93;", "]")
    body = text.replace("&#91;", "[").replace("&#93;", "]")
    assert "**References**\n\n[1] Golub, G. and Van Loan, C. *Matrix Computations*." in body
    assert body.endswith("[Hoerl1970] Hoerl, A. E. and Kennard, R. W. (1970).")


def test_a_reference_to_another_gallery_example_names_its_file():
    """sphinx-gallery's labels (``sphx_glr_<folders>_<file>.py``) are shown as the example's file
    name, which a reader can find, not as the label; other labels stay plain text."""
    from pipeline.gallery import rst_to_markdown

    [text] = rst_to_markdown(["Title\n=====\n\nSee :ref:`sphx_glr_auto_examples_linear_model_plot_ols.py`, "
                              ":ref:`the OLS example <sphx_glr_auto_examples_linear_model_plot_ols.py>` and "
                              ":ref:`cross_validation`.\n"])
    assert text.endswith("See `plot_ols.py`, the OLS example and cross_validation.")
