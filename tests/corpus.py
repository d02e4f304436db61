"""A small corpus of realistic notebooks, written by the tests: what users bring.

- ``01.01-NumPy-Tutorial.ipynb``: a tutorial-style narrative (dotted name) with H1-H3
  headings, many small code cells, a DataFrame, a plot, a link to a sibling notebook and
  to a missing one, a relative image, an empty markdown cell, an empty code cell, a
  skip-execution cell and one observation marked with the ``observation`` tag;
- ``01.02-Plotting-on-Colab.ipynb``: outputs computed on "another machine" (a PNG, a
  stream, an execute_result), published as stored (``execution_excludes``);
- ``02_script.py``: a Jupytext script with a coding header (as jupytext writes for
  notebooks with non-ASCII text), glue values cited in a 考察 cell.
"""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import nbformat
from helpers import png

TUTORIAL = [
    ("markdown", "# NumPy Tutorial\n\nThis notebook walks through **NumPy** arrays.\nIt is written like a tutorial."),
    ("markdown", "## Creating arrays\n\nWe start with `np.arange`:"),
    ("code", "import numpy as np\nimport pandas as pd"),
    ("code", "x = np.arange(6)\nx"),
    ("code", "x.shape"),
    ("markdown", "### Shapes\n\nReshaping keeps the data. See [the plotting notebook](01.02-Plotting-on-Colab.ipynb) "
                 "and [a missing one](99-Missing.ipynb). The [Japanese script](02_script.py#考察) comes last."),
    ("code", "x.reshape(2, 3)"),
    ("markdown", ""),
    ("code", ""),
    ("markdown", "## Tables and plots\n\n![A diagram of the array](images/diagram.png)"),
    ("code", "pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})"),
    ("code", "import matplotlib.pyplot as plt\nplt.plot(x, x ** 2)\nplt.show()"),
    ("code", "while True:\n    pass", {"tags": ["skip-execution"]}),
    ("markdown", "Squares grow fast: the last value is 25.", {"tags": ["observation"]}),
]

SCRIPT = '''\
# -*- coding: utf-8 -*-
# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 日本語のスクリプト
#
# 平均を計算する。
# 二行に分けて書いた。

# %% Mean
from pipeline.glue import glue
values = [1, 2, 3, 4]
mean = sum(values) / len(values)
print(mean)
glue("mean", mean)

# %% [markdown]
# ## 考察
#
# 平均は {{ mean }} だった。
'''


def _cell(kind: str, source: str, metadata: dict | None = None):
    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    return make(source, metadata=metadata or {})


def stored_notebook() -> nbformat.NotebookNode:
    """A notebook executed elsewhere: its outputs, kernel and timing metadata are all it has."""
    image = base64.b64encode(png(12, 8)).decode()
    cells = [
        _cell("markdown", "# Plotting on Colab\n\nThis ran on a GPU machine."),
        nbformat.v4.new_code_cell("import torch\nprint(torch.cuda.get_device_name(0))", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="Tesla T4\n")], execution_count=1),
        nbformat.v4.new_code_cell("plot_on_gpu()", outputs=[
            nbformat.v4.new_output("display_data", data={"image/png": image, "text/plain": "<Figure size 640x480>"})],
            execution_count=2),
        nbformat.v4.new_code_cell("1 + 1", outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3)], execution_count=3),
    ]
    for i, cell in enumerate(cells[1:]):
        cell.metadata["execution"] = {"iopub.execute_input": f"2025-03-01T10:0{i}:00.000Z",
                                      "iopub.status.idle": f"2025-03-01T10:0{i}:05.000Z"}
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3 (Colab)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "version": "3.10.12"},
    })


def write_corpus(root: Path) -> Path:
    """A project in *root* with the corpus and the repository's templates and mkdocs.yml."""
    import shutil

    from conftest import REPO

    experiments = root / "experiments"
    (experiments / "images").mkdir(parents=True)
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    (experiments / "images" / "diagram.png").write_bytes(png(30, 20))
    tutorial = nbformat.v4.new_notebook(cells=[_cell(*spec) for spec in TUTORIAL])
    nbformat.write(tutorial, str(experiments / "01.01-NumPy-Tutorial.ipynb"))
    nbformat.write(stored_notebook(), str(experiments / "01.02-Plotting-on-Colab.ipynb"))
    (experiments / "02_script.py").write_text(SCRIPT, encoding="utf-8")
    (root / "pyproject.toml").write_text(textwrap.dedent('''\
        [tool.pipeline]
        cell_timeout = 120
        execution_excludes = ["*-on-Colab.ipynb"]
        [tool.pipeline.article]
        title = "チュートリアルを記事にする"
        tags = ["Python", "NumPy"]
        slug = "tutorial-corpus-article"
        '''), encoding="utf-8")
    return root
