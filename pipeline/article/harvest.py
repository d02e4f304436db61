"""Stage 2: turn each executed notebook into an ``ExperimentRecord`` plus figure files.

Writes ``build/records/NAME.json`` and ``build/figures/NAME/`` through a
``Publication``: inside ``build`` they are published together with the article;
``python -m pipeline harvest`` publishes them on its own. A malformed output (an
image that is not valid base64, glue without a name, an incomplete model
payload) stops the harvest with the file and cell named, before any record is
written. Stored outputs (notebooks run elsewhere) are read exactly like fresh ones.

A failed experiment whose run stopped at a cell is harvested from its partial notebook
(``Layout.failed_notebook``): the outputs up to that cell come from the failed run, the
failing cell is marked ``state="failed"`` and the code cells after it ``"not-run"``; the last
good executed notebook is only used when the failed run has nothing to show (the kernel did
not start, or the experiment was not run).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Literal

from pipeline.article.figures import IMAGE_TYPES, author_images, bundle_text, output_image
from pipeline.article.observations import check_citations, model_mismatch
from pipeline.config import Config
from pipeline.errors import HarvestError
from pipeline.experiments import cell_title, discover
from pipeline.glue import GLUE_MIME, MODEL_MIME, read_glue, read_model
from pipeline.layout import Layout
from pipeline.markdown.html_output import html_markdown
from pipeline.progress import Progress
from pipeline.records import (
    RUN_METADATA,
    Cell,
    Environment,
    ErrorOutput,
    ExecutionInfo,
    Experiment,
    ExperimentRecord,
    GlueValue,
    ModelInfo,
    Output,
    ResultOutput,
    StreamOutput,
    load_failure,
    location,
)
from pipeline.storage import Publication
from pipeline.text import clean_traceback, path_replacements, scrub_paths, strip_ansi

#: author metadata kept on cells (the rest is editor and execution bookkeeping)
KEPT_METADATA = ("written_for", "alt")
_REPR_ONLY = re.compile(r"<[\w.]+ (object|at 0x[0-9a-f]+)[^>]*>|<Figure size [^>]*>")
_WIDGET = "application/vnd.jupyter.widget-view+json"


def harvest(config: Config, names: list[str] | None = None, progress: Progress | None = None,
            layout: Layout | None = None, publication: Publication | None = None,
            experiments: list[Experiment] | None = None) -> list[ExperimentRecord]:
    """Harvest the named experiments (all by default), or the *experiments* the caller already
    listed. With *publication*, records and figures are staged into it (the caller commits);
    without, they are published here."""
    progress = progress or Progress()
    layout = layout or config.layout
    own = publication is None
    pub = publication or Publication.of(layout, warn=progress.warn)
    records = []
    try:
        for experiment in experiments if experiments is not None else discover(config, names, warn=progress.warn):
            record = harvest_one(experiment, config, layout, pub)
            progress.info(f"harvested {experiment.name}: {len(record.cells)} cells, {len(record.figures)} figures, "
                          f"{len(record.glue)} glue values{' (last run FAILED)' if record.failure else ''}")
            for warning in record.warnings:
                progress.warn(warning)
            records.append(record)
    except BaseException:
        if own:
            pub.discard()
        raise
    if own:
        pub.commit()
    return records


def load_records(config: Config, names: list[str] | None = None, layout: Layout | None = None) -> list[ExperimentRecord]:
    """The stored records of the experiments, in experiment order, with their figure files checked."""
    layout = layout or config.layout
    records = []
    for experiment in discover(config, names):
        path = layout.record(experiment.name)
        if not path.is_file():
            raise HarvestError(f"{path}: no record for {experiment.name}; run `python -m pipeline build` "
                               f"(or `python -m pipeline harvest {experiment.name}`)")
        try:
            record = ExperimentRecord.load(path)
        except ValueError as exc:
            raise HarvestError(f"{exc}; run `python -m pipeline harvest {experiment.name}` to write it again") from None
        missing = [f.path for f in record.figures if not (layout.build / f.path).is_file()]
        if missing:
            raise HarvestError(f"{layout.build / missing[0]}: figure file missing ({len(missing)} of {len(record.figures)} "
                               f"for {experiment.name}); run `python -m pipeline harvest {experiment.name}` to write them again")
        records.append(record)
    return records


def harvest_one(experiment: Experiment, config: Config, layout: Layout, pub: Publication) -> ExperimentRecord:
    import nbformat

    failure = load_failure(layout.failure_report(experiment.name))
    if failure is not None:  # the report is kept as the terminal showed it; the article gets no machine paths
        paths = path_replacements(config.root)
        failure = dataclasses.replace(failure, evalue=scrub_paths(failure.evalue, paths),
                                      traceback=scrub_paths(failure.traceback, paths))
    path = layout.executed_notebook(experiment.name)
    partial = layout.failed_notebook(experiment.name)
    if failure is not None and failure.cell_index is not None and partial.is_file():
        path = partial  # this run's outputs up to the failure win over the last good run's
    if path.is_file():
        try:
            nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
            execution = ExecutionInfo.from_metadata(nb.metadata.get(RUN_METADATA))
        except Exception as exc:  # JSON, Unicode, nbformat and metadata errors all mean: run it again
            raise HarvestError(f"{path}: unreadable executed notebook ({type(exc).__name__}: {exc}); "
                               f"run `python -m pipeline execute --force {experiment.name}` to write it again") from None
    elif failure is not None:  # it never ran through: show its code with the error
        nb, execution = experiment.notebook, ExecutionInfo(mode="failed")
    else:
        raise HarvestError(f"{experiment.source}: not executed yet; run `python -m pipeline execute {experiment.name}`")
    if path == partial:
        execution = dataclasses.replace(execution, partial=True)
    figures = pub.folder(layout.figures_of(experiment.name))
    record = build_record(experiment, nb, execution, failure, config, figures, experiment.source)
    pub.write(layout.record(experiment.name), record.to_json())
    return record


def build_record(experiment: Experiment, nb, execution: ExecutionInfo, failure, config: Config, figures: Path,
                 origin: str) -> ExperimentRecord:
    """The record for *nb*; images are written to *figures*. Raises HarvestError on malformed outputs."""
    glue: dict[str, GlueValue] = {}
    models: list[ModelInfo] = []
    paths = path_replacements(config.root)
    warnings: list[str] = []
    outputs = [_outputs(cell, i, experiment.name, paths, figures, glue, models, origin, warnings)
               for i, cell in enumerate(nb.cells)]
    model = models[-1] if models else None
    cells = []
    for index, (cell, cell_outputs) in enumerate(zip(nb.cells, outputs)):
        info = cell.metadata.get("pipeline", {}) or {}
        lines = info.get("lines")
        tags = tuple(str(t) for t in cell.metadata.get("tags", []) or [])
        metadata = {k: cell.metadata[k] for k in KEPT_METADATA if k in cell.metadata}
        if cell.cell_type == "markdown":
            where = location(experiment.source, index, lines)
            warnings += check_citations(cell.source, glue, where)
            images = author_images(cell, index, experiment, config.root, figures, where, warnings)
            if images:
                metadata["images"] = images
            mismatch = model_mismatch(metadata.get("written_for"), model.id if model else None)
            if mismatch:
                metadata["model_mismatch"] = mismatch
                warnings.append(f"{where}: observation written for {mismatch['written_for']} but the experiment ran "
                                f"{mismatch['model']}; re-read it against the new outputs and update written_for")
        cells.append(Cell(
            index=index,
            kind=cell.cell_type,
            source=cell.source,
            tags=tags,
            title=cell_title(cell),
            lines=tuple(lines) if lines else None,
            execution_time=info.get("duration"),
            outputs=tuple(cell_outputs),
            metadata=metadata,
            state=_state(cell, index, execution, failure),
        ))
    environment = Environment(python=execution.python, packages=dict(execution.packages),
                              device=model.device if model else None, model=model)
    return ExperimentRecord(
        name=experiment.name,
        source=experiment.source,
        title=experiment.title,
        environment=environment,
        cells=tuple(cells),
        glue=glue,
        execution=execution,
        failure=failure,
        warnings=tuple(warnings),
    )


def _state(cell, index: int, execution: ExecutionInfo, failure) -> Literal["", "failed", "not-run"]:
    """Where a code cell stands in a partial run: the failing cell, or one after it."""
    if not execution.partial or failure is None or failure.cell_index is None or cell.cell_type != "code":
        return ""
    return "failed" if index == failure.cell_index else "not-run" if index > failure.cell_index else ""


def _outputs(cell, index: int, name: str, paths: list[tuple[str, str]], figures: Path, glue: dict,
             models: list, origin: str, warnings: list[str]) -> list[Output]:
    if cell.cell_type != "code":
        return []
    where = location(origin, index, (cell.metadata.get("pipeline", {}) or {}).get("lines"))

    def clean(text: str) -> str:
        return scrub_paths(strip_ansi(text), paths)

    result: list[Output] = []
    images = 0
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            result.append(StreamOutput(str(out.get("name", "stdout")), clean(bundle_text(out.get("text", "")))))
        elif kind == "error":
            result.append(ErrorOutput(str(out.get("ename", "")), clean(bundle_text(out.get("evalue", ""))),
                                      scrub_paths(clean_traceback(out.get("traceback", []) or []), paths)))
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {}) or {}
            if GLUE_MIME in data:
                try:
                    key, value, text = read_glue(data[GLUE_MIME])
                except ValueError as exc:
                    raise HarvestError(f"{where}: {exc}; call glue(\"name\", value) with a Python identifier as name") from None
                glue[key] = GlueValue(value, text)
                if data.get("text/plain"):
                    result.append(ResultOutput(clean(bundle_text(data["text/plain"]))))
                continue
            if MODEL_MIME in data:
                try:
                    fields = read_model(data[MODEL_MIME], tuple(ModelInfo.__dataclass_fields__),
                                        ("id", "source", "dtype", "quantization", "device"))
                except ValueError as exc:
                    raise HarvestError(f"{where}: {exc}; the model payload comes from pipeline.lab.load_model()") from None
                models.append(ModelInfo(**fields))
                continue
            mime = next((m for m in IMAGE_TYPES if m in data), None)
            if mime:
                images += 1
                image = output_image(data[mime], mime, cell, index, images, name, figures, where)
                if image is not None:
                    result.append(image)
                continue
            if _WIDGET in data:
                continue  # interactive widgets have no static form; their text/plain is a repr
            text = clean(bundle_text(data.get("text/plain", "")))
            markdown = clean(bundle_text(data["text/markdown"])) if "text/markdown" in data else None
            if not markdown and _REPR_ONLY.fullmatch(text.strip()):
                text = ""  # only a Python repr of something the article cannot show (a JavaScript view, a widget)
            if not (text or markdown) and "text/html" in data:  # display(HTML(...)): sanitized when rendered
                markdown, text = html_markdown(clean(bundle_text(data["text/html"])))
                hidden = f"{where}: an HTML output shows nothing the article can (only a script, a widget or an " \
                         "embedded page); it is left out: save it as an image, or print what it shows"
                if not markdown and hidden not in warnings:
                    warnings.append(hidden)
            if text or markdown:
                result.append(ResultOutput(text, markdown or None))
    return _joined(result)


def _joined(outputs: list[Output]) -> list[Output]:
    """Stream outputs that glue values (data, not shown) split apart are one output again."""
    joined: list[Output] = []
    for out in outputs:
        if joined and isinstance(out, StreamOutput) and isinstance(joined[-1], StreamOutput) \
                and joined[-1].name == out.name:
            joined[-1] = StreamOutput(out.name, joined[-1].text + out.text)
        else:
            joined.append(out)
    return joined
