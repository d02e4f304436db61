"""Errors the author meant (``allow_errors``) and partial runs under --keep-going, on real kernels."""

import pytest

from pipeline.article.harvest import harvest
from pipeline.build import build
from pipeline.errors import ExecutionFailed
from pipeline.experiments import discover
from pipeline.records import ErrorOutput, Failure, StreamOutput
from pipeline.run.cache import cache_key
from pipeline.run.execute import execute

ON_PURPOSE = '''
# %% [markdown]
# # Errors on purpose

# %%
# error
1 / 0

# %%
print("after", "the error")
'''

HEADER = '''
# ---
# jupyter:
#   pipeline:
#     allow_errors: true
# ---
'''


def _check_error_then_output(record):
    [error] = record.cells[1].outputs
    assert isinstance(error, ErrorOutput) and error.ename == "ZeroDivisionError"
    assert record.cells[2].outputs == (StreamOutput("stdout", "after the error\n"),)
    assert record.failure is None and not any(c.state for c in record.cells)


def test_allow_errors_from_a_config_glob(project, quiet):
    project.add("01_tutorial", ON_PURPOSE)
    project.add("02_plain", "# %%\nprint('plain')\n")
    project.write_config('allow_errors = ["*_tutorial"]\n')
    config = project.config()
    assert [e.allow_errors for e in discover(config)] == [True, False]

    result = build(config, progress=quiet)
    assert result.outcomes == {"01_tutorial": "executed", "02_plain": "executed"}
    records = harvest(config, progress=quiet)
    _check_error_then_output(records[0])
    article = result.exports.article.read_text(encoding="utf-8")
    assert "ZeroDivisionError" in article and "after the error" in article
    assert article.index("ZeroDivisionError") < article.index("after the error")


def test_allow_errors_from_the_notebook_metadata_and_in_the_cache_key(project, quiet):
    path = project.add("01_tutorial", HEADER + ON_PURPOSE)
    config = project.config()
    [experiment] = discover(config)
    assert experiment.allow_errors and "allow_errors" in repr(experiment)
    summary = execute(config, progress=quiet)
    assert summary.count("executed") == 1 and not summary.failures
    _check_error_then_output(harvest(config, progress=quiet)[0])
    assert execute(config, progress=quiet).count("cached") == 1

    # the same code without the switch is another key: it runs again, and fails
    path.write_text(ON_PURPOSE.lstrip("\n"), encoding="utf-8")
    [plain] = discover(config)
    assert not plain.allow_errors and cache_key(plain, config) != cache_key(experiment, config)
    with pytest.raises(ExecutionFailed) as info:
        execute(config, progress=quiet)
    assert info.value.failures[0].ename == "ZeroDivisionError"


def test_the_config_glob_is_in_the_cache_key(project):
    project.add("01_tutorial", ON_PURPOSE)
    plain, allowing = project.config(), project.config(allow_errors=["01_tutorial.py"])
    [a], [b] = discover(plain), discover(allowing)
    assert (a.allow_errors, b.allow_errors) == (False, True)
    assert cache_key(a, plain) != cache_key(b, allowing)


def test_a_malformed_switch_is_refused(project):
    from pipeline.errors import ExperimentFormatError

    project.add("01_bad", HEADER.replace("true", "sometimes") + ON_PURPOSE)
    with pytest.raises(ExperimentFormatError, match="'allow_errors' must be true or false"):
        discover(project.config())


def test_the_failure_message_names_allow_errors():
    failure = Failure("experiments/01.py", 1, (3, 4), "ZeroDivisionError", "division by zero", "")
    assert "allow_errors" in str(ExecutionFailed([failure]))


THREE_CELLS = '''
# %% [markdown]
# # Three cells

# %%
print("one", "ran")

# %%
print("two", "ran")

# %%
print("three", "ran")
'''


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_keep_going_publishes_a_partial_run_and_keeps_the_last_good_one(project, quiet):
    path = project.add("01_three", THREE_CELLS)
    config = project.config(keep_going=True)
    good = build(config, progress=quiet)
    assert good.outcomes == {"01_three": "executed"}
    layout = config.layout
    cache, executed = _snapshot(layout.cache), layout.executed_notebook("01_three").read_bytes()
    assert "two ran" in good.exports.article.read_text(encoding="utf-8")

    path.write_text(THREE_CELLS.lstrip("\n").replace('print("two", "ran")', 'raise ValueError("two broke")'),
                    encoding="utf-8")
    result = build(config, progress=quiet)
    assert result.outcomes == {"01_three": "failed"} and result.failures[0].cell_index == 2

    # loses nothing: the last good notebook and cache entry are untouched, the partial run has its own file
    assert _snapshot(layout.cache) == cache
    assert layout.executed_notebook("01_three").read_bytes() == executed
    assert layout.failed_notebook("01_three").is_file()

    [record] = harvest(config, progress=quiet)
    assert record.execution.partial and record.failure.ename == "ValueError"
    assert [c.state for c in record.cells] == ["", "", "failed", "not-run"]
    assert record.cells[1].outputs == (StreamOutput("stdout", "one ran\n"),)
    assert isinstance(record.cells[2].outputs[0], ErrorOutput) and record.cells[3].outputs == ()

    article = result.exports.article.read_text(encoding="utf-8")
    assert "失敗したセルまでの出力はこの実行のもの" in article  # the chapter's note: a partial run
    assert "two ran" not in article and "three ran" not in article  # no stale outputs, none after the failure
    chapter = article[article.index("one ran"):]  # after the note at the top (which names the error too)
    order = [chapter.index(text) for text in ("この実行はこのセルで失敗しました", "ValueError: two broke",
                                              'print("three", "ran")', "このセルは実行されていません")]
    assert order == sorted(order), chapter

    # fixing the cell clears the partial notebook
    path.write_text(THREE_CELLS.lstrip("\n"), encoding="utf-8")
    assert build(config, progress=quiet).outcomes == {"01_three": "cached"}
    assert not layout.failed_notebook("01_three").exists()
    assert "two ran" in result.exports.article.read_text(encoding="utf-8")


def test_a_partial_notebook_run_drops_the_stored_outputs_after_the_failure(project, quiet):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('print("fresh")'),
        nbformat.v4.new_code_cell('raise KeyError("gone")'),
        nbformat.v4.new_code_cell('print("later")', outputs=[nbformat.v4.new_output("stream", text="stale\n")]),
    ])
    nbformat.write(nb, str(project.root / "experiments" / "01_nb.ipynb"))
    config = project.config()
    summary = execute(config, keep_going=True, progress=quiet)
    assert summary.count("failed") == 1
    [record] = harvest(config, progress=quiet)
    assert [c.state for c in record.cells] == ["", "failed", "not-run"]
    assert record.cells[0].outputs == (StreamOutput("stdout", "fresh\n"),)
    assert record.cells[2].outputs == ()
