"""Stage 0: find the experiments and read each Jupytext percent script into a notebook.

Each notebook cell gets ``metadata.pipeline.lines`` (its 1-based line range in
the .py file) so that errors and records can point back into the source.
Parameters follow papermill: a cell tagged ``parameters`` holds defaults, and
values from ``[tool.pipeline.parameters]`` are injected after it in a cell
tagged ``injected-parameters``.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

from .config import Config
from .errors import ExperimentFormatError, ExperimentNotFound
from .records import Experiment

_MARKER = re.compile(r"^\s*#\s*%%")
_HEADER_FENCE = "# ---"


def discover(config: Config, names: list[str] | tuple[str, ...] | None = None) -> list[Experiment]:
    """The experiments to run, in configured order (then by file name).

    *names* may be file stems ("01_model") or file names; an unknown name is an
    error listing the known ones.
    """
    folder = config.experiments_dir
    if not folder.is_dir():
        raise ExperimentNotFound(
            f"{folder}: experiments folder not found; create it or set tool.pipeline.experiments_dir"
        )
    paths = {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith(("_", "."))}
    rank = {name: i for i, name in enumerate(config.order)}
    unknown_order = [n for n in config.order if n not in paths]
    if unknown_order:
        raise ExperimentNotFound(
            f"tool.pipeline.order names {', '.join(unknown_order)}, which match no file in {folder}"
        )
    ordered = sorted(paths, key=lambda n: (rank.get(n, len(rank)), n))
    if names:
        wanted = []
        for raw in names:
            stem = Path(raw).stem
            if stem not in paths:
                known = ", ".join(ordered) or "(none)"
                raise ExperimentNotFound(f"no experiment named {raw!r} in {folder}; known: {known}")
            wanted.append(stem)
        ordered = [n for n in ordered if n in wanted]
    return [read_experiment(paths[n], config) for n in ordered]


def read_experiment(path: Path, config: Config) -> Experiment:
    import jupytext

    text = path.read_text(encoding="utf-8")
    rel = _relative(path, config.root)
    if not any(_MARKER.match(line) for line in text.splitlines()):
        raise ExperimentFormatError(
            f"{rel}: no '# %%' cell markers found; experiments are Jupytext percent scripts "
            "(start each cell with a '# %%' line, markdown cells with '# %% [markdown]')"
        )
    try:
        nb = jupytext.reads(text, fmt="py:percent")
    except Exception as exc:  # jupytext raises many types for malformed headers
        raise ExperimentFormatError(f"{rel}: jupytext could not read it: {exc}") from exc

    ranges = cell_line_ranges(text)
    if len(ranges) != len(nb.cells):
        ranges = [None] * len(nb.cells)
    for cell, lines in zip(nb.cells, ranges):
        cell.metadata.setdefault("pipeline", {})["lines"] = list(lines) if lines else None

    settings = dict(nb.metadata.get("pipeline", {}) or {})
    data_files = tuple(_data_files(path, settings.get("data", []), rel))
    defaults = _parameter_defaults(nb, rel)
    injected = {k: v for k, v in config.parameters.items() if k in defaults}
    if injected:
        nb = _inject_parameters(nb, injected)
    return Experiment(
        name=path.stem,
        path=path,
        source=rel,
        notebook=nb,
        title=notebook_title(nb) or path.stem,
        parameters={**defaults, **injected},
        data_files=data_files,
    )


def cell_line_ranges(text: str) -> list[tuple[int, int]]:
    """1-based inclusive line ranges of the cells jupytext makes from a percent script.

    A cell runs from its ``# %%`` marker to its last non-blank line; text before
    the first marker (after any YAML header) is a cell of its own when non-blank.
    """
    lines = text.splitlines()
    start = 0
    if lines and lines[0].rstrip() == _HEADER_FENCE:
        for i in range(1, len(lines)):
            if lines[i].rstrip() == _HEADER_FENCE:
                start = i + 1
                break
    markers = [i for i in range(start, len(lines)) if _MARKER.match(lines[i])]
    bounds = []
    if markers and any(lines[j].strip() for j in range(start, markers[0])):
        bounds.append(start)
    bounds.extend(markers)
    ranges = []
    for k, first in enumerate(bounds):
        stop = bounds[k + 1] if k + 1 < len(bounds) else len(lines)
        last = stop - 1
        while last > first and not lines[last].strip():
            last -= 1
        while first < last and not lines[first].strip():
            first += 1
        ranges.append((first + 1, last + 1))
    return ranges


def notebook_title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def cell_label(cell) -> str:
    """A short human label: the cell's jupytext title, else its first non-comment line."""
    title = cell.metadata.get("title")
    if title:
        return str(title)
    if cell.cell_type == "markdown":
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        return first.lstrip("#").strip()[:60]
    for line in cell.source.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped[:60]
    for line in cell.source.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()[:60]
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
                    except ValueError:
                        values[node.targets[0].id] = ast.unparse(node.value)
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
    files = []
    for item in declared or []:
        candidate = (path.parent / item).resolve()
        if not candidate.is_file():
            raise ExperimentFormatError(
                f"{rel}: declared data file {item!r} not found (looked for {candidate}); "
                "fix the path under 'pipeline: data:' in the file's jupytext header"
            )
        files.append(candidate)
    return files


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
