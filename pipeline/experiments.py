"""Stage 0: find the experiments and read each one into a notebook.

An experiment is a Jupytext percent script (``NAME.py``) or a notebook
(``NAME.ipynb``) in ``experiments/``; jupytext reads both. A sphinx-gallery example (a .py file
whose docstring opens with a reStructuredText title, as scikit-learn's and matplotlib's are) is
read by ``pipeline.gallery``: its docstring and comment blocks become the prose. Where ``experiments_dir``
is the project folder itself (``"."``), only its notebooks and the .py files with a
``# %%`` marker are experiments, and its other files are not reported. For scripts, each
cell gets ``metadata.pipeline.lines``, its 1-based line range in the file, taken
from jupytext's own cell reader. Other files in the folder are reported, never
silently skipped.

Settings an experiment gives itself (the Jupytext header of a script, or the
notebook's metadata) live under ``pipeline:``: ``data`` (files whose bytes are
part of the cache key), ``after`` (experiments that must run first) and
``execute: false`` (publish the stored outputs, never run it here; the same as
listing it in ``execution_excludes``) and ``allow_errors: true`` (errors are outputs and the
run goes on; the same as listing it in ``allow_errors``).

Parameters follow papermill: a cell tagged ``parameters`` holds defaults, and
values from ``[tool.pipeline.parameters]`` are injected after it in a cell
tagged ``injected-parameters``.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import json
import re
from pathlib import Path
from typing import Any, Callable

from pipeline.config import Config
from pipeline.errors import ExperimentFormatError, ExperimentNotFound
from pipeline.gallery import is_gallery
from pipeline.markdown.scanner import unwanted_characters
from pipeline.records import Experiment

SUFFIXES = (".py", ".ipynb")
_MARKER = re.compile(r"^\s*#\s*%%")


def discover(config: Config, names: list[str] | tuple[str, ...] | None = None,
             warn: Callable[[str], None] | None = None) -> list[Experiment]:
    """The experiments to run, in configured order (then by name).

    *names* may be names ("01_model", "04.01-Simple-Line-Plots") or file names;
    an unknown name is an error listing the known ones. Files of other kinds are
    reported through *warn*.
    """
    folder = config.experiments_dir
    if not folder.is_dir():
        raise ExperimentNotFound(
            f"{folder}: experiments folder not found; create it or set tool.pipeline.experiments_dir"
        )
    paths, others = _experiment_files(config)
    rank = {name: i for i, name in enumerate(config.order)}
    unknown_order = [n for n in config.order if n not in paths]
    if unknown_order:
        raise ExperimentNotFound(
            f"tool.pipeline.order names {', '.join(unknown_order)}, which match no file in {folder}"
        )
    ordered = sorted(paths, key=lambda n: (rank.get(n, len(rank)), n))
    if names:
        wanted = {_match_name(raw, paths, ordered, folder) for raw in names}
        ordered = [n for n in ordered if n in wanted]
    experiments = [read_experiment(paths[n], config) for n in ordered]
    if warn is not None:
        declared = {p for e in experiments for p in e.data_files}
        for path in others:
            if path.resolve() not in declared:
                warn(f"{_relative(path, config.root)}: not an experiment (only .py percent scripts and .ipynb "
                     "notebooks are), so it is not in the article; declare it as data in the experiment "
                     "that reads it, or move it to a subfolder")
    return experiments


def experiment_names(config: Config) -> set[str]:
    """The names of every experiment in the folder (without reading them)."""
    return set(_experiment_files(config)[0]) if config.experiments_dir.is_dir() else set()


def _match_name(raw: str, paths: dict[str, Path], ordered: list[str], folder: Path) -> str:
    candidates = [raw, Path(raw).name]
    candidates += [c[: -len(s)] for c in list(candidates) for s in SUFFIXES if c.endswith(s)]
    for candidate in candidates:
        if candidate in paths:
            return candidate
    known = ", ".join(ordered) or "(none)"
    raise ExperimentNotFound(f"no experiment named {raw!r} in {folder}; known: {known}")


def _experiment_files(config: Config) -> tuple[dict[str, Path], list[Path]]:
    """(name -> file, other files). Where a paired NAME.py and NAME.ipynb both exist (jupytext
    pairing), the script is the experiment, unless the notebook's stored outputs are published."""
    folder = config.experiments_dir
    expected = {(config.root / p).resolve() for p in (config.article.background, config.article.summary) if p}
    # experiments_dir = "." (python -m pipeline init with the notebooks at the top): the project's own files
    # (pyproject.toml, README.md, helper modules with no '# %%' marker) are not experiments, nor reported
    at_root = folder.resolve() == config.root.resolve()
    found: dict[str, list[Path]] = {}
    others = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or path.is_dir():
            continue
        if at_root and (path.suffix not in SUFFIXES or (path.suffix == ".py" and not percent_script(path))):
            continue
        if path.suffix in SUFFIXES:
            if unwanted_characters(path.name):  # the name becomes the chapter's and its figures' file names
                raise ExperimentFormatError(
                    f"{folder}/{ascii(path.name)}: the file name holds {', '.join(unwanted_characters(path.name))} "
                    "(control characters or broken bytes); rename the file")
            found.setdefault(path.name[: -len(path.suffix)], []).append(path)
        elif path.resolve() not in expected:
            others.append(path)
    chosen = {}
    for name, files in found.items():
        if len(files) == 1:
            chosen[name] = files[0]
        else:
            notebook = next(p for p in files if p.suffix == ".ipynb")
            script = next(p for p in files if p.suffix == ".py")
            chosen[name] = notebook if excluded_by_config(notebook, config) else script
    return chosen, others


def percent_script(path: Path) -> bool:
    """Whether a .py file has a '# %%' cell marker (read as bytes: any encoding is a helper's business)."""
    try:
        return re.search(rb"^[ \t]*#[ \t]*%%", path.read_bytes(), re.M) is not None
    except OSError:
        return False


def excluded_by_config(path: Path, config: Config) -> bool:
    """True when ``execution_excludes`` lists the file."""
    return listed(path, config.execution_excludes)


def listed(path: Path, globs: tuple[str, ...]) -> bool:
    """True when one of the *globs* (a config list of experiments) matches the file name or the name."""
    name = path.name[: -len(path.suffix)] if path.suffix in SUFFIXES else path.name
    return any(fnmatch.fnmatch(path.name, g) or fnmatch.fnmatch(name, g) for g in globs)


def read_experiment(path: Path, config: Config) -> Experiment:
    rel = _relative(path, config.root)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ExperimentFormatError(
            f"{rel}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if path.suffix == ".ipynb":
        nb = read_notebook(text, rel)
    elif is_gallery(text):
        nb = _read_gallery(path, rel)
    else:
        nb = _read_script(text, rel)

    settings = nb.metadata.get("pipeline", {}) or {}
    if not isinstance(settings, dict):
        raise ExperimentFormatError(f"{rel}: 'pipeline' metadata must be a table (data, after, execute, allow_errors)")
    stored = excluded_by_config(path, config) or settings.get("execute") is False
    if not isinstance(settings.get("allow_errors", False), bool):
        raise ExperimentFormatError(f"{rel}: 'allow_errors' must be true or false, got {settings['allow_errors']!r}")
    allow_errors = listed(path, config.allow_errors) or settings.get("allow_errors") is True
    if stored and path.suffix != ".ipynb":
        raise ExperimentFormatError(
            f"{rel}: marked to publish its stored outputs, but a script stores none; "
            "use the executed .ipynb, or take it out of tool.pipeline.execution_excludes")
    data_files = tuple(_data_files(path, settings.get("data", []), rel))
    after = settings.get("after", [])
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise ExperimentFormatError(f"{rel}: 'after' must be a name or a list of names of experiments, got {after!r}")
    after = tuple(after)
    defaults = _parameter_defaults(nb, rel)
    injected = {k: v for k, v in config.parameters.items() if k in defaults} if not stored else {}
    if injected:
        nb = _inject_parameters(nb, injected)
    return Experiment(
        name=path.name[: -len(path.suffix)],
        path=path,
        source=rel,
        notebook=nb,
        title=notebook_title(nb) or path.name[: -len(path.suffix)],
        parameters={**defaults, **injected},
        data_files=data_files,
        stored=stored,
        after=after,
        allow_errors=allow_errors,
    )


def read_notebook(text: str, rel: str):
    """The notebook in *text* (the file *rel*); ExperimentFormatError naming the cell where a cell
    is malformed: a source that is not text, or a lone surrogate (a broken character no file can hold)."""
    import nbformat

    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises JSON, validation and version errors of many types
        try:
            cells = json.loads(text).get("cells")
        except (ValueError, AttributeError):
            cells = None
        raise ExperimentFormatError(_malformed_cell(cells, rel) or f"{rel}: not a readable Jupyter notebook "
                                    f"({type(exc).__name__}: {exc})") from None
    for number, cell in enumerate(nb.cells, 1):
        broken = re.search("[\ud800-\udfff]", json.dumps(cell, ensure_ascii=False))
        if broken:
            raise ExperimentFormatError(
                f"{rel}, cell {number}: holds a broken character (a lone surrogate, "
                f"{json.dumps(broken.group())} in the file), which no text file can hold; delete or retype it in "
                "Jupyter, or replace that escape in the .ipynb file")
        cell.metadata.setdefault("pipeline", {})["lines"] = None
    return nb


def _read_gallery(path: Path, rel: str):
    """A sphinx-gallery example (``pipeline.gallery``): its docstring and comment blocks as prose."""
    from pipeline.gallery import read_gallery

    try:
        return read_gallery(path)
    except Exception as exc:  # sphinx-gallery and docutils raise their own types for a broken file
        raise ExperimentFormatError(f"{rel}: read as a sphinx-gallery example (its docstring has a reStructuredText "
                                    f"title), but it could not be read: {type(exc).__name__}: {exc}") from exc


def _malformed_cell(cells, rel: str) -> str | None:
    """What is wrong with the first cell whose source is not text (a list of text lines), or None."""
    for number, cell in enumerate(cells if isinstance(cells, list) else [], 1):
        source = cell.get("source", "") if isinstance(cell, dict) else cell
        wrong = [source] if not isinstance(source, (str, list)) else [s for s in source if not isinstance(s, str)]
        if wrong or not isinstance(cell, dict):
            shown = json.dumps(wrong[0] if wrong else cell)
            return (f"{rel}, cell {number}: its source holds {shown[:60]}, where a "
                    "notebook holds text (a string, or a list of strings, one per line); fix that cell in the "
                    ".ipynb file (quote the value), or delete the cell")
    return None


def _read_script(text: str, rel: str):
    """A percent script through jupytext's own reader, recording where each cell starts and ends."""
    from jupytext.formats import long_form_one_format, rearrange_jupytext_metadata
    from jupytext.jupytext import TextNotebookConverter

    lines = text.splitlines()
    if not any(_MARKER.match(line) for line in lines):
        raise ExperimentFormatError(
            f"{rel}: no '# %%' cell markers found; experiments are Jupytext percent scripts "
            "(start each cell with a '# %%' line, markdown cells with '# %% [markdown]'); "
            "a helper module imported by experiments should be named with a leading '_'"
        )
    converter = TextNotebookConverter(long_form_one_format("py:percent"), None)
    spans: list[tuple[int, int]] = []

    class Recording(converter.implementation.cell_reader_class):
        def read(self, remaining):
            cell, consumed = super().read(remaining)
            spans.append((len(remaining), consumed))
            return cell, consumed

    converter.implementation = copy.copy(converter.implementation)
    converter.implementation.cell_reader_class = Recording
    try:
        nb = converter.reads(text)
    except Exception as exc:  # jupytext raises many types for malformed headers
        raise ExperimentFormatError(f"{rel}: jupytext could not read it: {exc}") from exc
    rearrange_jupytext_metadata(nb.metadata)
    offset = len(nb.cells) - len(spans)  # a header cell comes first
    if offset and nb.cells[0].cell_type == "raw" and re.search(r"^pipeline\s*:", nb.cells[0].source, re.M):
        raise ExperimentFormatError(
            f"{rel}: the header's 'pipeline:' settings would be ignored: in a Jupytext header they go one level "
            "under 'jupyter:' (lines '# jupyter:', '#   pipeline:', '#     data: [file.csv]')")
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i + 1}"  # jupytext makes random ids; stable ones keep rebuilds byte-identical
        cell.metadata.setdefault("pipeline", {})["lines"] = None
        if i >= offset:
            remaining, consumed = spans[i - offset]
            cell.metadata["pipeline"]["lines"] = list(_trimmed(lines, len(lines) - remaining, consumed))
    return nb


def _trimmed(lines: list[str], first: int, count: int) -> tuple[int, int]:
    last = first + count - 1
    while last > first and not lines[last].strip():
        last -= 1
    while first < last and not lines[first].strip():
        first += 1
    return first + 1, last + 1


def notebook_title(nb) -> str:
    """The notebook's first H1 heading, without control characters or noncharacters (``text.clean_text``)."""
    from pipeline.markdown.scanner import headings
    from pipeline.text import clean_text

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for _, level, text in headings(cell.source):
                if level == 1:
                    return clean_text(text)
    return ""


def cell_title(cell) -> str:
    """The author's title for a cell: the text after ``# %%`` (jupytext's ``title``) or cell metadata."""
    for key in ("title", "name"):
        value = cell.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def cell_label(cell) -> str:
    """A short label for progress output: the author's title, else the first code line."""
    title = cell_title(cell)
    if title:
        return title
    for line in cell.source.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped[:60]
    return ""


def _parameter_defaults(nb, rel: str) -> dict[str, Any]:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError as exc:
                raise ExperimentFormatError(f"{rel}, cell {index + 1}: parameters cell is not valid Python: {exc}") from exc
            values: dict[str, Any] = {}
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    try:
                        values[node.targets[0].id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        values[node.targets[0].id] = ast.unparse(node.value)  # not a plain value: kept as code
            return values
    return {}


def _inject_parameters(nb, values: dict[str, Any]):
    import nbformat

    nb = copy.deepcopy(nb)
    where = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "# Parameters from [tool.pipeline.parameters]\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"], "pipeline": {"lines": None}})
    nb.cells.insert(where + 1, cell)
    return nb


def _data_files(path: Path, declared: Any, rel: str) -> list[Path]:
    if isinstance(declared, str):
        declared = [declared]
    if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
        raise ExperimentFormatError(f"{rel}: 'data' must be a file name or a list of file names, got {declared!r}")
    files = []
    for item in declared or []:
        candidate = (path.parent / str(item)).resolve()
        if not candidate.is_file():
            raise ExperimentFormatError(
                f"{rel}: declared data file {item!r} not found (looked for {candidate}); "
                "fix the path under 'pipeline: data:' in the experiment's header or metadata"
            )
        files.append(candidate)
    return files


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
