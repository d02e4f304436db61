"""IPython extension loaded into every experiment kernel (``--IPKernelApp.extensions``).

It only registers display formatters; it does not run experiment code.
- pandas DataFrames also offer ``text/markdown`` (a truncated preview), so the
  article can show tables as Markdown instead of HTML.
- matplotlib draws inline as PNG, with a Japanese font (IPAexGothic from the
  matplotlib-fontja package) so Japanese labels never become empty boxes.
- tqdm's notice that ipywidgets is missing (printed when transformers is
  imported in a kernel) is silenced: it is about the notebook UI, not the experiment.
"""

from __future__ import annotations

import warnings

MAX_ROWS = 10


def load_ipython_extension(ip) -> None:
    warnings.filterwarnings("ignore", message="IProgress not found")
    try:
        import matplotlib_fontja  # noqa: F401  (sets rcParams["font.family"] on import)
    except ImportError:
        pass
    markdown = ip.display_formatter.formatters["text/markdown"]
    # matched by the class's __module__, which is "pandas" from pandas 3 on
    for module in ("pandas", "pandas.core.frame", "pandas.core.series"):
        markdown.for_type_by_name(module, "DataFrame", dataframe_markdown)
        markdown.for_type_by_name(module, "Series", lambda s: dataframe_markdown(s.to_frame()))


def dataframe_markdown(df, max_rows: int = MAX_ROWS) -> str:
    """A GitHub-flavoured Markdown table: the first and last rows when there are many."""
    n = len(df)
    if n > max_rows:
        half = max_rows // 2
        head, tail = df.iloc[:half], df.iloc[n - half :]
        rows = _rows(head) + [["..."] * (df.shape[1] + 1)] + _rows(tail)
    else:
        rows = _rows(df)
    header = [_cell(df.index.name or "")] + [_cell(c) for c in df.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if n > max_rows:
        lines.append("")
        lines.append(f"{n} rows × {df.shape[1]} columns")
    return "\n".join(lines)


def _rows(df) -> list[list[str]]:
    return [[_cell(idx)] + [_cell(v) for v in row] for idx, row in zip(df.index, df.itertuples(index=False))]


def _cell(value) -> str:
    text = str(value)
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`") if text else " "
