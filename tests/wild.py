"""Notebooks from the wild, round three: what course notebooks and gallery examples really do,
written by the tests (modelled on public material, not copied from it).

- ``01_data_handling.ipynb``: a Japanese course notebook (executed here): a header of Colab,
  shields.io and Binder badges (Markdown and HTML), a numbered H1 ("1. チュートリアル第一部
  「Data Handling」"), layout HTML (``<center>`` around an image, ``<p align>``, ``<font color>``,
  ``<span style>``, ``<div align>``), math as authors write it for Jupyter (``$$`` inside a
  sentence, a bare ``\\begin{align}``, ``$0<x<1$``) and a ``display(Markdown(...))`` output
  wrapped in ``<center>``;
- ``02_linear_regression.ipynb``: an English notebook with stored outputs only (published as
  stored), titled "Chapter 2: Fitting a line", with ``\\[ ... \\]`` in a sentence, a bare
  ``\\begin{equation}``, ``$$`` opened mid-line and closed lines later, ``<u>`` and a remote image
  centred with ``<div align>``;
- ``tests/wild/plot_wine_classifiers.py`` and ``plot_sine_styles.py``: sphinx-gallery examples in
  scikit-learn's and matplotlib's style (copied in by ``write_gallery``).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import nbformat
from helpers import png

HERE = Path(__file__).parent / "wild"
BADGES = (
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/example/course/blob/main/01_data_handling.ipynb) "
    "![Python](https://img.shields.io/badge/python-3.11-blue.svg) "
    "![License: MIT](https://img.shields.io/badge/License-MIT-yellow)\n"
    '<a href="https://mybinder.org/v2/gh/example/course/main"><img src="https://mybinder.org/badge_logo.svg" '
    'alt="Binder"></a>'
)
COURSE = [
    ("markdown", BADGES),
    ("markdown", "# 1. チュートリアル第一部「Data Handling」\n\nこのノートブックでは、データの扱い方を学びます。"
                 "次は [第2章](02_linear_regression.ipynb) で直線を当てはめます。"),
    ("markdown", '<center style="width: 100%"><img src="images/pipeline.png" width="350px"></center>\n\n'
                 '<p align="center">図1: データの流れ</p>'),
    ("markdown", "## 1.1 データ生成分布\n\n"
                 "今回は、非常に単純な $$ t = 0.5x + 0.2 + \\epsilon $$ というデータ生成分布を考えます。"
                 "ここで $\\epsilon$ は平均 $0$、分散 $\\sigma^2$ の正規分布に従うノイズで、$0<x<1$ の範囲で $x$ を取ります。\n\n"
                 "損失関数は次のとおりです。\n\n"
                 "\\begin{align}\nL(w) &= \\frac{1}{N}\\sum_{n=1}^{N} (t_n - w x_n)^2 \\\\\n"
                 "&= \\frac{1}{N} \\| t - w x \\|^2\n\\end{align}"),
    ("code", "import numpy as np\n\nrng = np.random.default_rng(0)\nx = rng.uniform(0, 1, 20)\n"
             "t = 0.5 * x + 0.2 + rng.normal(0, 0.1, 20)\nprint(round(float(t.mean()), 3))"),
    ("markdown", '<font color="red">**注意**</font>: 乱数のシードを固定しています。'
                 '<span style="color: blue">青字</span>は補足です。\n\n'
                 '<div align="center">\n\n**表1: 先頭のデータ**\n\n</div>'),
    ("code", "import pandas as pd\n\npd.DataFrame({'x': x[:3].round(2), 't': t[:3].round(2)})"),
    ("code", "from IPython.display import Markdown, display\n\n"
             "display(Markdown('<center>**平均値**: %.2f</center>' % t.mean()))"),
]
STORED = [
    ("markdown", "# Chapter 2: Fitting a line\n\n"
                 "We look for the weight that minimizes the loss, \\[ w^* = \\arg\\min_w L(w) \\] which has a closed form. "
                 "<u>Read this part twice.</u>"),
    ("markdown", "The normal equation gives it directly:\n\n"
                 "\\begin{equation}\nw^* = \\frac{\\sum_n x_n t_n}{\\sum_n x_n^2}\n\\end{equation}\n\n"
                 "and the residual is $$\nr_n = t_n - w^* x_n\n$$ for each sample.\n\n"
                 '<div align="center"><img src="https://example.com/course/fit.png" width="300" alt="fitted line"></div>'),
]


def course_notebook() -> nbformat.NotebookNode:
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    return nbformat.v4.new_notebook(cells=[make[kind](source) for kind, source in COURSE], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})


def stored_notebook() -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell(source) for _, source in STORED]
    cells.insert(1, nbformat.v4.new_code_cell("w = (x * t).sum() / (x ** 2).sum()\nprint(f'w = {w:.3f}')", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="w = 0.812\n")], execution_count=1))
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})


def write_course(root: Path) -> Path:
    """A folder of course material as a writer has it before ``init``: two notebooks and an image."""
    (root / "images").mkdir(parents=True)
    (root / "images" / "pipeline.png").write_bytes(png(40, 20))
    nbformat.write(course_notebook(), str(root / "01_data_handling.ipynb"))
    nbformat.write(stored_notebook(), str(root / "02_linear_regression.ipynb"))
    return root


def write_gallery(root: Path, *names: str) -> Path:
    """A folder holding gallery examples from tests/wild/ (all of them by default)."""
    root.mkdir(parents=True, exist_ok=True)
    for path in sorted(HERE.glob("plot_*.py")):
        if not names or path.name in names:
            shutil.copy(path, root / path.name)
    return root


def stored_settings() -> str:
    """The pyproject lines that publish the English notebook's stored outputs."""
    return textwrap.dedent('''\
        execution_excludes = ["02_linear_regression.ipynb"]
        ''')
