"""Execution on real ipykernels: outputs, failures, timeouts, dead kernels."""

import json

import nbformat
import pytest

from pipeline.article.harvest import harvest
from pipeline.errors import ExecutionFailed
from pipeline.records import ErrorOutput, ExperimentRecord, ImageOutput, ResultOutput, StreamOutput
from pipeline.run.execute import execute


def failure_path(config, name):
    return config.layout.failure_report(name)

KITCHEN_SINK = '''
# %% [markdown]
# # 出力のいろいろ
# 答えは {{ answer }} です。

# %% tags=["parameters"]
repeat = 3

# %% Print things
import sys
from pipeline.glue import glue
print("日本語の出力 " * repeat)
print("to stderr", file=sys.stderr)
print("\\x1b[31mred\\x1b[0m")
import os, nbformat
print("cwd:", os.getcwd(), "module:", nbformat.__file__)
glue("answer", 42)
glue("ratio", 0.123456)

# %% alt="Straight line"
import matplotlib.pyplot as plt
plt.figure(figsize=(2, 2))
plt.plot([1, 2, 3])
plt.title("線")
plt.show()

# %%
import pandas as pd
pd.DataFrame({"token_id": range(40), "token": ["a|b"] * 40})

# %%
for i in range(3000):
    print("long line", i)

# %% tags=["raises-exception"]
raise ValueError("on purpose")

# %% tags=["skip-execution"]
while True:
    pass

# %%
"done"
'''


@pytest.mark.parametrize("cells, names", [
    (["import a.b, c\nfrom d import e as f", "from . import sibling\nimport c"], ["a", "c", "d"]),
    (["%matplotlib inline\nimport g", "!pip install h\nimport h", "x = %time 1\nimport i"], ["g", "h", "i"]),
    (["  import indented", "obj?\nimport after_help", "x = 1 +"], ["indented", "after_help"]),
    (['s = """\n%not_a_magic\n"""\nimport in_python'], ["in_python"]),
])
def test_the_modules_a_notebook_imports_with_and_without_ipython_syntax(cells, names):
    """Plain Python is parsed as it is; cells with magics, shell escapes or help go through IPython's
    transforms first (the probe asks the kernel for these modules' package versions)."""
    from pipeline.run.kernel_env import imported_modules

    assert imported_modules(cells) == names


def test_the_package_probe_names_the_distributions_python_names(monkeypatch):
    """The probe (run here, in this process) reports for each imported module the distribution
    named like it, else those Python's own packages_distributions() names: the same answer, from
    the lines of the RECORD files that matter instead of every path of every distribution. This
    process may have loaded the model in an earlier test (then the probe adds torch and the rest,
    as a kernel's does: tests/test_prestart.py): here it has loaded none."""
    import importlib.metadata as m
    import json

    from pipeline import lab
    from pipeline.run.kernel_env import PROBE as _PROBE

    monkeypatch.setattr(lab, "models_loaded", 0)

    names = ["sklearn", "dateutil", "zmq", "numpy", "matplotlib", "mpl_toolkits", "pipeline", "no_such_module", "_cffi_backend"]
    scope = {}
    exec(_PROBE, scope)
    found = json.loads(scope["_pipeline_probe"](names))["packages"]
    owners = m.packages_distributions()
    expected = {}
    for name in names:
        if name == "pipeline":
            continue
        try:
            own = m.distribution(name)
            if name in ((own.read_text("top_level.txt") or "").split() or {f.parts[0] for f in own.files or ()}):
                expected[own.metadata["Name"]] = own.version
                continue
        except m.PackageNotFoundError:
            pass
        expected.update({dist: m.version(dist) for dist in owners.get(name, []) if dist != "ml-article-pipeline"})
    assert found == expected
    assert {"scikit-learn", "python-dateutil", "pyzmq", "numpy", "matplotlib"} <= set(found)


def test_kitchen_sink_outputs_are_recorded(project, quiet):
    project.add("01_sink", KITCHEN_SINK)
    config = project.config()
    summary = execute(config, progress=quiet)
    assert summary.count("executed") == 1

    nb = nbformat.read(str(config.layout.executed_notebook("01_sink")), as_version=4)
    assert nb.metadata["pipeline_run"]["cache_key"] and nb.metadata["pipeline_run"]["mode"] == "executed"
    [record] = harvest(config, progress=quiet)
    assert record.title == "出力のいろいろ"
    assert record.execution.parameters == {"repeat": 3}
    # the packages listed are the ones the experiment imported (as its kernel saw them)
    assert {"matplotlib", "pandas", "nbformat"} <= set(record.environment.packages)
    assert "torch" not in record.environment.packages and "ml-article-pipeline" not in record.environment.packages
    assert record.glue["answer"].value == 42
    assert record.glue["ratio"].text == "0.1235"

    cells = record.cells
    assert [c.kind for c in cells][:3] == ["markdown", "code", "code"]
    assert cells[2].title == "Print things" and cells[3].title == ""
    assert cells[2].lines == (8, 17)
    streams = [o for o in cells[2].outputs if isinstance(o, StreamOutput)]
    # stdout and stderr are flushed on their own timers: their order between each other may vary
    stdout = StreamOutput("stdout", "".join(o.text for o in streams if o.name == "stdout"))
    assert "日本語の出力 日本語の出力 日本語の出力" in stdout.text
    assert "\x1b" not in stdout.text and "red" in stdout.text
    assert any(o.name == "stderr" and "to stderr" in o.text for o in streams)
    # machine paths are replaced: the project root by ".", site-packages by a short name
    assert "cwd: ./experiments module: site-packages/nbformat/__init__.py" in stdout.text
    assert str(project.root) not in record.to_json()
    # glue outputs are data, not visible outputs
    assert not any(isinstance(o, ResultOutput) for o in cells[2].outputs)

    [image] = cells[3].outputs
    assert isinstance(image, ImageOutput)
    assert image.alt == "Straight line"
    assert image.path == "figures/01_sink/01_sink-cell04-1.png"
    png = (config.layout.build / image.path).read_bytes()
    assert png.startswith(b"\x89PNG")

    [table] = cells[4].outputs
    assert table.markdown.splitlines()[0] == "| token_id | token |" or table.markdown.splitlines()[0].endswith("| token_id | token |")
    assert "a\\|b" in table.markdown and "40 rows" in table.markdown

    [long] = cells[5].outputs
    assert long.text.count("\n") == 3000

    [error] = cells[6].outputs
    assert isinstance(error, ErrorOutput) and error.ename == "ValueError"
    assert "on purpose" in error.traceback and "\x1b" not in error.traceback

    assert cells[7].outputs == () and "skip-execution" in cells[7].tags
    assert cells[8].outputs[0].text == "'done'"

    # the record round-trips through JSON unchanged
    again = ExperimentRecord.from_json(record.to_json())
    assert again == record
    assert repr(again) == "ExperimentRecord('01_sink', cells=9)"


FAILING = '''
# %% [markdown]
# # Fails

# %%
x = 1

# %%
def helper():
    return 1 / 0

helper()
'''


def test_an_exception_names_file_cell_lines_and_keeps_last_good_run(project, quiet):
    path = project.add("02_fails", FAILING.replace("helper()\n", "helper\n"))
    project.add("03_ok", "# %%\nprint('fine')\n")
    config = project.config()
    execute(config, progress=quiet)
    good = config.layout.executed_notebook("02_fails").read_text()

    path.write_text(FAILING.lstrip("\n"), encoding="utf-8")
    with pytest.raises(ExecutionFailed) as info:
        execute(config, progress=quiet)
    message = str(info.value)
    assert "experiments/02_fails.py, cell 3 (lines 7-11): ZeroDivisionError: division by zero" in message
    assert "helper()" in message and "\x1b" not in message
    [failure] = info.value.failures
    assert failure.lines == (7, 11)
    # the other experiment still ran (from cache here) and the last good notebook is untouched
    assert [o.status for o in info.value.summary.outcomes] == ["failed", "cached"]
    assert config.layout.executed_notebook("02_fails").read_text() == good
    saved = json.loads(failure_path(config, "02_fails").read_text())
    assert saved["ename"] == "ZeroDivisionError"

    # the report survives into the record, next to the last good outputs
    records = harvest(config, progress=quiet)
    assert records[0].failure.ename == "ZeroDivisionError"
    assert records[0].cells[1].source == "x = 1"

    # fixing the cell clears the failure
    path.write_text(FAILING.lstrip("\n").replace("1 / 0", "1 / 1"), encoding="utf-8")
    execute(config, progress=quiet)
    assert not failure_path(config, "02_fails").exists()


def test_fail_fast_stops_at_the_first_failure(project, quiet):
    project.add("01_bad", "# %%\nraise RuntimeError('boom')\n")
    project.add("02_never", "# %%\nprint('not reached')\n")
    config = project.config()
    with pytest.raises(ExecutionFailed) as info:
        execute(config, fail_fast=True, progress=quiet)
    assert [o.name for o in info.value.summary.outcomes] == ["01_bad"]
    assert not config.layout.executed_notebook("02_never").exists()


def test_cell_timeout_ends_with_a_clear_error(project, quiet):
    project.add("01_slow", "# %%\nimport time\n\n# %% sleeper\ntime.sleep(60)\n")
    config = project.config(cell_timeout=2)
    with pytest.raises(ExecutionFailed) as info:
        execute(config, progress=quiet)
    message = str(info.value)
    assert "cell 2 (lines 4-5): CellTimeoutError: cell did not finish within 2s (tool.pipeline.cell_timeout)" in message


def test_experiment_timeout_applies_across_cells(project, quiet):
    project.add("01_slowish", "# %%\nimport time\ntime.sleep(1.5)\n\n# %%\ntime.sleep(1.5)\n\n# %%\nprint(1)\n")
    config = project.config(cell_timeout=60, experiment_timeout=2)
    with pytest.raises(ExecutionFailed) as info:
        execute(config, progress=quiet)
    assert "experiment_timeout" in str(info.value)


def test_a_dying_kernel_is_reported_not_hung(project, quiet):
    project.add("01_dies", "# %%\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    config = project.config(cell_timeout=30)
    with pytest.raises(ExecutionFailed) as info:
        execute(config, progress=quiet)
    assert "DeadKernelError: the kernel died while running this cell" in str(info.value)


def test_unknown_kernel_names_the_setting(project, quiet):
    project.add("01_any", "# %%\nprint(1)\n")
    with pytest.raises(ExecutionFailed, match="no Jupyter kernel named 'no-such-kernel'.*tool.pipeline.kernel"):
        execute(project.config(kernel="no-such-kernel"), progress=quiet)


def test_parameters_from_config_are_injected(project, quiet):
    project.add("01_params", "# %% tags=['parameters']\nwords = 2\n\n# %%\nprint('x' * words)\n")
    project.write_config("[tool.pipeline.parameters]\nwords = 5\nunused = 1\n")
    config = project.config()
    execute(config, progress=quiet)
    [record] = harvest(config, progress=quiet)
    assert record.execution.parameters == {"words": 5}
    assert record.cells[1].tags == ("injected-parameters",)
    assert record.cells[2].outputs[0].text == "xxxxx\n"


def test_harvest_flags_observations_for_another_model_and_unknown_values(project, quiet):
    project.add("01_obs", '''
# %%
from pipeline.glue import MODEL_MIME, glue, publish
publish(MODEL_MIME, {"id": "SmolLM2-135M-Instruct", "source": "test", "dtype": "float32",
                     "quantization": "none", "device": "cpu", "parameters": 1})
glue("known", 1)

# %% [markdown] written_for="Mistral-7B-v0.1"
# Value {{ known }} and {{ unknown }}.

# %% [markdown] written_for="SmolLM2-135M-Instruct"
# Matches: {{ known }}.
''')
    config = project.config()
    execute(config, progress=quiet)
    [record] = harvest(config, progress=quiet)
    assert record.environment.model.id == "SmolLM2-135M-Instruct" and record.environment.device == "cpu"
    assert record.cells[1].metadata["model_mismatch"] == {"written_for": "Mistral-7B-v0.1", "model": "SmolLM2-135M-Instruct"}
    assert "model_mismatch" not in record.cells[2].metadata
    assert len(record.warnings) == 2
    assert "experiments/01_obs.py, cell 2 (lines 7-8): cites {{ unknown }}" in record.warnings[0] or \
        "experiments/01_obs.py, cell 2 (lines 7-8): cites {{ unknown }}" in record.warnings[1]
    assert any("written for Mistral-7B-v0.1 but the experiment ran SmolLM2-135M-Instruct" in w for w in record.warnings)


def test_prints_split_by_glue_values_read_as_one_output(project, quiet):
    project.add("01_split", "# %%\nfrom pipeline.glue import glue\nfor t in (1, 2, 3):\n    glue(f'v{t}', t)\n"
                            "    print('T =', t)\n")
    config = project.config()
    execute(config, progress=quiet)
    [record] = harvest(config, progress=quiet)
    assert record.cells[0].outputs == (StreamOutput("stdout", "T = 1\nT = 2\nT = 3\n"),)
    assert sorted(record.glue) == ["v1", "v2", "v3"]


def test_kernels_draw_japanese_labels_and_load_matplotlib_only_when_asked(project, quiet):
    """The kernel extension sets matplotlib's Japanese font as matplotlib is imported, in the cell
    that imports it; a kernel that never draws never loads matplotlib."""
    project.add("01_draws", "# %%\nimport matplotlib.pyplot as plt\nprint(plt.rcParams['font.family'])\n")
    project.add("02_no_figures", "# %%\nimport sys\nprint('matplotlib' in sys.modules)\n")
    config = project.config()
    execute(config, progress=quiet)
    printed = {r.name: r.cells[0].outputs[0].text.strip() for r in harvest(config, progress=quiet)}
    assert printed == {"01_draws": "['IPAexGothic']", "02_no_figures": "False"}
