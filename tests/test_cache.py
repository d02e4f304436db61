"""The execution cache: what re-runs an experiment and what does not (real kernels)."""

import nbformat
import pytest

from pipeline.run.execute import execute

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

    from pipeline.run.sessions import KernelSession

    monkeypatch.setattr(KernelSession, "start", refuse)  # whichever engine would run it, ahead or not
    monkeypatch.setattr(KernelSession, "launch", refuse)


def test_unchanged_experiment_starts_no_kernel_and_rewrites_nothing(cached_project, quiet, monkeypatch):
    _, _, config = cached_project
    _no_kernel(monkeypatch)
    before = config.layout.executed_notebook("01_cached").stat().st_mtime_ns
    assert _statuses(config, quiet) == ["cached"]
    assert config.layout.executed_notebook("01_cached").stat().st_mtime_ns == before


def test_markdown_only_change_is_merged_without_running(cached_project, quiet, monkeypatch):
    _, path, config = cached_project
    before = nbformat.read(str(config.layout.executed_notebook("01_cached")), as_version=4)
    path.write_text(path.read_text().replace("An observation.", "A better observation."), encoding="utf-8")
    _no_kernel(monkeypatch)
    assert _statuses(config, quiet) == ["cached"]
    after = nbformat.read(str(config.layout.executed_notebook("01_cached")), as_version=4)
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
    from importlib import metadata

    _, _, config = cached_project
    real = metadata.version

    def bumped(name):
        return "999.0" if name == "torch" else real(name)

    monkeypatch.setattr(metadata, "version", bumped)
    assert _statuses(config, quiet) == ["executed"]


KEY_OF_COPY = """
import json, sys
from pathlib import Path
from pipeline.config import load_config
from pipeline.experiments import discover
from pipeline.run.cache import cache_key
from pipeline.run.kernel_side import kernel_modules, module_path
config = load_config(sys.argv[1])
key = lambda: cache_key(discover(config)[0], config)
keys = {"": key()}
for name in kernel_modules() if sys.argv[2:] == ["edit"] else ():  # edited in turn, each edit kept
    path = module_path(name)
    path.write_text(path.read_text(encoding="utf-8") + "\\n# edited\\n", encoding="utf-8")
    keys[name] = key()
print(json.dumps(keys))
"""


def test_editing_any_kernel_side_module_changes_the_key(cached_project, tmp_path):
    """A copy of the package, each kernel-side module edited in turn: every edit is a new key
    (records.py among them: lab imports it inside the kernel). One process edits and asks for
    the key after each edit, as a build started after each edit would."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import pipeline

    project, _, _ = cached_project
    copy = tmp_path / "package"
    shutil.copytree(Path(pipeline.__file__).parent, copy / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))

    def keys_of_copy(*edit: str) -> dict[str, str]:
        done = subprocess.run([sys.executable, "-c", KEY_OF_COPY, str(project.root), *edit], env={"PYTHONPATH": str(copy)},
                              capture_output=True, text=True, check=True, cwd=tmp_path)
        return json.loads(done.stdout)

    keys = keys_of_copy("edit")
    modules = [name for name in keys if name]
    assert {"glue", "lab", "kernel_extension", "records", "errors"} <= set(modules)
    assert (copy / "pipeline" / "glue.py").read_text(encoding="utf-8").endswith("# edited\n")  # the copy's, never ours
    keys = set(keys.values())
    assert len(keys) == len(modules) + 1
    # a module experiments do not reach is not part of the key
    harvest = copy / "pipeline" / "article" / "harvest.py"
    harvest.write_text(harvest.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert keys_of_copy()[""] in keys


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
