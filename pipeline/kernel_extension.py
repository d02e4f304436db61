"""IPython extension loaded into every experiment kernel (``--IPKernelApp.extensions``).

It only registers display formatters; it does not run experiment code.
- pandas DataFrames also offer ``text/markdown`` (a truncated preview), so the
  article can show tables as Markdown instead of HTML.
- matplotlib draws inline as PNG, with a Japanese font (IPAexGothic from the
  matplotlib-fontja package) so Japanese labels never become empty boxes. The font is set up
  as matplotlib is imported (``after_import``), so a kernel that never draws does not pay
  for it at start (0.16 s here).
- tqdm's notice that ipywidgets is missing (printed when transformers is
  imported in a kernel) is silenced: it is about the notebook UI, not the experiment.
- Under ``--jobs N``, the math libraries' thread limits follow the share of the cores the
  run gives this kernel (``ThreadLimits``; ``pipeline.run.threads`` says why and when).
"""

from __future__ import annotations

import os
import sys
import warnings

MAX_ROWS = 10


def load_ipython_extension(ip) -> None:
    warnings.filterwarnings("ignore", message="IProgress not found")
    share = os.environ.get("PIPELINE_THREADS_FILE")
    if share:
        ip.events.register("pre_run_cell", ThreadLimits(share))
    after_import("matplotlib", _japanese_font)
    markdown = ip.display_formatter.formatters["text/markdown"]
    # matched by the class's __module__, which is "pandas" from pandas 3 on
    for module in ("pandas", "pandas.core.frame", "pandas.core.series"):
        markdown.for_type_by_name(module, "DataFrame", dataframe_markdown)
        markdown.for_type_by_name(module, "Series", lambda s: dataframe_markdown(s.to_frame()))


def _japanese_font() -> None:
    try:
        import matplotlib_fontja  # noqa: F401  (sets rcParams["font.family"] on import)
    except ImportError:
        pass


def after_import(name: str, then) -> None:
    """Call *then* once the module *name* has been imported (now, if it already has been), before the
    import statement that asked for it returns."""
    if name in sys.modules:
        then()
        return
    import importlib.abc
    import importlib.util

    class Loader(importlib.abc.Loader):
        def __init__(self, loader):
            self.loader = loader

        def __getattr__(self, attribute):  # resources, sources: the module's own loader answers
            return getattr(self.loader, attribute)

        def create_module(self, spec):
            return self.loader.create_module(spec)

        def exec_module(self, module):
            self.loader.exec_module(module)
            then()

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)  # once: the real finders find it
            spec = importlib.util.find_spec(fullname)
            if spec is not None and spec.loader is not None:
                spec.loader = Loader(spec.loader)
            return spec

    sys.meta_path.insert(0, Finder())


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


class ThreadLimits:
    """Before each cell: the share of the cores written in the file *path* becomes the thread limit
    of every math library loaded (threadpoolctl: OpenBLAS, MKL, BLIS, OpenMP; and torch's
    ``set_num_threads``). A library starts at ``OMP_NUM_THREADS`` (the kernel's first share); one
    whose limit is neither that nor what was set here was set by a cell, and is left alone from then
    on. Costs a small file read per cell; libraries are looked up only when the share changed, or
    when modules were imported while the share differs from what a new library starts with. Silent:
    a cell's outputs never show any of it."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.start = int(os.environ.get("OMP_NUM_THREADS", ""))
        except ValueError:
            self.start = None
        self.applied: int | None = None
        self.modules = 0
        self.ours: dict[str, int] = {}  # library -> the limit set here
        self.theirs: set[str] = set()  # libraries a cell set itself

    def __call__(self, *args) -> None:
        try:
            with open(self.path, encoding="ascii") as file:
                share = int(file.read())
        except (OSError, ValueError):
            return
        imported = len(sys.modules) != self.modules
        if share < 1 or (share == self.applied and not (imported and share != self.start)):
            return
        self.applied, self.modules = share, len(sys.modules)
        try:
            with warnings.catch_warnings():  # threadpoolctl's notes on mixed OpenMP runtimes: not the cell's
                warnings.simplefilter("ignore")
                self._apply(share)
        except Exception:  # a library that cannot be asked keeps its limit; the cell must run as ever
            pass

    def _apply(self, share: int) -> None:
        torch = sys.modules.get("torch")
        if torch is not None and hasattr(torch, "set_num_threads"):
            self._set("torch", torch.get_num_threads(), share, torch.set_num_threads)
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return
        for library in ThreadpoolController().lib_controllers:
            try:
                self._set(library.filepath, library.num_threads, share, library.set_num_threads)
            except Exception:  # this library cannot be asked (many error types): the others still can
                self.theirs.add(library.filepath)

    def _set(self, key: str, current: int, share: int, set_limit) -> None:
        if key in self.theirs:
            return
        if current not in (self.ours.get(key, self.start), share):  # a cell set it
            self.theirs.add(key)
            return
        if current != share:
            set_limit(share)
        self.ours[key] = share
