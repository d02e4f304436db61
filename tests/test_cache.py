"""The execution cache: what re-runs an experiment and what does not (real kernels)."""

import nbformat
import pytest

import pipeline.execute as execute_module
from pipeline import cache as cache_module
from pipeline.execute import execute


def executed_path(config, name):
    return config.layout.executed_notebook(name)

SOURCE = '''
# %% [markdown]
# # Cached
# An observation.

# %%
import random
print(random.random())
'''


def _statuses(config, progress):
    return [o.status for o in execute(config, progress=progress).outcomes]


@pytest.fixture
def cached_project(project, quiet):
    path = project.add("01_cached", SOURCE)
    config = project.config()
    assert _statuses(config, quiet) == ["executed"]
    return project, path, config


def _no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(execute_module, "run_notebook", refuse)


def test_unchanged_experiment_starts_no_kernel_and_rewrites_nothing(cached_project, quiet, monkeypatch):
    _, _, config = cached_project
    _no_kernel(monkeypatch)
    before = executed_path(config, "01_cached").stat().st_mtime_ns
    assert _statuses(config, quiet) == ["cached"]
    assert executed_path(config, "01_cached").stat().st_mtime_ns == before


def test_markdown_only_change_is_merged_without_running(cached_project, quiet, monkeypatch):
    _, path, config = cached_project
    before = nbformat.read(str(executed_path(config, "01_cached")), as_version=4)
    path.write_text(path.read_text().replace("An observation.", "A better observation."), encoding="utf-8")
    _no_kernel(monkeypatch)
    assert _statuses(config, quiet) == ["cached"]
    after = nbformat.read(str(executed_path(config, "01_cached")), as_version=4)
    assert "A better observation." in after.cells[0].source
    assert after.cells[1].outputs == before.cells[1].outputs


def test_non_execution_tag_change_does_not_rerun(cached_project, quiet, monkeypatch):
    _, path, config = cached_project
    path.write_text(path.read_text().replace("# %%\nimport", '# %% tags=["remove-input"]\nimport'), encoding="utf-8")
    _no_kernel(monkeypatch)
    assert _statuses(config, quiet) == ["cached"]


def test_code_change_reruns(cached_project, quiet):
    _, path, config = cached_project
    path.write_text(path.read_text() + "print('more')\n", encoding="utf-8")
    assert _statuses(config, quiet) == ["executed"]


def test_execution_tag_change_reruns(cached_project, quiet):
    _, path, config = cached_project
    path.write_text(path.read_text().replace("# %%\nimport", '# %% tags=["raises-exception"]\nimport'), encoding="utf-8")
    assert _statuses(config, quiet) == ["executed"]


def test_model_setting_change_reruns(cached_project, quiet):
    project, _, _ = cached_project
    project.write_config('[tool.pipeline.model]\nid = "some/other-model"\n')
    assert _statuses(project.config(), quiet) == ["executed"]


def test_package_version_change_reruns(cached_project, quiet, monkeypatch):
    _, _, config = cached_project
    real = cache_module.metadata.version

    def bumped(name):
        return "999.0" if name == "torch" else real(name)

    monkeypatch.setattr(cache_module.metadata, "version", bumped)
    assert _statuses(config, quiet) == ["executed"]


def test_helper_source_is_part_of_the_key(cached_project, monkeypatch):
    project, _, config = cached_project
    from pipeline.experiments import discover

    [experiment] = discover(config)
    before = cache_module.cache_key(experiment, config)
    monkeypatch.setattr(cache_module, "helpers_digest", lambda: "changed")
    assert cache_module.cache_key(experiment, config) != before


def test_declared_data_file_change_reruns(project, quiet):
    data = project.root / "experiments" / "words.txt"
    data.write_text("king\nqueen\n", encoding="utf-8")
    project.add("01_data", "# ---\n# jupyter:\n#   pipeline:\n#     data: [words.txt]\n# ---\n\n# %%\nprint(open('words.txt').read())\n")
    config = project.config()
    assert _statuses(config, quiet) == ["executed"]
    assert _statuses(config, quiet) == ["cached"]
    assert quiet.warnings == []  # a declared data file is not reported as a stray file
    data.write_text("king\nqueen\nprince\n", encoding="utf-8")
    assert _statuses(config, quiet) == ["executed"]


def test_force_reruns(cached_project, quiet):
    _, _, config = cached_project
    assert [o.status for o in execute(config, force=True, progress=quiet).outcomes] == ["executed"]


def test_corrupt_entry_is_reexecuted_with_a_warning(cached_project, quiet):
    _, _, config = cached_project
    [entry] = (config.layout.cache / "01_cached").glob("*.ipynb")
    entry.write_text("{ not json", encoding="utf-8")
    assert _statuses(config, quiet) == ["executed"]
    assert any("unreadable" in w and "re-executing 01_cached" in w for w in quiet.warnings)
    assert _statuses(config, quiet) == ["cached"]
