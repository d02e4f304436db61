"""Each cell's request sent while the cell before runs (``pipeline.run.ahead``), in real kernels:
the next request is queued ahead, outputs stay each cell's own, and a cell that fails or runs out
of time stops the one queued behind it, as if it had never been sent."""

import json

import pytest

from pipeline.errors import ExecutionFailed
from pipeline.run import ahead
from pipeline.run.execute import execute


def _cells(config, name):
    nb = json.loads(config.layout.executed_notebook(name).read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _text(cell):
    return "".join("".join(o["text"]) for o in cell["outputs"] if o["output_type"] == "stream")


def test_the_next_cells_request_goes_while_the_cell_before_runs(project, quiet, monkeypatch):
    events = []
    asked, sent = ahead.SendAhead.execute, ahead.SendAhead._send
    monkeypatch.setattr(ahead.SendAhead, "execute", lambda self, code, **o: (events.append(("asked", code)), asked(self, code, **o))[1])
    monkeypatch.setattr(ahead.SendAhead, "_send", lambda self, request: (events.append(("sent", request[0])), sent(self, request))[1])
    project.add("01_three", "# %%\nimport time\nprint('a'); time.sleep(0.3); print('a2')\n\n# %%\nprint('b')\n\n# %%\n\n\n# %%\nprint('c')\n")
    config = project.config()
    execute(config, progress=quiet)
    a, b, c = "import time\nprint('a'); time.sleep(0.3); print('a2')", "print('b')", "print('c')"
    # the blank cell is never sent (nbclient skips it), so 'c' goes ahead of 'b''s turn
    assert events == [("asked", a), ("sent", a), ("sent", b), ("asked", b), ("sent", c), ("asked", c)]
    cells = _cells(config, "01_three")
    assert [_text(cell) for cell in cells] == ["a\na2\n", "b\n", "", "c\n"]
    assert [cell["execution_count"] for cell in cells] == [1, 2, None, 4]


def test_a_failing_cell_stops_the_cell_queued_behind_it(project, quiet, tmp_path):
    marker = tmp_path / "ran"
    project.add("01_fails", f"# %%\nimport time\ntime.sleep(0.2)\n1 / 0\n\n# %%\nopen({str(marker)!r}, 'w').write('x')\n")
    config = project.config()
    with pytest.raises(ExecutionFailed, match="ZeroDivisionError"):
        execute(config, progress=quiet)
    assert not marker.exists()


def test_a_cell_that_may_fail_lets_the_next_one_run(project, quiet, tmp_path):
    marker = tmp_path / "ran"
    project.add("01_may_fail", "# %% tags=[\"raises-exception\"]\nimport time\ntime.sleep(0.2)\n1 / 0\n\n"
                               f"# %%\nopen({str(marker)!r}, 'w').write('x')\nprint('after')\n")
    config = project.config()
    execute(config, progress=quiet)
    assert marker.exists()
    first, second = _cells(config, "01_may_fail")
    assert [o["output_type"] for o in first["outputs"]] == ["error"] and _text(second) == "after\n"


def test_a_cell_out_of_time_stops_the_cell_queued_behind_it(project, quiet, tmp_path):
    marker = tmp_path / "ran"
    project.add("01_slow", f"# %%\nimport time\ntime.sleep(30)\n\n# %%\nopen({str(marker)!r}, 'w').write('x')\n")
    config = project.config(cell_timeout=2)
    with pytest.raises(ExecutionFailed, match="CellTimeoutError"):
        execute(config, progress=quiet)
    assert not marker.exists()


def test_a_kernel_dying_in_the_cell_sent_ahead_is_reported_there(project, quiet):
    """The kill comes as the second cell starts, often before nbclient has the first cell's last
    message: the failure still names the second cell, and the first keeps its output."""
    project.add("01_dies", "# %%\nprint('first')\n\n# %%\nimport os\nos.kill(os.getpid(), 9)\n")
    config = project.config(cell_timeout=60)
    for _ in range(3):  # the race goes either way: each time the second cell is named
        with pytest.raises(ExecutionFailed) as info:
            execute(config, progress=quiet)
        assert "01_dies.py, cell 2 (lines 4-6): DeadKernelError" in str(info.value)
