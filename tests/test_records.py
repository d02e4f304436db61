import json

import pytest

from pipeline.records import (
    SCHEMA_VERSION,
    Cell,
    Environment,
    ErrorOutput,
    ExecutionInfo,
    ExperimentRecord,
    Failure,
    GlueValue,
    ImageOutput,
    ModelInfo,
    ResultOutput,
    StoredRun,
    StreamOutput,
)


def _record(**changes):
    fields = dict(
        name="01_x",
        source="experiments/01_x.py",
        title="タイトル",
        environment=Environment("3.11.7", {"torch": "2.13.0"}, "cpu",
                                ModelInfo("embedded", "gguf", "float32", "none", "cpu", 134515008)),
        cells=(
            Cell(0, "markdown", "# タイトル"),
            Cell(1, "code", "print(1)", ("remove-input",), "Print one", (3, 4), 0.01,
                 (StreamOutput("stdout", "1\n"), ResultOutput("x", "| a |"), ImageOutput("figures/a.png", "image/png", "alt"),
                  ErrorOutput("ValueError", "bad", "Traceback"))),
        ),
        glue={"n": GlueValue(3, "3")},
        execution=ExecutionInfo("stored", "abc", "2026-01-01T00:00:00", 1.5, {"n": 3}, "3.10.12", {"numpy": "2.0"},
                                "Python 3", "stored notebook", StoredRun("Python 3", "Python 3.10.12", "a", "b", "execution_excludes")),
        failure=Failure("experiments/01_x.py", 1, (3, 4), "ValueError", "bad", "tb"),
    )
    fields.update(changes)
    return ExperimentRecord(**fields)


def test_round_trip_is_exact():
    record = _record()
    assert ExperimentRecord.from_json(record.to_json()) == record


def test_json_carries_schema_version_and_kinds():
    data = json.loads(_record().to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    assert [o["kind"] for o in data["cells"][1]["outputs"]] == ["stream", "result", "image", "error"]


def test_other_schema_version_is_refused_with_the_fix():
    data = json.loads(_record().to_json())
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="r.json: record schema version"):
        ExperimentRecord.from_json(json.dumps(data), origin="r.json")


@pytest.mark.parametrize("text", ["{not json", "[]", '{"schema_version": %d}' % SCHEMA_VERSION,
                                  '{"schema_version": %d, "execution": {"mode": 1, "bogus": 2}}' % SCHEMA_VERSION])
def test_corrupt_records_are_refused_naming_the_file(text):
    with pytest.raises(ValueError, match="r.json: "):
        ExperimentRecord.from_json(text, origin="r.json")


def test_execution_info_round_trips_through_notebook_metadata():
    info = _record().execution
    assert ExecutionInfo.from_metadata(json.loads(json.dumps(info.to_metadata()))) == info
    with pytest.raises(ValueError, match="no execution information"):
        ExecutionInfo.from_metadata({"cache_key": "x"})


def test_records_are_frozen_with_short_reprs():
    record = _record()
    with pytest.raises(AttributeError):
        record.name = "other"
    assert repr(record) == "ExperimentRecord('01_x', cells=2, failed)"
    assert repr(record.cells[1]) == "Cell(1, code, outputs=4)"
    assert record.figures == [ImageOutput("figures/a.png", "image/png", "alt")]


def test_failure_describe_names_file_cell_and_lines():
    assert _record().failure.describe().startswith("experiments/01_x.py, cell 2 (lines 3-4): ValueError: bad")
