"""Reading Jupytext percent scripts: discovery, order, line ranges, parameters."""

import pytest

from pipeline.errors import ExperimentFormatError, ExperimentNotFound
from pipeline.experiments import cell_line_ranges, discover

SCRIPT = """# ---
# jupyter:
#   pipeline:
#     data: []
# ---

# %% [markdown]
# # Title here
# text

# %% Load things
import os


# %% tags=["parameters"]
n = 1
name = "x"
"""


def test_line_ranges_skip_header_and_trailing_blanks():
    assert cell_line_ranges(SCRIPT) == [(7, 9), (11, 12), (15, 17)]


def test_text_before_the_first_marker_is_its_own_cell():
    assert cell_line_ranges("import os\n\n# %%\nx = 1\n") == [(1, 1), (3, 4)]


def test_discover_reads_title_parameters_and_ranges(project):
    project.add("01_one", SCRIPT)
    [exp] = discover(project.config())
    assert exp.title == "Title here"
    assert exp.parameters == {"n": 1, "name": "x"}
    assert [c.metadata["pipeline"]["lines"] for c in exp.notebook.cells] == [[7, 9], [11, 12], [15, 17]]
    assert repr(exp) == "Experiment('01_one', cells=3)"


def test_order_from_config_then_by_name(project):
    for name in ("01_a", "02_b", "03_c"):
        project.add(name, "# %%\nx = 1\n")
    project.write_config('order = ["03_c"]\n')
    assert [e.name for e in discover(project.config())] == ["03_c", "01_a", "02_b"]
    assert [e.name for e in discover(project.config(), ["02_b.py", "01_a"])] == ["01_a", "02_b"]


def test_unknown_name_lists_known_ones(project):
    project.add("01_a", "# %%\nx = 1\n")
    with pytest.raises(ExperimentNotFound, match="no experiment named 'nope'.*known: 01_a"):
        discover(project.config(), ["nope"])


def test_unknown_name_in_order_is_an_error(project):
    project.add("01_a", "# %%\nx = 1\n")
    project.write_config('order = ["zz"]\n')
    with pytest.raises(ExperimentNotFound, match="tool.pipeline.order names zz"):
        discover(project.config())


def test_script_without_markers_says_how_to_fix(project):
    project.add("01_plain", "print('no cells')\n")
    with pytest.raises(ExperimentFormatError, match=r"experiments/01_plain.py: no '# %%' cell markers"):
        discover(project.config())


def test_missing_data_file_names_it(project):
    project.add("01_d", "# ---\n# jupyter:\n#   pipeline:\n#     data: [missing.csv]\n# ---\n# %%\nx = 1\n")
    with pytest.raises(ExperimentFormatError, match="declared data file 'missing.csv' not found"):
        discover(project.config())
