"""Figures pinned to the writer's own repository (pipeline.publish.githost), with real git.

The remote is a local bare repository reached under a GitHub-style URL through a per-repository
``url.<base>.insteadOf``, so ``git push`` works and nothing touches the network. Every pinned
URL's commit and path are checked in the bare repository itself (``git cat-file -e``).
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import png
from test_uptodate import _age

from pipeline.publish import githost
from pipeline.publish.githost import GitHostError, pin, raw_url_base, repo_root

URL = "https://github.com/alice/articles.git"
RAW = "https://raw.githubusercontent.com/alice/articles/{sha}/{path}"
FIGURE = "images/my-slug/loss.png"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass
class World:
    bare: Path  # the "remote"
    work: Path  # the writer's clone

    def write(self, rel: str = FIGURE, data: bytes | None = None) -> Path:
        path = self.work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png() if data is None else data)
        return path

    def commit(self, *rels: str, message: str = "figures") -> None:
        git(self.work, "add", *(rels or ["-A"]))
        git(self.work, "commit", "-q", "-m", message)

    def pushed(self) -> str:
        """The branch's commit in the bare repository."""
        return git(self.bare, "rev-parse", "main")

    def served(self, pins: githost.Pins) -> None:
        """Every pinned URL names a commit and path the remote holds, with the file's exact bytes."""
        for file, url in pins.urls.items():
            match = re.fullmatch(r"https://raw\.githubusercontent\.com/alice/articles/([0-9a-f]{40})/(.+)", url)
            assert match, url
            sha, path = match[1], unquote(match[2])
            subprocess.run(["git", "cat-file", "-e", f"{sha}:{path}"], cwd=self.bare, check=True)
            blob = subprocess.run(["git", "cat-file", "blob", f"{sha}:{path}"], cwd=self.bare,
                                  capture_output=True, check=True).stdout
            assert blob == Path(file).read_bytes()


def run_advice(pins: githost.Pins, cwd: Path) -> None:
    """Run the command the advice gives, exactly as written."""
    command = re.search(r"Run `(.+?)`; the next build links them", pins.advice)
    assert command, pins.advice
    subprocess.run(command[1], shell=True, cwd=cwd, check=True, capture_output=True)


@pytest.fixture(autouse=True)
def _git_env(monkeypatch):
    """No user or system git config leaks in (HOME is a temp folder, see conftest), no proxy either."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("XDG_CONFIG_HOME", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_GLOBAL",
                 "GIT_SSH_COMMAND", "http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy",
                 "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


def make_world(tmp_path: Path, url: str = URL) -> World:
    bare, work = tmp_path / "remote.git", tmp_path / "articles"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    git(work, "config", "user.name", "Alice")
    git(work, "config", "user.email", "alice@example.org")
    git(work, "remote", "add", "origin", url)
    git(work, "config", f"url.{bare.as_uri()}.insteadOf", url)
    (work / "README.md").write_text("articles\n")
    git(work, "add", "README.md")
    git(work, "commit", "-q", "-m", "start")
    return World(bare, work)


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    made = make_world(tmp_path)
    git(made.work, "push", "-q", "-u", "origin", "main")
    monkeypatch.chdir(made.work)
    return made


def test_an_uncommitted_figure_is_pending_and_the_advice_commits_and_pushes_it(world):
    figure = world.write()
    pins = pin([figure], repo=world.work)
    assert pins.urls == {} and pins.pending == (figure,)
    assert pins.commit == world.pushed()
    assert "Not committed yet: images/my-slug/loss.png." in pins.advice
    assert 'Run `git add images/my-slug && git commit -m "figures" && git push`;' in pins.advice
    run_advice(pins, world.work)
    after = pin([figure], repo=world.work)
    assert after.pending == () and after.advice == ""
    assert after.urls == {figure: RAW.format(sha=world.pushed(), path=FIGURE)}
    world.served(after)


def test_a_committed_figure_not_pushed_is_pending_and_the_advice_pushes(world):
    figure = world.write()
    world.commit()
    pins = pin([figure], repo=world.work)
    assert pins.pending == (figure,) and pins.urls == {}
    assert "Committed but not pushed to origin: images/my-slug/loss.png." in pins.advice
    assert "Run `git push`;" in pins.advice and "Not committed" not in pins.advice
    run_advice(pins, world.work)
    world.served(pin([figure], repo=world.work))
    assert pin([figure], repo=world.work).pending == ()


def test_pushed_figures_are_pinned_to_a_commit_the_remote_holds(world):
    names = [FIGURE, "images/my-slug/acc.png", "images/my-slug/図 1 (a).png", "images/other/deep/x.png"]
    figures = [world.write(name, png(rgb=(i * 40, 0, 0))) for i, name in enumerate(names)]
    world.commit()
    git(world.work, "push", "-q")
    pins = pin(figures, repo=world.work)
    sha = world.pushed()
    assert pins.commit == sha and pins.pending == () and pins.advice == ""
    assert pins.urls[figures[0]] == RAW.format(sha=sha, path=FIGURE)
    assert pins.urls[figures[2]].endswith("/images/my-slug/%E5%9B%B3%201%20%28a%29.png")
    assert set(pins.urls) == set(figures)
    world.served(pins)
    assert repr(pins) == f"Pins(pinned=4, pending=0, commit={sha[:12]})"


def test_relative_paths_are_taken_from_the_repository(world, tmp_path, monkeypatch):
    world.write()
    world.commit()
    git(world.work, "push", "-q")
    monkeypatch.chdir(tmp_path)
    pins = pin([Path(FIGURE)], repo=world.work)
    assert pins.urls == {Path(FIGURE): RAW.format(sha=world.pushed(), path=FIGURE)}


def test_a_figure_changed_after_the_push_is_pending_again(world):
    figure = world.write()
    world.commit()
    git(world.work, "push", "-q")
    assert pin([figure], repo=world.work).pending == ()
    world.write(data=png(rgb=(1, 2, 3)))
    pins = pin([figure], repo=world.work)
    assert pins.pending == (figure,) and pins.urls == {}
    assert "Not committed yet: images/my-slug/loss.png." in pins.advice
    world.commit()
    assert "Committed but not pushed" in pin([figure], repo=world.work).advice


def test_only_changed_figures_are_pending(world):
    kept, changed = world.write("images/my-slug/a.png"), world.write("images/my-slug/b.png")
    world.commit()
    git(world.work, "push", "-q")
    world.write("images/my-slug/b.png", png(rgb=(9, 9, 9)))
    pins = pin([kept, changed], repo=world.work)
    assert list(pins.urls) == [kept] and pins.pending == (changed,)
    world.served(pins)


def test_a_stale_remote_tracking_ref_reads_as_not_pushed_until_fetched(world):
    """A push the remote-tracking ref does not know of (here: to the remote's path instead of its
    name) is not seen until `git fetch`: builds never use the network."""
    figure = world.write()
    world.commit()
    git(world.work, "push", "-q", str(world.bare), "main")
    assert git(world.work, "rev-parse", "origin/main") != world.pushed()
    pins = pin([figure], repo=world.work)
    assert pins.pending == (figure,)
    assert "Committed but not pushed to origin" in pins.advice
    assert "`git fetch origin` lets the build see it" in pins.advice
    git(world.work, "fetch", "-q", "origin")
    pins = pin([figure], repo=world.work)
    assert pins.pending == ()
    world.served(pins)


def test_an_ignored_figure_is_named_as_never_pushed(world):
    (world.work / ".gitignore").write_text("*.png\n")
    figure = world.write()
    pins = pin([figure], repo=world.work)
    assert pins.pending == (figure,)
    assert "Ignored by .gitignore, so never pushed: images/my-slug/loss.png" in pins.advice
    assert "git check-ignore -v images/my-slug/loss.png" in pins.advice
    assert "git add" not in pins.advice


def test_without_an_upstream_the_branch_of_the_same_name_is_used(tmp_path, monkeypatch):
    made = make_world(tmp_path)
    monkeypatch.chdir(made.work)
    figure = made.write()
    made.commit()
    pins = pin([figure], repo=made.work)
    assert pins.commit is None and "Run `git push -u origin main`;" in pins.advice
    assert "git fetch" not in pins.advice
    git(made.work, "push", "-q", "origin", "main")  # no -u: refs/remotes/origin/main only
    pins = pin([figure], repo=made.work)
    assert pins.commit == made.pushed() and pins.pending == ()
    made.served(pins)


def test_a_detached_head_uses_the_remotes_default_branch(world):
    figure = world.write()
    world.commit()
    git(world.work, "push", "-q")
    git(world.work, "remote", "set-head", "origin", "main")  # what a clone sets; local only
    git(world.work, "checkout", "-q", "--detach")
    pins = pin([figure], repo=world.work)
    assert pins.pending == () and pins.commit == world.pushed()
    other = world.write("images/my-slug/new.png")
    pins = pin([figure, other], repo=world.work)
    assert pins.pending == (other,) and "HEAD is detached" in pins.advice
    assert "git push -u origin BRANCH" in pins.advice


def test_no_remote_leaves_every_figure_pending_with_advice_to_add_one(tmp_path):
    work = tmp_path / "w"
    git(tmp_path, "init", "-q", str(work))
    figure = work / "fig.png"
    figure.write_bytes(png())
    pins = pin([figure], repo=work)
    assert pins.pending == (figure,) and pins.urls == {} and pins.commit is None
    assert "no remote named 'origin'" in pins.advice and "git remote add origin" in pins.advice
    assert "git_remote" in pins.advice


def test_another_remote_name(world):
    git(world.work, "remote", "rename", "origin", "github")
    figure = world.write()
    world.commit()
    git(world.work, "push", "-q", "-u", "github", "main")
    assert pin([figure], repo=world.work).pending == (figure,)  # origin: none
    pins = pin([figure], repo=world.work, remote="github")
    assert pins.pending == ()
    world.served(pins)


def test_not_a_repository_and_files_outside_it_are_errors(tmp_path, world):
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "a.png").write_bytes(png())
    with pytest.raises(GitHostError, match=r"needs the project in a git repository.*git init"):
        pin([loose / "a.png"], repo=loose)
    with pytest.raises(GitHostError, match=r"loose/a.png: the figure is outside the git repository"):
        pin([loose / "a.png"], repo=world.work)
    with pytest.raises(GitHostError, match=r"missing.png: no such figure file"):
        pin([world.work / "missing.png"], repo=world.work)


def test_repo_root(world, tmp_path, monkeypatch):
    (world.work / "sub" / "deeper").mkdir(parents=True)
    assert repo_root(world.work / "sub" / "deeper") == world.work.resolve()
    assert repo_root(world.work / "sub" / "not-yet" / "fig.png") == world.work.resolve()
    assert repo_root(tmp_path) is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # git not installed
    assert repo_root(world.work) is None
    with pytest.raises(GitHostError, match="git is not installed"):
        pin([], repo=world.work)


@pytest.mark.parametrize(("remote", "expected"), [
    ("https://github.com/alice/articles.git", "https://raw.githubusercontent.com/alice/articles/{commit}/{path}"),
    ("https://github.com/alice/articles", "https://raw.githubusercontent.com/alice/articles/{commit}/{path}"),
    ("https://github.com/alice/articles/", "https://raw.githubusercontent.com/alice/articles/{commit}/{path}"),
    ("https://alice:tok@GitHub.com/alice/articles.git",
     "https://raw.githubusercontent.com/alice/articles/{commit}/{path}"),
    ("git@github.com:alice/articles.git", "https://raw.githubusercontent.com/alice/articles/{commit}/{path}"),
    ("github.com:alice/articles", "https://raw.githubusercontent.com/alice/articles/{commit}/{path}"),
    ("ssh://git@github.com/alice/articles.git", "https://raw.githubusercontent.com/alice/articles/{commit}/{path}"),
    ("ssh://git@ssh.github.com:443/alice/articles.git",
     "https://raw.githubusercontent.com/alice/articles/{commit}/{path}"),
    ("https://gitlab.com/team/articles.git", "https://gitlab.com/team/articles/-/raw/{commit}/{path}"),
    ("git@gitlab.com:team/sub/group/articles.git", "https://gitlab.com/team/sub/group/articles/-/raw/{commit}/{path}"),
    ("ssh://git@gitlab.com/team/sub/articles.git", "https://gitlab.com/team/sub/articles/-/raw/{commit}/{path}"),
    ("https://github.com/alice", None),  # no repository
    ("https://github.com/a/b/c.git", None),  # GitHub has no subgroups
    ("https://git.example.org/team/articles.git", None),  # unknown host, no template
    ("git@github-work:alice/articles.git", None),  # an ssh alias: its host cannot be known
    ("/srv/git/articles.git", None),
    ("file:///srv/git/articles.git", None),
    ("C:/repos/articles.git", None),
])
def test_raw_url_base(remote, expected):
    assert raw_url_base(remote) == expected


def test_raw_url_base_with_a_template():
    template = "https://{host}/{owner}/{repo}/raw/{commit}/{path}"
    assert raw_url_base("git@git.example.org:team/sub/articles.git", template) == \
        "https://git.example.org/team/sub/articles/raw/{commit}/{path}"
    assert raw_url_base("https://github.com/alice/articles.git", "https://cdn.example/{owner}@{commit}/{path}") == \
        "https://cdn.example/alice@{commit}/{path}"  # a template wins over the known hosts
    assert raw_url_base("/srv/git/a.git", "https://cdn.example/{commit}/{path}") == "https://cdn.example/{commit}/{path}"
    assert raw_url_base("/srv/git/a.git", template) is None
    for bad, problem in [("https://x/{commit}", "{path} is missing"), ("https://x/{path}", "{commit} is missing"),
                         ("https://x/{user}/{commit}/{path}", "unknown placeholder {user}")]:
        with pytest.raises(GitHostError, match=re.escape(problem)):
            raw_url_base(URL, bad)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://gitlab.com/team/sub/articles.git", "https://gitlab.com/team/sub/articles/-/raw/{sha}/{path}"),
    ("git@github.com:alice/articles.git", RAW),
    ("ssh://git@github.com/alice/articles.git", RAW),
])
def test_pins_under_gitlab_and_ssh_remotes(tmp_path, monkeypatch, url, expected):
    """The push goes through insteadOf; then the remote is its real host again, reached by ssh
    through a GIT_SSH_COMMAND that leaves a mark, so pin() would show any attempt to reach it."""
    made = make_world(tmp_path, url)
    marker = tmp_path / "ssh-was-used"
    monkeypatch.setenv("GIT_SSH_COMMAND", f"touch {marker}; false")
    figure = made.write()
    made.commit()
    git(made.work, "push", "-q", "-u", "origin", "main")
    git(made.work, "config", "--unset", f"url.{made.bare.as_uri()}.insteadOf")  # the real host from now on
    git(made.work, "config", "http.proxy", "http://127.0.0.1:9")  # https would fail at once, offline
    pins = pin([figure], repo=made.work)
    assert pins.urls == {figure: expected.format(sha=made.pushed(), path=FIGURE)}
    assert not marker.exists()


def test_a_template_for_another_host(tmp_path):
    made = make_world(tmp_path, "https://git.example.org/team/articles.git")
    figure = made.write()
    made.commit()
    git(made.work, "push", "-q", "-u", "origin", "main")
    with pytest.raises(GitHostError, match=r"git\.example\.org/team/articles\.git\) is not on github\.com or "
                                           r"gitlab\.com: set tool\.pipeline\.article\.image_url_template"):
        pin([figure], repo=made.work)
    pins = pin([figure], repo=made.work, template="https://{host}/{owner}/{repo}/-/raw/{commit}/{path}")
    assert pins.urls == {figure: f"https://git.example.org/team/articles/-/raw/{made.pushed()}/{FIGURE}"}
    assert pin([], repo=made.work).urls == {}  # no figure to link: no template needed, no error


def test_an_owner_already_percent_encoded_in_the_remote_is_encoded_once(tmp_path):
    """A remote URL writes a space as %20: the raw URL keeps it as %20 (never %2520), and the
    figure pinned to it is the file the remote holds."""
    url = "https://github.com/ali%20ce/my%20articles.git"
    assert raw_url_base(url) == "https://raw.githubusercontent.com/ali%20ce/my%20articles/{commit}/{path}"
    assert raw_url_base("https://github.com/ali ce/my articles.git") == raw_url_base(url)
    made = make_world(tmp_path, url)
    figure = made.write()
    made.commit()
    git(made.work, "push", "-q", "-u", "origin", "main")
    pins = pin([figure], repo=made.work)
    assert pins.urls == {figure: f"https://raw.githubusercontent.com/ali%20ce/my%20articles/{made.pushed()}/{FIGURE}"}


@pytest.mark.parametrize(("remote", "template"), [
    ("https://git)ea.example.org/team/articles.git", "https://{host}/{owner}/{repo}/-/raw/{commit}/{path}"),
    ("git@git)ea.example.org:team/articles.git", "https://{host}/{owner}/{repo}/-/raw/{commit}/{path}"),
    (URL, "javascript:alert(1)//{commit}/{path}"),
    (URL, "https://x.example/{commit}/{path}) ![x](https://evil.example/x.png"),
])
def test_a_host_or_template_that_would_break_the_link_is_refused(remote, template):
    with pytest.raises(GitHostError, match="would be unsafe") as raised:
        raw_url_base(remote, template)
    assert "image_url_template" in str(raised.value)


def test_a_token_in_the_remote_url_never_reaches_a_message(tmp_path):
    made = make_world(tmp_path, "https://alice:s3cret-token@git.example.org/team/articles.git")
    with pytest.raises(GitHostError) as raised:
        pin([made.write()], repo=made.work)
    assert "s3cret" not in str(raised.value) and "git.example.org/team/articles" in str(raised.value)


class _Recorder:
    """A local TCP listener standing in for an HTTP proxy: it records every connection."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.server.close()
        self.thread.join(5)


def test_pin_never_contacts_the_network(world, tmp_path, monkeypatch):
    """After the push the remote is unreachable: every https request goes to a recording proxy,
    ssh to a command that leaves a mark, and another remote's host does not resolve. Pinning
    still works, and nothing was contacted."""
    figure = world.write()
    world.commit()
    git(world.work, "push", "-q")
    git(world.work, "config", "--unset", f"url.{world.bare.as_uri()}.insteadOf")
    recorder = _Recorder()
    marker = tmp_path / "ssh-was-used"
    try:
        git(world.work, "config", "http.proxy", f"http://127.0.0.1:{recorder.port}")
        monkeypatch.setenv("GIT_SSH_COMMAND", f"touch {marker}; false")
        # the recorder does see git's own network commands, so its silence below means something
        subprocess.run(["git", "ls-remote", "origin"], cwd=world.work, capture_output=True, timeout=60)
        assert recorder.connections >= 1
        seen = recorder.connections
        pins = pin([figure], repo=world.work)
        assert pins.urls == {figure: RAW.format(sha=world.pushed(), path=FIGURE)}
        git(world.work, "remote", "add", "mirror", "https://git.nowhere.invalid/team/articles.git")
        git(world.work, "update-ref", "refs/remotes/mirror/main", "HEAD")
        pins = pin([figure], repo=world.work, remote="mirror", template="https://{host}/{owner}/{repo}/{commit}/{path}")
        assert pins.pending == () and pins.urls[figure].startswith("https://git.nowhere.invalid/team/articles/")
        assert recorder.connections == seen and not marker.exists()
    finally:
        recorder.close()


def test_git_runs_a_fixed_number_of_times_however_many_figures(world, monkeypatch):
    """One git process per batch, not per figure (hash-object --stdin-paths, cat-file --batch-check)."""
    calls = []
    real = githost._git
    monkeypatch.setattr(githost, "_git", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    one = [world.write("images/my-slug/0.png", png(rgb=(0, 0, 1)))]
    many = one + [world.write(f"images/my-slug/{i}.png", png(rgb=(i, 0, 0))) for i in range(1, 60)]
    world.commit()
    git(world.work, "push", "-q")
    pin(one, repo=world.work)
    few = len(calls)
    calls.clear()
    pins = pin(many, repo=world.work)
    assert len(pins.urls) == 60 and len(calls) == few <= 8, calls
    world.write("images/my-slug/7.png", png(rgb=(99, 0, 0)))
    calls.clear()
    assert len(pin(many, repo=world.work).pending) == 1 and len(calls) <= 9, calls


def test_the_repository_read_once_is_not_asked_again(world, monkeypatch):
    """With the repository the build read once (gitrepo.Repository), pin and earlier_pins ask git
    neither for the toplevel, the remote's URL nor the refs again, and link the same."""
    from pipeline.publish.gitrepo import Repository

    figure = world.write()
    world.commit()
    git(world.work, "push", "-q")
    expected = pin([figure], repo=world.work)
    repository = Repository.of(world.work)
    asked: list[tuple] = []
    real = githost._git
    monkeypatch.setattr(githost, "_toplevel", lambda *a: asked.append(("toplevel",)) or (None, "asked"))
    monkeypatch.setattr(githost, "_refs", lambda *a: asked.append(("refs",)))
    monkeypatch.setattr(githost, "_git", lambda root, *args, **kw: (asked.append(args) if args[:1] == ("config",)
                                                                     else None) or real(root, *args, **kw))
    assert pin([figure], repo=world.work, resolved=repository) == expected
    article = f"![x]({expected.urls[figure]})"
    assert githost.earlier_pins(article, repo=world.work, resolved=repository) == {figure.resolve(): world.pushed()}
    assert asked == []


def test_a_whole_build_asks_git_once_for_the_repository(world, monkeypatch, quiet):
    """A build in the writer's repository (the pull check, the no-change stamp at its start and end, the
    export's figures) asks git once for the toplevel, the remote's URL and the refs; so does a build
    that ends at the stamp."""
    from conftest import Project

    from pipeline.build import build
    from pipeline.publish import gitrepo

    project = Project(world.work / "numbers")
    project.add("01_one", "# %% [markdown]\n# 一つ目の実験\n\n# %%\nprint(1 + 1)\n")
    project.write_config('[tool.pipeline.article]\ntitle = "数の記事"\nexport_dir = "../qiita"\n')
    (world.work / "qiita" / "public").mkdir(parents=True)
    _age(project.root)  # inputs written just now would leave the stamp unsettled (uptodate.RACY_NS)
    git(world.work, "add", "-A")
    git(world.work, "commit", "-q", "-m", "project")
    git(world.work, "push", "-q")
    asked: list[tuple[str, ...]] = []

    def counted(real):
        return lambda cwd, *args, **kw: asked.append(args) or real(cwd, *args, **kw)

    monkeypatch.setattr(githost, "_git", counted(githost._git))
    monkeypatch.setattr(gitrepo, "_git", counted(gitrepo._git))
    repository = [("rev-parse", "--show-toplevel"), ("config", "--get", "remote.origin.url"),
                  ("symbolic-ref", "-q", "HEAD")]

    def times() -> dict[tuple[str, ...], int]:
        return {kind: sum(args[:len(kind)] == kind for args in asked) for kind in repository}

    config = project.config()
    assert build(config, progress=quiet).outcomes == {"01_one": "executed"}
    assert times() == dict.fromkeys(repository, 1), asked
    build(config, progress=quiet)  # runs no experiment: the next one settles the stamp
    asked.clear()
    assert build(config, progress=quiet).up_to_date
    assert times() == dict.fromkeys(repository, 1), asked
