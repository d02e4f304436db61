"""The machine-wide model cache (pipeline.model_cache): where it is, one conversion for concurrent
builds in separate processes, leftovers of a killed conversion, and the embedded model shared by
two copies of a project built at the same time (real kernels, real conversion)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from helpers import masked_record, pipeline_command

from pipeline import model_cache
from pipeline.config import load_config


def test_the_default_is_one_folder_per_machine(project, tmp_path):
    config = project.config()
    assert model_cache.location(config, {"XDG_CACHE_HOME": str(tmp_path / "xdg")}) == \
        ((tmp_path / "xdg" / "ml-article-pipeline" / "models").resolve(), "")
    assert model_cache.location(config, {})[0] == (Path.home() / ".cache" / "ml-article-pipeline" / "models").resolve()
    assert model_cache.location(config, {"PIPELINE_MODEL_CACHE": str(tmp_path / "env"), "XDG_CACHE_HOME": "/x"})[0] == \
        (tmp_path / "env").resolve()


def test_the_setting_moves_it_and_models_dir_still_works_with_a_warning(project, tmp_path):
    project.write_config('model_cache = "weights"\n')
    assert model_cache.location(project.config(), {}) == ((project.root / "weights").resolve(), "")
    project.write_config(f'model_cache = "{tmp_path / "abs"}"\n')
    assert model_cache.location(project.config(), {})[0] == (tmp_path / "abs").resolve()
    project.write_config('models_dir = "old/models"\n')
    folder, warning = model_cache.location(project.config(), {})
    assert folder == (project.root / "old" / "models").resolve()
    assert "models_dir is deprecated" in warning and "rename the key to model_cache" in warning


def test_the_deprecation_is_shown_by_execute(project):
    import io

    from pipeline.progress import Progress
    from pipeline.run.execute import execute

    project.add("01_a", "# %%\nprint(1)\n")
    project.write_config('models_dir = "old/models"\nprestart = "off"\n')
    stream = io.StringIO()
    execute(project.config(), progress=Progress(stream=stream, live=False))
    assert "tool.pipeline.models_dir is deprecated" in stream.getvalue()


CONVERT = """
import sys, time
from pathlib import Path
from pipeline import model_cache

cache, source, log = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

def convert(staging):
    with open(log, "a") as f:
        f.write("convert\\n")
    (staging / "weights.bin").write_bytes(source.read_bytes() * 2)
    # the event, not a pause: the other process is blocked on this entry's lock (a "->" line in /proc/locks)
    entry = staging.name[len(".staging-"):staging.name.rindex("-")]
    inode = str((staging.parent / ".locks" / f"{entry}.lock").stat().st_ino)
    deadline = time.monotonic() + 60
    while not any("->" in line and line.split()[-3].rsplit(":", 1)[-1] == inode for line in open("/proc/locks")):
        if time.monotonic() > deadline:
            raise SystemExit("the other process never waited for the lock")
        time.sleep(0.01)
    (staging / "config.json").write_text("{}")

print(model_cache.ensure(cache, "toy", source, 1, convert))
"""


def test_concurrent_builds_convert_once_and_share_the_entry(tmp_path):
    source = tmp_path / "model.gguf"
    source.write_bytes(b"weights" * 1000)
    cache, log = tmp_path / "cache", tmp_path / "conversions.log"
    command = [sys.executable, "-c", CONVERT, str(cache), str(source), str(log)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first, second = (subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2))
    outputs = [p.communicate(timeout=120)[0].strip() for p in (first, second)]
    assert first.returncode == second.returncode == 0
    assert outputs[0] == outputs[1]
    folder = Path(outputs[0])
    assert log.read_text() == "convert\n"  # one conversion; the other waited for it
    assert folder.name == model_cache.entry_name("toy", model_cache.source_digest(source), 1)
    assert (folder / "weights.bin").read_bytes() == source.read_bytes() * 2
    assert json.loads((folder / model_cache.MARKER).read_text())["sha256"] == model_cache.source_digest(source)
    assert [p.name for p in cache.iterdir() if p.name.startswith(".staging")] == []


def test_a_killed_conversion_leaves_nothing_that_counts(tmp_path):
    source = tmp_path / "model.gguf"
    source.write_bytes(b"abc")
    cache = tmp_path / "cache"
    name = model_cache.entry_name("toy", model_cache.source_digest(source, cache), 1)
    half = cache / name  # renamed into place by an older version, without its marker
    half.mkdir(parents=True)
    (half / "weights.bin").write_bytes(b"half")
    stale = cache / f".staging-{name}-killed"
    stale.mkdir()
    calls = []

    def convert(staging):
        calls.append(staging)
        (staging / "weights.bin").write_bytes(b"whole")

    folder = model_cache.ensure(cache, "toy", source, 1, convert)
    assert folder == half and (folder / "weights.bin").read_bytes() == b"whole" and len(calls) == 1
    assert not stale.exists()
    assert model_cache.ensure(cache, "toy", source, 1, convert) == folder and len(calls) == 1  # finished: kept
    assert model_cache.ensure(cache, "toy", source, 2, convert) != folder and len(calls) == 2  # new converter


def test_the_source_hash_is_remembered_until_the_file_changes(tmp_path):
    source = tmp_path / "model.gguf"
    source.write_bytes(b"one")
    cache = tmp_path / "cache"
    digest = model_cache.source_digest(source, cache)
    memo = json.loads((cache / "hashes.json").read_text())
    assert list(memo.values()) == [digest]
    memo = {key: "0" * 64 for key in memo}  # a remembered value is used as long as the file is unchanged
    (cache / "hashes.json").write_text(json.dumps(memo))
    assert model_cache.source_digest(source, cache) == "0" * 64
    source.write_bytes(b"two!")
    assert model_cache.source_digest(source, cache) not in (digest, "0" * 64)


@pytest.mark.slow
def test_two_copies_of_the_project_built_at_once_share_one_conversion(tmp_path):
    """A fresh machine cache, two copies of the project executing 01_model at the same time: one
    conversion, both succeed, same records; the conversion lives outside both projects."""
    cache = tmp_path / "machine-cache"
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    roots = []
    for copy in ("a", "b"):
        root = tmp_path / copy
        shutil.copytree(REPO / "experiments", root / "experiments")
        (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        roots.append(root)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_MODEL_CACHE": str(cache)}
    runs = [subprocess.Popen(pipeline_command("-q", "execute", "01_model"), cwd=root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for root in roots]
    for run in runs:
        output = run.communicate(timeout=900)[0]
        assert run.returncode == 0, output
    entries = [p for p in cache.iterdir() if p.name.startswith("smollm2-")]
    assert len(entries) == 1 and model_cache.finished(entries[0])
    assert not any((root / "build" / "models").exists() for root in roots)
    records = []
    for root in roots:
        from pipeline.article.harvest import harvest
        from pipeline.progress import Progress

        [record] = harvest(load_config(root), ["01_model"], progress=Progress(quiet=True, live=False))
        records.append(masked_record(record))
    assert records[0] == records[1]
    assert entries[0].name in json.dumps(records[0])  # the record names the shared entry


def test_kernels_are_told_the_machine_cache(project, tmp_path, monkeypatch):
    """What the kernel is told (PIPELINE_SETTINGS) is the machine's cache, not build/models."""
    from pipeline.lab import kernel_settings
    from pipeline.run.cache import environment_parts

    monkeypatch.setenv("PIPELINE_MODEL_CACHE", str(tmp_path / "m"))
    config = project.config()
    assert kernel_settings(config)["models_dir"] == str((tmp_path / "m").resolve())
    assert "models_dir" not in json.dumps(environment_parts(config))  # moving the cache re-runs nothing
