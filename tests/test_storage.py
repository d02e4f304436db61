"""Publications swap everything in at once, recover after a kill, and one command runs at a time."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO

from pipeline.errors import BuildLocked
from pipeline.publish.lock import BuildLock
from pipeline.storage import Publication, exchange, recover


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_publication_swaps_files_and_folders_in_together(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    (tmp_path / "page.md").write_text("old page")
    (tmp_path / "stale.json").write_text("{}")
    with Publication(tmp_path / ".publish.json") as pub:
        folder = pub.folder(tmp_path / "out")
        (folder / "new.txt").write_text("new")
        pub.write(tmp_path / "page.md", "new page")
        pub.remove(tmp_path / "stale.json")
        assert (tmp_path / "page.md").read_text() == "old page"  # nothing changes before the commit
        assert pub.resolve(tmp_path / "out" / "new.txt") == folder / "new.txt"
    assert _tree(tmp_path / "out") == {"new.txt": "new"}
    assert (tmp_path / "page.md").read_text() == "new page"
    assert not (tmp_path / "stale.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "page.md"]  # no staging left, no journal


def test_an_error_discards_the_staging_and_changes_nothing(tmp_path):
    (tmp_path / "page.md").write_text("old page")
    with pytest.raises(RuntimeError):
        with Publication(tmp_path / ".publish.json") as pub:
            pub.write(tmp_path / "page.md", "new page")
            pub.folder(tmp_path / "figures")
            raise RuntimeError("a later stage failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.md"]
    assert (tmp_path / "page.md").read_text() == "old page"


def test_a_part_that_fails_is_dropped_and_the_rest_is_published(tmp_path):
    """A platform's files are one part: an error inside it drops what it staged (and nothing else),
    the publication goes on; ``drop`` forgets one staged target."""
    (tmp_path / "zenn.md").write_text("last good zenn")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_text("old image")
    with Publication(tmp_path / ".publish.json") as pub:
        pub.write(tmp_path / "site.md", "new site")
        with pytest.raises(ValueError):
            with pub.part():
                pub.write(tmp_path / "zenn.md", "new zenn")
                (pub.folder(tmp_path / "zenn-book") / "c.md").write_text("chapter")
                raise ValueError("Zenn would refuse it")
        with pub.part():
            pub.write(tmp_path / "qiita.md", "new qiita")
        (pub.folder(tmp_path / "images") / "b.png").write_text("new image")
        pub.drop(tmp_path / "images")
    assert (tmp_path / "zenn.md").read_text() == "last good zenn" and not (tmp_path / "zenn-book").exists()
    assert (tmp_path / "site.md").read_text() == "new site" and (tmp_path / "qiita.md").read_text() == "new qiita"
    assert _tree(tmp_path / "images") == {"a.png": "old image"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "qiita.md", "site.md", "zenn.md"]  # no staging


def test_unchanged_outputs_are_not_rewritten(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("same")
    before = page.stat().st_mtime_ns - 60 * 10**9  # a minute ago: a rewrite now shows, whatever the clock's grain
    os.utime(page, ns=(before, before))
    with Publication(tmp_path / ".publish.json") as pub:
        pub.write(page, "same")
    assert page.stat().st_mtime_ns == before


def test_exchange_swaps_two_folders_atomically(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b" / "x").write_text("b")
    if not exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("this file system has no renameat2(RENAME_EXCHANGE)")
    assert (tmp_path / "a" / "x").read_text() == "b" and (tmp_path / "b" / "x").read_text() == "a"


KILLED_MID_COMMIT = """
import os, signal, sys
from pathlib import Path
from pipeline import storage

root = Path(sys.argv[1])
calls = []
real = storage._swap_in
def swap_then_die(staged, target):
    real(staged, target)
    calls.append(target)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
storage._swap_in = swap_then_die
with storage.Publication(root / ".publish.json") as pub:
    for name in ("a", "b", "c"):
        folder = pub.folder(root / name)
        (folder / "v").write_text("new")
    pub.write(root / "page.md", "new")
"""


def test_a_kill_in_the_middle_of_a_commit_is_finished_by_the_next_command(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "v").write_text("old")
    (tmp_path / "page.md").write_text("old")
    script = tmp_path.parent / "kill.py"
    script.write_text(textwrap.dedent(KILLED_MID_COMMIT))
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == -9
    journal = json.loads((tmp_path / ".publish.json").read_text())
    assert len(journal["changes"]) == 4
    assert [(tmp_path / n / "v").read_text() for n in "abc"] == ["new", "new", "old"]  # half-done

    messages = []
    recover(tmp_path / ".publish.json", [tmp_path], warn=messages.append)
    assert [(tmp_path / n / "v").read_text() for n in "abc"] == ["new", "new", "new"]
    assert (tmp_path / "page.md").read_text() == "new"
    assert "finishing the publication" in messages[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "page.md"]  # no leftovers


def test_a_kill_mid_commit_leaves_no_staging_file_in_a_shared_folder(tmp_path):
    """The same kill with the publication staged in build/.staging: the shared folder holds old or
    new files only, never a hidden staging file; the next command finishes the publication."""
    shared = tmp_path / "shared"
    for name in ("a", "b", "c"):
        (shared / name).mkdir(parents=True)
        (shared / name / "v").write_text("old")
    (shared / "page.md").write_text("old")
    script = tmp_path / "kill.py"
    script.write_text(textwrap.dedent(KILLED_MID_COMMIT).replace(
        'storage.Publication(root / ".publish.json")',
        'storage.Publication(root.parent / "build" / ".publish.json", staging=root.parent / "build" / ".staging")'))
    result = subprocess.run([sys.executable, str(script), str(shared)], env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == -9
    assert [(shared / n / "v").read_text() for n in "abc"] == ["new", "new", "old"]  # half-done
    assert _hidden(shared) == [], _hidden(shared)  # but nothing half-made or staged in the writer's folder
    recover(tmp_path / "build" / ".publish.json", [tmp_path / "build"])
    assert [(shared / n / "v").read_text() for n in "abc"] == ["new", "new", "new"]
    assert (shared / "page.md").read_text() == "new" and _hidden(shared) == []
    assert list((tmp_path / "build" / ".staging").iterdir()) == []


def test_recover_removes_its_own_staging_leftovers_and_nothing_else(tmp_path):
    build, site = tmp_path / "build", tmp_path / "site"
    (build / "records").mkdir(parents=True)
    (build / "records" / ".x.json.k2j4x8_q.tmp").write_text("partial")
    (build / ".figures.a8b7c6d5.new").mkdir()
    (build / ".figures.12345.old").mkdir()
    (build / "keep.txt").write_text("keep")
    site.mkdir()
    (site / ".index.md.q1w2e3r4.new").write_text("staged page")
    (site / ".figures.4321.old").mkdir()
    for mine in (".notes.tmp", ".theme.old", ".custom.js.new", ".other.md.q1w2e3r4.new"):  # the user's files
        (site / mine).write_text("user's")
    recover(tmp_path / ".publish.json", [build], beside=[site / "index.md", site / "figures"])
    assert sorted(p.relative_to(build).as_posix() for p in build.rglob("*")) == ["keep.txt", "records"]
    assert sorted(p.name for p in site.iterdir()) == [".custom.js.new", ".notes.tmp", ".other.md.q1w2e3r4.new", ".theme.old"]


def _hidden(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(".*"))


def test_a_publication_stages_in_its_staging_folder_never_in_the_writers_folders(tmp_path):
    """Staged files sit in build/.staging (same file system) and are renamed across folders into
    place: a shared qiita-cli/zenn-cli folder never holds a hidden .NAME.*.new file, even mid-build."""
    shared, staging = tmp_path / "shared", tmp_path / "proj" / "build" / ".staging"
    (shared / "public").mkdir(parents=True)
    (shared / "public" / "mine.md").write_text("the writer's")
    (shared / "images" / "a").mkdir(parents=True)
    (shared / "images" / "a" / "old.png").write_text("old")
    (shared / "public" / "gone.md").write_text("stale")
    with Publication(tmp_path / ".publish.json", staging=staging) as pub:
        pub.write(shared / "public" / "a.md", "article")
        (pub.folder(shared / "images" / "a") / "new.png").write_text("new")
        pub.remove(shared / "public" / "gone.md")
        assert _hidden(shared) == [] and len(list(staging.iterdir())) == 2  # staged, and only there
        assert _tree(shared) == {"public/mine.md": "the writer's", "public/gone.md": "stale",
                                 "images/a/old.png": "old"}
    assert _tree(shared) == {"public/mine.md": "the writer's", "public/a.md": "article", "images/a/new.png": "new"}
    assert _hidden(shared) == [] and list(staging.iterdir()) == []  # the old contents went from the staging folder


def test_a_guard_refuses_a_target_before_anything_is_staged(tmp_path):
    def guard(paths):
        raise BuildLocked(f"refused {paths[0].name}")

    with pytest.raises(BuildLocked, match="refused page.md"):
        with Publication(tmp_path / ".publish.json", staging=tmp_path / ".staging", guard=guard) as pub:
            pub.write(tmp_path / "page.md", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_target_on_another_file_system_is_staged_beside_itself_and_the_build_says_so(tmp_path):
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (/dev/shm) to publish to")
    target = Path(tempfile.mkdtemp(dir=other)) / "public" / "a.md"
    try:
        said = []
        with Publication(tmp_path / ".publish.json", staging=tmp_path / ".staging", warn=said.append) as pub:
            pub.write(target, "one")
            pub.write(target.with_name("b.md"), "two")
            assert sorted(p.name.split(".")[1] for p in target.parent.iterdir()) == ["a", "b"]  # .a.md.XXXX.new beside it
        assert target.read_text() == "one" and target.with_name("b.md").read_text() == "two"
        assert _hidden(target.parent) == []
        assert len(said) == 1 and "another file system" in said[0] and str(target.parent) in said[0]
    finally:
        shutil.rmtree(target.parent.parent)


HOLD_LOCK = """
import sys, time
from pathlib import Path
from pipeline.publish.lock import BuildLock
with BuildLock(Path(sys.argv[1]), command="python -m pipeline build"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(tmp_path, seconds):
    script = tmp_path / "hold.py"
    script.write_text(HOLD_LOCK)
    holder = subprocess.Popen([sys.executable, str(script), str(tmp_path / ".lock"), str(seconds)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_command_waits_for_the_lock_and_names_the_holder(tmp_path):
    with _hold(tmp_path, 1.5) as holder:
        messages = []
        started = time.monotonic()
        with BuildLock(tmp_path / ".lock", notify=messages.append):
            waited = time.monotonic() - started
    assert waited > 0.5
    assert f"pid {holder.pid} (python -m pipeline build" in messages[0]


def test_without_waiting_the_second_command_stops_with_the_holder_named(tmp_path):
    with _hold(tmp_path, 30) as holder:
        try:
            with pytest.raises(BuildLocked, match=f"another command holds the build folder \\(pid {holder.pid}"):
                with BuildLock(tmp_path / ".lock", wait=False):
                    pass
        finally:
            holder.kill()
