"""A build with nothing changed ends at once (pipeline.publish.uptodate), and any change to an
input or an output makes it run the stages again. Real CLI runs, real kernels."""

import json
import os
import time

from helpers import png
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


def test_an_image_the_prose_links_outside_experiments_is_watched(project):
    red, blue = png(1, 1, (255, 0, 0)), png(1, 1, (0, 0, 255))
    (project.root / "images").mkdir()
    (project.root / "images" / "d.png").write_bytes(red)
    _project(project)  # the experiment below is added before the stamped builds
    path = project.root / "experiments" / "01_sum.py"
    path.write_text(path.read_text(encoding="utf-8").replace("# The numbers are added up.",
                                                            "# The numbers are added up.\n#\n# ![diagram](../images/d.png)"),
                    encoding="utf-8")
    _age(project.root)
    _built(project)
    _age(project.root)
    _built(project)
    (project.root / "images" / "d.png").write_bytes(blue)
    assert UP_TO_DATE not in _built(project)
    published = [p for p in (project.root / "site" / "figures").rglob("d*.png")]
    assert published and all(p.read_bytes() == blue for p in published)


def test_a_symlinked_template_folder_and_an_odd_file_name_are_walked(project, tmp_path):
    import shutil

    from pipeline.layout import DEFAULT_TEMPLATES

    shared = tmp_path / "shared"
    shutil.copytree(DEFAULT_TEMPLATES / "qiita", shared / "qiita")
    (project.root / "templates").mkdir()
    (project.root / "templates" / "qiita").symlink_to(shared / "qiita", target_is_directory=True)
    (project.root / "experiments" / "notes").mkdir()
    (project.root / "experiments" / "notes" / os.fsdecode(b"caf\xe9.txt")).write_text("x", encoding="utf-8")
    _project(project)
    assert UP_TO_DATE in _built(project)  # a file name that is not UTF-8 breaks nothing
    blocks = shared / "qiita" / "blocks.md.j2"
    blocks.write_text(blocks.read_text(encoding="utf-8") + "\n{#- edited #}\n", encoding="utf-8")
    assert UP_TO_DATE not in _built(project)


def test_another_pythonpath_is_another_environment(project, tmp_path):
    from conftest import REPO

    _project(project)
    result = _run(["build"], project.root, PYTHONPATH=f"{REPO}{os.pathsep}{tmp_path}")
    assert result.returncode == 0 and UP_TO_DATE not in result.stderr


def test_an_input_changed_during_the_build_leaves_no_stamp(project, quiet):
    from pipeline.build import build
    from pipeline.publish import uptodate

    _project(project)
    config = project.config()
    started = time.time_ns()
    result = build(config, progress=quiet)
    assert result.count("cached") == 1
    stamp = project.build / ".uptodate.json"
    stamp.unlink()
    assert uptodate.stamp(config, result, (), started) is None and stamp.exists()  # the control: nothing changed
    stamp.unlink()
    path = project.root / "experiments" / "01_sum.py"
    path.write_text(path.read_text(encoding="utf-8") + "\n# %%\nprint(2)\n", encoding="utf-8")  # "during" the build
    assert uptodate.stamp(config, result, (), started) is None and not stamp.exists()


def test_a_one_off_warning_is_not_repeated(project):
    _project(project)
    for entry in (project.build / "cache" / "01_sum").iterdir():
        entry.write_text("{garbage", encoding="utf-8")
    warned = _built(project)
    assert "is unreadable" in warned and "01_sum: executing" in warned
    _age(project.root)
    settled = _built(project)  # ran nothing: this one stamps
    assert "is unreadable" not in settled
    again = _built(project)
    assert UP_TO_DATE in again and "0 warnings" in again and "unreadable" not in again
