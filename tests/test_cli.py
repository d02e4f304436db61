"""The command line as a user runs it: a real subprocess."""

import os
import re
import subprocess
import sys

from conftest import REPO


def _run(args, cwd, **env):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env}, timeout=300)


def test_help_lists_the_commands(tmp_path):
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0
    listed = result.stdout.split("commands (python -m pipeline COMMAND --help for each):")[1]
    found = re.findall(r"^    (\w+) ", listed, re.M)
    assert found == ["init", "build", "execute", "harvest", "export", "preview", "status", "config"]


def test_help_does_not_import_heavy_libraries(tmp_path):
    code = "import sys, pipeline.cli as c\ntry:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n" \
           "print(sorted(m for m in ('torch','transformers','nbclient','openai','jupytext') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_config_error_is_one_readable_message(project):
    project.write_config("bogus = 1\n")
    result = _run(["execute"], project.root)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "tool.pipeline.bogus: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_reraises_with_traceback(project):
    project.write_config("bogus = 1\n")
    result = _run(["--debug", "execute"], project.root)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_execute_then_harvest_plain_log_lines(project):
    project.add("01_hello", "# %% [markdown]\n# # Hello\n\n# %%\nprint('hi')\n")
    first = _run(["execute"], project.root)
    assert first.returncode == 0, first.stderr
    assert "[1/1] 01_hello: executing 1 code cell" in first.stderr
    assert "cell 2 [1/1] print('hi')" in first.stderr  # the notebook's cell number, as errors give it
    assert "\r" not in first.stderr  # not a TTY: plain lines
    second = _run(["execute"], project.root)
    assert "[1/1] 01_hello: cached" in second.stderr
    harvest = _run(["harvest"], project.root)
    assert harvest.returncode == 0
    assert (project.build / "records" / "01_hello.json").is_file()


def test_failing_cell_exits_non_zero_with_location(project):
    project.add("01_bad", "# %%\nx = 1\n\n# %%\nx.missing\n")
    result = _run(["execute"], project.root)
    assert result.returncode == 1
    assert "experiments/01_bad.py, cell 2 (lines 4-5): AttributeError" in result.stderr
    assert "\x1b[" not in result.stderr


def test_preview_on_a_taken_port_is_one_clear_error_before_any_build(project):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(["preview", "--port", str(port)], project.root)
    assert result.returncode == 1, result.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project.root / "build").exists()  # refused before the first build


def test_build_all_treats_any_failure_as_that_projects_and_goes_on(tmp_path, monkeypatch, capsys):
    """An unexpected error (a bug) in one article of `build --all` is that article's failure: no
    traceback, the message says how to see one, the next article is still built, exit 1."""
    from pipeline import cli
    from pipeline.errors import PipelineError

    for name in ("a-first", "b-second"):
        (tmp_path / name / "experiments").mkdir(parents=True)
        (tmp_path / name / "pyproject.toml").write_text("[tool.pipeline]\n", encoding="utf-8")
    tried = []

    def build(config, args, progress, **options):
        tried.append(config.root.name)
        if config.root.name == "a-first":
            raise RuntimeError("boom\nin a second line")
        raise PipelineError("b-second: a known problem\nwith its fix on the next line")

    monkeypatch.setattr(cli, "_build", build)
    assert cli.main(["-C", str(tmp_path), "build", "--all"]) == 1
    err = capsys.readouterr().err
    assert tried == ["a-first", "b-second"] and "Traceback" not in err
    assert "unexpected RuntimeError: boom" in err and "build --debug" in err
    assert "  a-first: FAILED: unexpected RuntimeError: boom in a second line" in err
    assert "  b-second: FAILED: b-second: a known problem with its fix on the next line" in err
