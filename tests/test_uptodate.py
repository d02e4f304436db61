"""A build with nothing changed ends at once (pipeline.uptodate), and any change to an
input or an output makes it run the stages again. Real CLI runs, real kernels."""

import json
import os
import time

from test_cli import _run

UP_TO_DATE = "up to date, nothing changed since the last build"


def _age(root, seconds=30):
    """Date every file of the project back, as if written a while ago (a fresh input
    keeps the stamp unwritten, see uptodate.RACY_NS)."""
    then = time.time() - seconds
    for folder, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(folder, name), (then, then))


def _outputs(project):
    found = {}
    for top in (project.build, project.root / "site"):
        for folder, _, names in os.walk(top):
            for name in names:
                path = os.path.join(folder, name)
                if not path.endswith(".uptodate.json") and "/.lock" not in path:
                    found[path] = os.stat(path).st_mtime_ns
    return found


def _built(project, *args):
    result = _run(["build", *args], project.root)
    assert result.returncode == 0, result.stderr
    return result.stderr


def _project(project):
    (project.root / "data").mkdir()
    (project.root / "data" / "numbers.txt").write_text("1 2 3\n", encoding="utf-8")
    project.add("01_sum", '''
        # ---
        # jupyter:
        #   pipeline:
        #     data: ../data/numbers.txt
        # ---

        # %% [markdown]
        # # Sum
        #
        # The numbers are added up.

        # %% Add
        from pathlib import Path
        print(sum(int(x) for x in Path("../data/numbers.txt").read_text().split()))
        ''')
    _age(project.root)
    _built(project)
    _age(project.root)  # the outputs too: a later rewrite must show in their times
    _built(project)  # a full build with nothing changed writes the stamp


def test_nothing_changed_runs_no_stage_and_writes_nothing(project):
    _project(project)
    before = _outputs(project)
    log = _built(project)
    assert UP_TO_DATE in log and "1 experiments" in log
    assert "01_sum" not in log  # not even "cached": no stage ran
    assert "MkDocs page:" in log and "qiita-cli file:" in log  # the paths are still listed
    assert _outputs(project) == before


def test_an_edit_to_the_prose_rebuilds_the_article(project):
    _project(project)
    path = project.root / "experiments" / "01_sum.py"
    path.write_text(path.read_text(encoding="utf-8").replace("added up", "summed, once more"), encoding="utf-8")
    log = _built(project)
    assert UP_TO_DATE not in log and "01_sum: cached" in log
    assert "summed, once more" in (project.root / "site" / "index.md").read_text(encoding="utf-8")


def test_a_declared_data_file_outside_experiments_is_watched(project):
    _project(project)
    (project.root / "data" / "numbers.txt").write_text("1 2 3 4\n", encoding="utf-8")
    log = _built(project)
    assert UP_TO_DATE not in log and "01_sum: executing" in log
    assert "10" in json.dumps(json.loads((project.build / "records" / "01_sum.json").read_text(encoding="utf-8")))


def test_a_deleted_or_edited_output_is_written_again(project):
    _project(project)
    page = project.root / "site" / "index.md"
    good = page.read_text(encoding="utf-8")
    page.unlink()
    assert UP_TO_DATE not in _built(project)
    assert page.read_text(encoding="utf-8") == good
    _age(project.root)
    _built(project)  # stamps again
    article = project.build / "qiita" / "article.md"
    article.write_text("edited by hand\n", encoding="utf-8")
    assert UP_TO_DATE not in _built(project)
    assert article.read_text(encoding="utf-8") != "edited by hand\n"


def test_force_a_config_change_and_a_bad_stamp_run_the_stages(project):
    _project(project)
    assert "01_sum: executing" in _built(project, "--force")
    _age(project.root)
    _built(project)
    project.write_config('[tool.pipeline.article]\ntitle = "Another title"\n')
    assert UP_TO_DATE not in _built(project)
    _age(project.root)
    _built(project)
    stamp = project.build / ".uptodate.json"
    stamp.write_text("{not json", encoding="utf-8")
    log = _built(project)
    assert UP_TO_DATE not in log and "01_sum: cached" in log
    assert UP_TO_DATE in _built(project)


def test_a_failed_build_leaves_no_stamp(project):
    _project(project)
    project.add("02_bad", "# %% [markdown]\n# # Bad\n\n# %%\n1 / 0\n")
    result = _run(["build", "--keep-going"], project.root)
    assert result.returncode == 1
    assert not (project.build / ".uptodate.json").exists()
    assert UP_TO_DATE not in _run(["build", "--keep-going"], project.root).stderr
