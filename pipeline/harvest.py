"""Stage 2: turn each executed notebook into an ``ExperimentRecord`` (JSON) plus figure files.

Writes ``build/records/NAME.json`` and ``build/figures/NAME/NAME-cellNN-K.png``.
Figures are written to a staging folder and swapped in whole, and the record is
written atomically, so a harvest that fails half-way leaves the previous ones.
"""

from __future__ import annotations

import base64
from pathlib import Path

from .config import Config
from .errors import HarvestError
from .execute import executed_path, read_failure
from .experiments import cell_label, discover
from .glue import GLUE_MIME, MODEL_MIME
from .progress import Progress
from .records import (
    Cell,
    Environment,
    ErrorOutput,
    Experiment,
    ExperimentRecord,
    GlueValue,
    ImageOutput,
    ModelInfo,
    Output,
    ResultOutput,
    StreamOutput,
)
from .storage import atomic_write_text, replacing_dir
from .text import clean_traceback, path_replacements, scrub_paths, strip_ansi

IMAGE_TYPES = {"image/png": "png", "image/svg+xml": "svg", "image/jpeg": "jpg"}
#: user metadata kept on cells (the rest is execution bookkeeping)
SKIP_METADATA = {"pipeline", "execution", "tags", "title", "jupyter", "collapsed", "scrolled"}


def record_path(config: Config, name: str) -> Path:
    return config.records_dir / f"{name}.json"


def harvest(config: Config, names: list[str] | None = None, progress: Progress | None = None) -> list[ExperimentRecord]:
    progress = progress or Progress()
    records = []
    for experiment in discover(config, names):
        record = harvest_one(experiment, config)
        progress.info(f"harvested {experiment.name}: {len(record.cells)} cells, {len(record.figures)} figures, "
                      f"{len(record.glue)} glue values{' (last run FAILED)' if record.failure else ''}")
        for warning in record.warnings:
            progress.warn(warning)
        records.append(record)
    return records


def load_records(config: Config, names: list[str] | None = None) -> list[ExperimentRecord]:
    """The stored records of the experiments, in experiment order."""
    records = []
    for experiment in discover(config, names):
        path = record_path(config, experiment.name)
        if not path.is_file():
            raise HarvestError(f"{path}: no record for {experiment.name}; run `python -m pipeline harvest`")
        records.append(ExperimentRecord.load(path))
    return records


def harvest_one(experiment: Experiment, config: Config) -> ExperimentRecord:
    import nbformat

    failure = read_failure(config, experiment.name)
    path = executed_path(config, experiment.name)
    if not path.is_file():
        if failure is None:
            raise HarvestError(f"{experiment.source}: not executed yet; run `python -m pipeline execute {experiment.name}`")
        nb = None
    else:
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception as exc:
            raise HarvestError(f"{path}: unreadable executed notebook ({exc}); run `python -m pipeline execute --force {experiment.name}`") from exc

    with replacing_dir(config.figures_dir / experiment.name) as staging:
        record = build_record(experiment, nb, failure, config, staging)
    atomic_write_text(record_path(config, experiment.name), record.to_json())
    return record


def build_record(experiment: Experiment, nb, failure, config: Config, figures: Path) -> ExperimentRecord:
    """The record for *nb* (an executed notebook, or None when it never ran); images go to *figures*."""
    meta = nb.metadata.get("pipeline", {}) if nb is not None else {}
    glue: dict[str, GlueValue] = {}
    models: list[ModelInfo] = []
    source_cells = list(nb.cells) if nb is not None else []
    paths = path_replacements(config.root)
    outputs = [_outputs(cell, i, experiment.name, config, paths, figures, glue, models)
               for i, cell in enumerate(source_cells)]
    model = models[-1] if models else None
    warnings: list[str] = []
    cells = []
    for index, (cell, cell_outputs) in enumerate(zip(source_cells, outputs)):
        info = cell.metadata.get("pipeline", {})
        lines = info.get("lines")
        metadata = {k: v for k, v in cell.metadata.items() if k not in SKIP_METADATA}
        if cell.cell_type == "markdown":
            where = f"{experiment.source}, cell {index + 1}" + (f" (lines {lines[0]}-{lines[1]})" if lines else "")
            warnings += check_observation(cell.source, glue, where)
            written_for = metadata.get("written_for")
            if written_for and model and written_for != model.id:
                metadata["model_mismatch"] = {"written_for": written_for, "model": model.id}
                warnings.append(f"{where}: observation written for {written_for} but the experiment ran {model.id}; "
                                "re-read it against the new outputs and update written_for")
        cells.append(
            Cell(
                index=index,
                kind=cell.cell_type,
                source=cell.source,
                tags=tuple(cell.metadata.get("tags", [])),
                label=cell_label(cell),
                lines=tuple(lines) if lines else None,
                execution_time=info.get("duration"),
                outputs=tuple(cell_outputs),
                metadata=metadata,
            )
        )
    environment = Environment(
        python=meta.get("python", ""),
        packages=dict(meta.get("packages", {})),
        device=model.device if model else None,
        model=model,
    )
    return ExperimentRecord(
        name=experiment.name,
        source=experiment.source,
        title=experiment.title,
        parameters=dict(meta.get("parameters", experiment.parameters)),
        environment=environment,
        cells=tuple(cells),
        glue=glue,
        executed_at=meta.get("executed_at", ""),
        duration=meta.get("duration"),
        cache_key=meta.get("cache_key", ""),
        failure=failure,
        warnings=tuple(warnings),
    )


def check_observation(source: str, glue: dict, where: str) -> list[str]:
    """Problems with the Jinja placeholders in an observation: bad syntax, unknown glue names."""
    import jinja2
    from jinja2 import meta

    try:
        names = meta.find_undeclared_variables(jinja2.Environment().parse(source))
    except jinja2.TemplateSyntaxError as exc:
        return [f"{where}: template syntax error in the observation: {exc.message} (line {exc.lineno} of the cell)"]
    missing = sorted(n for n in names if n not in glue)
    return [f"{where}: cites {{{{ {n} }}}} but the experiment glued no value named {n!r}; "
            "add glue(...) in a code cell or fix the name" for n in missing]


def _outputs(cell, index, name, config, paths: list[tuple[str, str]], figures: Path, glue: dict,
             models: list) -> list[Output]:
    if cell.cell_type != "code":
        return []

    def clean(text: str) -> str:
        return scrub_paths(strip_ansi(text), paths)

    result: list[Output] = []
    images = 0
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            result.append(StreamOutput(out.get("name", "stdout"), _cap(clean(out.get("text", "")), config)))
        elif kind == "error":
            result.append(ErrorOutput(out.get("ename", ""), clean(out.get("evalue", "")),
                                      scrub_paths(clean_traceback(out.get("traceback", [])), paths)))
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            if GLUE_MIME in data:
                payload = data[GLUE_MIME]
                glue[payload["name"]] = GlueValue(payload.get("value"), payload.get("text", str(payload.get("value"))))
                if data.get("text/plain"):
                    result.append(ResultOutput(_text(data["text/plain"])))
                continue
            if MODEL_MIME in data:
                payload = data[MODEL_MIME]
                models.append(ModelInfo(**{k: payload[k] for k in ModelInfo.__dataclass_fields__ if k in payload}))
                continue
            mime = next((m for m in IMAGE_TYPES if m in data), None)
            if mime:
                images += 1
                result.append(_image(data[mime], mime, cell, index, images, name, figures))
                continue
            text = clean(_text(data.get("text/plain", "")))
            markdown = clean(_text(data["text/markdown"])) if "text/markdown" in data else None
            html = _text(data["text/html"]) if "text/html" in data and markdown is None else None
            if text or markdown or html:
                result.append(ResultOutput(_cap(text, config), markdown, html))
    return result


def _image(raw, mime: str, cell, index: int, number: int, name: str, figures: Path) -> ImageOutput:
    ext = IMAGE_TYPES[mime]
    filename = f"{name}-cell{index + 1:02d}-{number}.{ext}"
    data = _text(raw).encode("utf-8") if mime == "image/svg+xml" else base64.b64decode(_text(raw))
    (figures / filename).write_bytes(data)
    return ImageOutput(path=f"figures/{name}/{filename}", mime=mime, alt=_alt(cell, number))


def _alt(cell, number: int) -> str:
    alt = cell.metadata.get("alt")
    if isinstance(alt, list) and alt:
        alt = alt[min(number, len(alt)) - 1]
    if isinstance(alt, str) and alt.strip():
        return alt.strip()
    label = cell_label(cell)
    return f"Figure {number}: {label}" if label else f"Figure {number}"


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _cap(text: str, config: Config) -> str:
    limit = config.max_output_chars
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [output cut at {limit} characters of {len(text)}; tool.pipeline.max_output_chars]\n"
