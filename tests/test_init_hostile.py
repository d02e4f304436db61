"""`init` (and `config`, `build`) on hostile notebooks and folders (issue 24): whatever init writes
reads back (tomllib, yaml) to the values it chose, no raw control sequence from a notebook reaches
the terminal, a malformed notebook is an error naming the file and cell, init never writes through
a symbolic link out of the folder, and `init --force` rewrites only the [tool.pipeline] tables."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from helpers import raw_notebook
from test_init import SiteLoader, notebook, run

from pipeline.config import tomllib
from pipeline.errors import PipelineError
from pipeline.scaffold import init_project

#: headings as hostile notebooks have them: C0 controls with an ANSI colour, DEL, C1 controls (CSI, NEL),
#: noncharacters, quotes and backslashes, Unicode line separators
HOSTILE_HEADINGS = {
    "c0": "ctrl \x01\x1b[31m red \x7f",
    "c1": "c1 \x85\x9b31m x \ufffe y",
    "nonchar": "nonchar \ufdd0 \U0001fffe z \uffff",
    "quotes": "quote \" back \\ slash ' single",
    "separators": "sep\u2028line\u2029para\ttab",
    "bidi": "invoice \u202etxt.exe\u202c \u2066isolate\u2069",  # Trojan Source: the text shown reversed
}
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: what a title may not hold: controls, lone surrogates, noncharacters
UNWANTED = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
                      "\U0001fffe\U0001ffff]")


@pytest.mark.parametrize("heading", HOSTILE_HEADINGS.values(), ids=HOSTILE_HEADINGS.keys())
def test_hostile_headings_round_trip_and_never_reach_the_terminal_raw(tmp_path, heading):
    folder = tmp_path / "hostile"
    notebook(folder / "01_x.ipynb", ("markdown", f"# {heading}\n\ntext"), ("code", "x = 1"))
    done = run(["pipeline", "init", str(folder)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not RAW_CONTROL.search(done.stdout + done.stderr), ascii(done.stdout)

    table = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pipeline"]
    site = yaml.load((folder / "mkdocs.yml").read_text(encoding="utf-8"), Loader=SiteLoader)
    title = table["article"]["title"]
    assert site["site_name"] == title and title.strip() and not UNWANTED.search(title)
    assert f"  title: {title}\n" in done.stdout  # what init said is what it wrote
    assert re.fullmatch(r"[0-9a-z_-]{12,50}", table["article"]["slug"])

    shown = run(["pipeline", "-C", str(folder), "config"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["article"]["title"] == title


@pytest.mark.parametrize("title", ["red \x1b[31m", "c1 \x9b", "nonchar \ufffe", "a\ud800b", "bidi \u202eexe.txt"])
def test_a_title_given_with_control_characters_is_refused_before_anything_is_written(tmp_path, title):
    folder = tmp_path / "given"
    notebook(folder / "01_x.ipynb", ("markdown", "# Fine"))
    with pytest.raises(PipelineError, match=r"title: .*U\+"):
        init_project(folder, title=title)
    assert sorted(p.name for p in folder.iterdir()) == ["01_x.ipynb"]


MALFORMED = {
    "numbers": [{"cell_type": "markdown", "source": "# Numbers"}, {"cell_type": "code", "source": ["x = 1\n", 2]}],
    "surrogate": [{"cell_type": "markdown", "source": "# Surrogate"}, {"cell_type": "code", "source": "print('\udc80')"}],
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_a_malformed_notebook_is_an_error_naming_the_file_and_cell_in_init_config_and_build(tmp_path, kind):
    folder = tmp_path / "malformed"
    raw_notebook(folder / "01_bad.ipynb", MALFORMED[kind])
    for args in (["init", str(folder)], ["init", str(folder), "--title", "Given"], ["-C", str(folder), "config"]):
        if args[-1] == "config":  # a project without a title: config reads the notebooks for one
            assert sorted(p.name for p in folder.iterdir()) == ["01_bad.ipynb"]  # init refused, wrote nothing
            (folder / "pyproject.toml").write_text('[tool.pipeline]\nexperiments_dir = "."\n', encoding="utf-8")
        done = run(["pipeline", *args], tmp_path)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "error: " in done.stderr, done.stderr
        assert "01_bad.ipynb, cell 2" in done.stderr, done.stderr

    (folder / "pyproject.toml").unlink()
    done = run(["pipeline", "init", str(folder), "--title", "Given", "--tags", "Python"], tmp_path)
    assert done.returncode == 0, done.stderr  # nothing to read: the values are given
    build = run(["pipeline", "-C", str(folder), "build"], tmp_path)
    assert build.returncode == 1 and "Traceback" not in build.stderr, build.stderr
    assert "01_bad.ipynb, cell 2" in build.stderr and ("fix that cell" in build.stderr or "retype" in build.stderr)


@pytest.mark.parametrize("name", ["pyproject.toml", ".gitignore", "mkdocs.yml"])
def test_init_never_writes_through_a_link_out_of_the_folder(tmp_path, name):
    folder, outside = tmp_path / "linked", tmp_path / "elsewhere" / name
    outside.parent.mkdir()
    outside.write_text("# the writer's own file, elsewhere\n", encoding="utf-8")
    notebook(folder / "01_x.ipynb", ("markdown", "# Linked"))
    (folder / name).symlink_to(outside)
    with pytest.raises(PipelineError, match=rf"{re.escape(name)}: a symbolic link to {re.escape(str(outside))}, "
                                            r"which leads outside the project folder"):
        init_project(folder)
    assert outside.read_text(encoding="utf-8") == "# the writer's own file, elsewhere\n"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["01_x.ipynb", name])


def test_a_link_that_stays_in_the_folder_is_followed_and_kept(tmp_path):
    folder = tmp_path / "linked"
    notebook(folder / "01_x.ipynb", ("markdown", "# Linked"))
    (folder / "config").mkdir()
    (folder / "config" / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    (folder / "pyproject.toml").symlink_to("config/pyproject.toml")
    init_project(folder)
    assert (folder / "pyproject.toml").is_symlink()
    assert tomllib.loads((folder / "config" / "pyproject.toml").read_text())["tool"]["pipeline"]["article"]["title"] \
        == "Linked"


def test_init_force_rewrites_only_the_pipeline_tables(tmp_path):
    folder = tmp_path / "forced"
    notebook(folder / "01_x.ipynb", ("markdown", "# Forced"), ("code", "import numpy"))
    head = '[project]\nname = "x"  # mine\n\n'
    tail = ("\n\n# Black: keep at 99 because of the long URLs\n# (the CI checks it)\n[tool.black]\nline-length = 99\n"
            "\n\n")
    old = ('# ml-article-pipeline (python -m pipeline init); every setting: `python -m pipeline config`\n'
           '[tool.pipeline]\nexperiments_dir = "."\n\n[tool.pipeline.article]\ntitle = "Old"\n'
           '# a comment inside the table\ntags = ["Python"]\nslug = "old-slug-of-mine"')
    (folder / "pyproject.toml").write_text(head + old + tail, encoding="utf-8")
    init_project(folder, force=True)
    text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    assert text.startswith(head) and text.endswith(tail), text
    table = tomllib.loads(text)["tool"]["pipeline"]
    assert table["article"]["title"] == "Forced" and "old" not in text.lower().replace("black", "")
    assert tomllib.loads(text)["tool"]["black"] == {"line-length": 99}
    init_project(folder, force=True)
    assert (folder / "pyproject.toml").read_text(encoding="utf-8") == text  # a second --force changes nothing
