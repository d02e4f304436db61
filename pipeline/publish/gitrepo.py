"""The writer's git repository as one build sees it: read once, from local config and refs only.

A writer publishes with ``git add -A && git commit && git push``: qiita-cli's publish workflow
posts ``public/*.md`` on every push, Zenn deploys ``articles/``, ``books/`` and ``images/``. So
the build and ``status`` need to know, for one article's files (``Repository.files``):

- what is not committed yet, and what is committed but not pushed (``changes``);
- what the remote-tracking branch has that the work tree lacks (``behind``): after a push, the
  publish workflow commits the ids it got back ("Updated by qiita-cli"), and a build made before
  ``git pull`` forks from that commit (the next push is refused; the merge conflicts on ``id:``;
  resolved the wrong way, a second article is posted);
- the branch a push goes to (``push_branch``), which figures not pushed yet are linked at;
- the figures the remote's copies of the article link (``linked_at_remote``): the live article links
  them until the publish workflow posts the next version, so a build keeps them;
- the one git command that publishes the article (``publish_command``).

A build reads it once (``read_once``) and hands it to each stage that needs it: the pull check, the
no-change stamp at start and end, the export.

Like ``githost``, never ``fetch``, ``ls-remote`` or ``push``: a push made elsewhere counts after
``git fetch``.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from pipeline.layout import GENERATED_FILE
from pipeline.publish.githost import _GIT_ENV, _HEX, _git, _Refs, _refs, _toplevel

#: the repository one build reads (``read_once``), called when a stage first needs it
Reader = Callable[[], "Repository | None"]


def read_once(path: Path, remote: str = "origin") -> Reader:
    """``Repository.of(path, remote)``, read on the first call and kept: git is asked once per build
    for the toplevel, the remote's URL and the refs, and never when no stage needs them."""
    return functools.cache(functools.partial(Repository.of, path, remote))


@dataclass(frozen=True)
class Repository:
    """The git work tree holding an article's files, its remote and branch (``of``)."""

    root: Path
    remote: str
    url: str  # the remote's URL as configured ("" when there is no such remote)
    refs: _Refs
    #: the remote-tracking ref a push of this branch updates (the upstream, else REMOTE/BRANCH), if known
    tracking: str | None
    head: str | None  # HEAD's commit (None before the first commit)

    def __repr__(self) -> str:
        return f"Repository({self.root.name}, {self.remote}, branch={self.refs.branch}, tracking={self.tracking})"

    @classmethod
    def of(cls, path: Path, remote: str = "origin") -> Repository | None:
        """The repository holding *path*, or None outside git (or without git installed)."""
        root, _ = _toplevel(Path(path))
        if root is None:
            return None
        url = _git(root, "config", "--get", f"remote.{remote}.url").stdout.strip()
        refs = _refs(root, remote)
        tracking = refs.upstream
        if tracking is None and refs.branch:
            candidate = f"refs/remotes/{remote}/{refs.branch}"
            if _HEX.match(_git(root, "rev-parse", "--verify", "-q", candidate).stdout.strip()):
                tracking = candidate
        head = _git(root, "rev-parse", "--verify", "-q", "HEAD").stdout.strip()
        return cls(root, remote, url, refs, tracking, head if _HEX.match(head) else None)

    # what a push goes to -------------------------------------------------------------
    @property
    def push_branch(self) -> str | None:
        """The remote's branch a plain push of HEAD updates: the upstream's name, else the branch's own
        (``git push -u REMOTE BRANCH``), else, with HEAD detached, the remote's default branch."""
        prefix = f"refs/remotes/{self.remote}/"
        if self.refs.upstream and self.refs.upstream.startswith(prefix):
            return self.refs.upstream.removeprefix(prefix)
        if self.refs.branch:
            return self.refs.branch
        default = _git(self.root, "symbolic-ref", "-q", f"{prefix}HEAD").stdout.strip()
        return default.removeprefix(prefix) or None if default.startswith(prefix) else None

    def relative(self, path: Path) -> str | None:
        """*path* from the repository's root (POSIX), or None when outside it."""
        try:
            return Path(os.path.abspath(path)).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _specs(self, paths) -> list[str]:
        return [r for r in (self.relative(p) for p in paths) if r is not None]

    # the article's files ---------------------------------------------------------------
    def changes(self, paths) -> tuple[list[str], int]:
        """(the files under *paths* that differ from HEAD or are untracked, not ignored; the number
        of commits touching *paths* that the remote-tracking branch lacks)."""
        specs = self._specs(paths)
        if not specs:
            return [], 0
        listed = _git(self.root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *specs)
        changed = [entry[3:] for entry in listed.stdout.split("\0") if len(entry) > 3 and entry[2] == " "]
        if self.head is None:
            return changed, 0
        since = [f"^{self.tracking}"] if self.tracking else []
        count = _git(self.root, "rev-list", "--count", "HEAD", *since, "--", *specs).stdout.strip()
        return changed, int(count) if count.isdigit() else 0

    def unpushed_files(self, paths) -> int:
        """How many files under *paths* HEAD holds otherwise than the remote-tracking branch (committed, not
        pushed); every one HEAD holds when the branch was never pushed. The pipeline's marks not counted."""
        specs = self._specs(paths)
        if not specs or self.head is None:
            return 0
        if self.tracking:
            done = _git(self.root, "diff", "--name-only", self.tracking, "HEAD", "--", *specs)
        else:
            done = _git(self.root, "ls-tree", "-r", "--name-only", "HEAD", "--", *specs)
        return len([line for line in done.stdout.splitlines() if line and not line.endswith(GENERATED_FILE)])

    def behind(self, paths) -> tuple[list[str], list[str]]:
        """The commits on the remote-tracking branch that touch *paths* and that the work tree lacks (not
        in HEAD): their subjects, newest first, and the files they touch (from the repository's root);
        nothing without a remote-tracking branch."""
        specs = self._specs(paths)
        if not self.tracking or not specs:
            return [], []
        since = [f"^{self.head}"] if self.head else []
        done = _git(self.root, "log", "--format=%x00%s", "--name-only", self.tracking, *since, "--", *specs)
        if done.returncode != 0:
            return [], []
        subjects, files = [], []
        for entry in done.stdout.split("\0")[1:]:
            subject, _, names = entry.partition("\n")
            subjects.append(subject)
            files += [name for name in names.splitlines() if name and name not in files]
        return subjects, files

    def ignored(self, paths) -> list[str]:
        """Which of *paths* ``.gitignore`` excludes (so a push never brings them)."""
        specs = self._specs(paths)
        if not specs:
            return []
        done = _git(self.root, "check-ignore", "-z", "--stdin", stdin="\0".join(specs) + "\0")
        return [p for p in done.stdout.split("\0") if p]

    def linked_at_remote(self, articles, folder: Path) -> dict[str, bytes]:
        """The files of *folder* (``images/<slug>/``) that the remote-tracking branch's copies of *articles*
        (the qiita-cli file, the Zenn article or book folder) link, by their path under *folder*, with
        their bytes there. A Qiita raw URL and a Zenn ``/images/<slug>/...`` link both end in the file's
        path from the folder above ``images/``. Nothing without a remote-tracking branch."""
        base = self.relative(folder)
        specs = [s for s in self._specs(articles) if s != base]
        if not self.tracking or not base or not specs:
            return {}
        listed = _git(self.root, "ls-tree", "-r", "-z", self.tracking, "--", base, *specs)
        names = [entry.split("\t", 1)[1] for entry in listed.stdout.split("\0")
                 if "\t" in entry and entry.split(" ", 1)[0] in ("100644", "100755") and "\n" not in entry]
        figures = [n for n in names if n.startswith(f"{base}/") and not n.endswith(GENERATED_FILE)]
        texts = [n for n in names if n.endswith(".md") and not n.startswith(f"{base}/")]
        if not figures or not texts:
            return {}
        text = "\n".join(data.decode("utf-8", "replace") for data in self.blobs(texts).values())
        above = len(Path(base).parts) - 2  # the parts before images/<slug>/

        def linked(name: str) -> bool:
            tail = "/" + "/".join(Path(name).parts[above:])
            return any(re.search(re.escape(t) + r"(?=[\s)\"'?#]|$)", text) for t in {tail, quote(tail, safe="/")})

        return {n[len(base) + 1:]: data for n, data in self.blobs([n for n in figures if linked(n)]).items()}

    def remote_state(self, paths) -> str:
        """The remote-tracking branch's objects at *paths* (a file's blob, a folder's tree), "" without one:
        what a push or fetch of the article's files changes."""
        specs = self._specs(paths)
        return _git(self.root, "ls-tree", self.tracking, "--", *specs).stdout if self.tracking and specs else ""

    def blobs(self, names: list[str]) -> dict[str, bytes]:
        """The bytes of each file of *names* (from the root) on the remote-tracking branch, in one git call;
        a name it lacks is left out."""
        if not self.tracking or not names:
            return {}
        done = subprocess.run(["git", "cat-file", "--batch"], cwd=self.root, capture_output=True, check=False,
                              input="".join(f"{self.tracking}:{n}\n" for n in names).encode("utf-8", "surrogateescape"),
                              env={**os.environ, **_GIT_ENV})
        out, at, found = done.stdout, 0, {}
        for name in names:
            end = out.find(b"\n", at)
            if end < 0:
                break
            header, at = out[at:end].split(), end + 1
            if len(header) == 3 and header[2].isdigit():  # "<id> <type> <size>", then the bytes; else "<rev> missing"
                size = int(header[2])
                if header[1] == b"blob":
                    found[name] = out[at:at + size]
                at += size + 1
        return found

    @property
    def tracking_name(self) -> str:
        """The remote-tracking branch as people write it (origin/main)."""
        return (self.tracking or "").removeprefix("refs/remotes/") or f"{self.remote}/{self.push_branch or 'BRANCH'}"

    def pull_first(self, paths) -> str:
        """The "pull first" message for the article's *paths*, or "" when the work tree has every commit
        of the remote-tracking branch that touches them."""
        subjects, files = self.behind(paths)
        if not subjects:
            return ""
        n = len(subjects)
        cwd = Path.cwd().resolve()
        shown = [os.path.relpath(self.root / f, cwd) for f in files[:3]] + (["..."] if len(files) > 3 else [])
        why = ("; qiita-cli's publish workflow wrote the article's id back, and a build before the pull would post "
               "the article again or conflict on id:" if any("qiita-cli" in s for s in subjects) else "")
        return (f"pull first: {self.tracking_name} has {n} commit{'s' if n != 1 else ''} touching {' '.join(shown)} "
                f"that this work tree lacks (\"{subjects[0][:80]}\"{why}); run `git pull`, then build again")

    def publish_command(self, paths, message: str) -> str:
        """``git add FOLDERS && git commit -m MESSAGE && git push``, the folders and files as given (from the
        current folder when it is inside the repository, else after a ``cd`` to its root)."""
        cwd = Path.cwd().resolve()
        inside = cwd == self.root or self.root in cwd.parents
        shown = [os.path.relpath(p, cwd) if inside else self.relative(p) for p in paths]
        steps = [] if inside else [f"cd {shlex.quote(str(self.root))}"]
        steps += [f"git add {' '.join(shlex.quote(s) for s in shown)}", f"git commit -m {shlex.quote(message)}"]
        return " && ".join(steps + [self.push_step])

    @property
    def push_step(self) -> str:
        if self.refs.upstream:
            return "git push"
        branch = self.refs.branch or "BRANCH"
        return f"git push -u {shlex.quote(self.remote)} {shlex.quote(branch)}"
