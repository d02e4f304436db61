"""Figures served by the writer's own git repository: raw URLs pinned to a pushed commit.

With ``image_base_url = "git"`` the Qiita article links each figure to the raw file in the
repository's remote (GitHub, GitLab, or a configured URL template), pinned to the commit of
the remote-tracking ref, and only where that commit holds exactly the figure's bytes. A
figure not there yet stays pending, and ``Pins.advice`` says which git commands put it there.

Offline by design: only ``git`` processes that read local config, refs and objects (never
``fetch``, ``ls-remote`` or ``push``), so a stale remote-tracking ref reads as "not pushed
yet". Whether the remote is public cannot be known offline: a private repository's raw URLs
do not load for readers (docs/publishing.md says what to do instead).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from pipeline.errors import ExportError
from pipeline.markdown.urls import link_url_problems

#: raw file URLs of the hosts known without configuration; {commit} and {path} are filled per figure
GITHUB_RAW = "https://raw.githubusercontent.com/{owner}/{repo}/{commit}/{path}"
GITLAB_RAW = "https://{host}/{owner}/{repo}/-/raw/{commit}/{path}"
_GITHUB_HOSTS = {"github.com", "www.github.com", "ssh.github.com"}
_GITLAB_HOSTS = {"gitlab.com", "www.gitlab.com", "altssh.gitlab.com"}
PLACEHOLDERS = ("owner", "repo", "host", "commit", "path")
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]{2,}):(?P<path>[^/].*)$")  # git@github.com:o/r.git
_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
#: git must never ask for anything, nor take index locks that would race a user's own git
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}


class GitHostError(ExportError):
    """Figures cannot be linked to the repository at all: git missing, no repository, a figure
    outside it or missing, a remote whose raw URLs are unknown, a bad URL template. An ExportError:
    the Qiita export that links them is refused, the other platforms are published."""


@dataclass(frozen=True)
class Pins:
    """Which figures the remote already serves (``urls``, pinned to ``commit``) and which not yet
    (``pending``, with the commands in ``advice``)."""

    urls: dict[Path, str] = field(default_factory=dict)
    pending: tuple[Path, ...] = ()
    commit: str | None = None
    advice: str = ""

    def __repr__(self) -> str:
        commit = self.commit[:12] if self.commit else None
        return f"Pins(pinned={len(self.urls)}, pending={len(self.pending)}, commit={commit})"


def _git(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """One local git command in *cwd*; FileNotFoundError when git is not installed."""
    return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False,
                          text=True, encoding="utf-8", errors="surrogateescape",
                          env={**os.environ, **_GIT_ENV})


def _toplevel(path: Path) -> tuple[Path | None, str]:
    """The work tree holding *path* (a file or folder, existing or not), or None and why."""
    start = path if path.is_dir() else path.parent
    while not start.is_dir() and start != start.parent:
        start = start.parent
    try:
        done = _git(start, "rev-parse", "--show-toplevel")
    except FileNotFoundError:
        return None, "git is not installed (install it, e.g. apt-get install git)"
    except OSError as error:  # e.g. no permission to enter the folder
        return None, str(error)
    top = done.stdout.strip()
    if done.returncode != 0 or not top:
        return None, done.stderr.strip() or "not inside a git work tree"
    return Path(top).resolve(), ""


def repo_root(path: Path) -> Path | None:
    """The root of the git work tree holding *path*; None outside git or without git installed."""
    return _toplevel(Path(path))[0]


def _host_and_path(remote_url: str) -> tuple[str, str] | None:
    """(host, path) of a remote URL as written in .git/config: https/ssh/git URLs and scp-like
    ``user@host:path``; None for local paths and file:// URLs. Never keeps user or password."""
    url = remote_url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}:
            return None
        try:
            host = parts.hostname
        except ValueError:
            return None
        return (host, parts.path) if host else None
    match = _SCP_LIKE.match(url)
    return (match["host"].lower(), match["path"]) if match else None


def _owner_repo(path: str) -> tuple[str, str] | None:
    """("owner/maybe/subgroups", "repo") from a remote's path; None when it has fewer than two parts."""
    parts = path.strip("/").removesuffix(".git").strip("/").split("/")
    if len(parts) < 2 or not all(parts):
        return None
    return "/".join(parts[:-1]), parts[-1]


def template_problems(template: str) -> list[str]:
    """What is wrong with an ``image_url_template`` (empty list: nothing)."""
    used = set(re.findall(r"\{([^{}]*)\}", template))
    problems = [f"unknown placeholder {{{name}}}" for name in sorted(used - set(PLACEHOLDERS))]
    problems += [f"{{{name}}} is missing" for name in ("commit", "path") if name not in used]
    return problems


def raw_url_base(remote_url: str, template: str = "") -> str | None:
    """The raw-file URL pattern of a remote, with ``{commit}`` and ``{path}`` left to fill.

    *remote_url* is the URL as configured (``git config --get remote.NAME.url``), before any
    ``url.<base>.insteadOf`` rewriting. A non-empty *template* (placeholders ``{owner}``,
    ``{repo}``, ``{host}``, ``{commit}``, ``{path}``; ``{owner}`` holds GitLab-style subgroups)
    is used for any host; without one, github.com and gitlab.com are known. None when the raw
    URLs cannot be told (another host without a template, a local path); GitHostError for a
    template that lacks ``{commit}`` or ``{path}`` or names an unknown placeholder.
    """
    if template:
        problems = template_problems(template)
        if problems:
            raise GitHostError(f"tool.pipeline.article.image_url_template {template!r}: " + "; ".join(problems)
                               + " (example: https://{host}/{owner}/{repo}/raw/{commit}/{path})")
    where = _host_and_path(remote_url)
    named = _owner_repo(where[1]) if where else None
    if template:
        if named is None:
            return None if re.search(r"\{(owner|repo|host)\}", template) else _checked(template, remote_url)
        pattern = template
    elif where and named and where[0] in _GITHUB_HOSTS and "/" not in named[0]:
        pattern = GITHUB_RAW
    elif where and named and where[0] in _GITLAB_HOSTS:
        pattern = GITLAB_RAW.replace("{host}", "gitlab.com")
    else:
        return None
    owner, repo = named  # as the remote URL writes them: percent-encoded once more here only if not already
    values = {"owner": quote(unquote(owner), safe="/"), "repo": quote(unquote(repo), safe=""), "host": where[0]}
    for name, value in values.items():
        pattern = pattern.replace("{" + name + "}", value)
    return _checked(pattern, remote_url)


def _checked(pattern: str, remote_url: str) -> str:
    """*pattern*, once its filled-in URLs pass the allow-list of links (``link_url_problems``); else
    GitHostError: a host or template that would break the figure links or make them unsafe."""
    problems = link_url_problems(pattern.replace("{commit}", "0" * 40).replace("{path}", "figures/a.png"), pattern)
    if problems:
        raise GitHostError(f"the figures' raw-file URLs for the remote {_display(remote_url)} would be unsafe: "
                           + "; ".join(problems) + "; fix tool.pipeline.article.image_url_template or the remote's URL")
    return pattern


def _display(remote_url: str) -> str:
    """A remote URL fit for a message: host and path only, never a user name or token."""
    where = _host_and_path(remote_url)
    return f"{where[0]}/{where[1].strip('/')}" if where else "a local path"


@dataclass(frozen=True)
class _Refs:
    """What the repository knows about its remote, from local refs only."""

    branch: str | None  # None: HEAD is detached
    upstream: str | None  # the branch's upstream when it is a remote-tracking ref of the remote
    commit: str | None  # the commit figures are pinned to
    ref: str | None  # the ref that commit came from


def _refs(root: Path, remote: str) -> _Refs:
    """The pinned commit: the branch's upstream on *remote*, else refs/remotes/REMOTE/HEAD, else
    refs/remotes/REMOTE/BRANCH (one for-each-ref call reads them all)."""
    head = _git(root, "symbolic-ref", "-q", "HEAD").stdout.strip()
    branch = head.removeprefix("refs/heads/") if head.startswith("refs/heads/") else None
    patterns = [f"refs/remotes/{remote}/"] + ([f"refs/heads/{branch}"] if branch else [])
    listed = _git(root, "for-each-ref", "--format=%(refname)%09%(objectname)%09%(upstream)", *patterns)
    commits, upstream = {}, None
    for line in listed.stdout.splitlines():
        name, commit, up = (line.split("\t") + ["", ""])[:3]
        commits[name] = commit
        if branch and name == f"refs/heads/{branch}" and up.startswith(f"refs/remotes/{remote}/"):
            upstream = up
    candidates = [upstream, f"refs/remotes/{remote}/HEAD", f"refs/remotes/{remote}/{branch}" if branch else None]
    for ref in candidates:
        if ref and _HEX.match(commits.get(ref, "")):
            return _Refs(branch, upstream, commits[ref], ref)
    return _Refs(branch, upstream, None, None)


def _relative(file: Path, repo: Path, root: Path, staged: bool = False) -> str:
    """*file*'s POSIX path from the repository root; GitHostError when outside it or missing."""
    path = (file if file.is_absolute() else repo / file).resolve()
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise GitHostError(f"{file}: the figure is outside the git repository {root}, so the repository "
                           "cannot serve it: keep figures inside it (image_base_url = \"git\")") from None
    if not staged and not path.is_file():
        raise GitHostError(f"{file}: no such figure file (run the build again to write it)")
    if "\n" in str(rel) or rel.parts[:1] == (".git",):
        raise GitHostError(f"{file}: git cannot track this path; rename the figure")
    return rel.as_posix()


def _blobs(root: Path, names: list[str]) -> list[str | None]:
    """The blob id of each ``REV:path`` in *names* (None where missing), in one cat-file call."""
    if not names:
        return []
    done = _git(root, "cat-file", "--batch-check=%(objectname)", stdin="".join(n + "\n" for n in names))
    lines = done.stdout.splitlines() if done.returncode == 0 else []
    lines += [""] * (len(names) - len(lines))
    return [line if _HEX.match(line) else None for line in lines[:len(names)]]


def _pushed_commits(root: Path, tip: str | None, previous: dict[Path, str]) -> set[str]:
    """The commits of *previous* that the remote has (ancestors of its ref's *tip*)."""
    if not tip:
        return set()
    return {commit for commit in {c for c in previous.values() if isinstance(c, str) and _HEX.match(c)}
            if commit == tip or _git(root, "merge-base", "--is-ancestor", commit, tip).returncode == 0}


def _listing(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _add_targets(paths: list[str]) -> str:
    """What to `git add`: the figures' folder when they share one (images/<slug>), else the files."""
    folders = {p.rpartition("/")[0] for p in paths}
    chosen = sorted(folders) if len(folders) == 1 and "" not in folders else sorted(paths)
    return " ".join(shlex.quote(p) for p in chosen)


def _advice(root: Path, remote: str, refs: _Refs, ignored: list[str], uncommitted: list[str],
            unpushed: list[str]) -> str:
    """Exactly what to run so the next build can pin every pending figure."""
    said = []
    if ignored:
        said.append(f"Ignored by .gitignore, so never pushed: {_listing(ignored)}; un-ignore "
                    f"(`git check-ignore -v {shlex.quote(ignored[0])}` names the rule), then commit and push.")
    if uncommitted:
        said.append(f"Not committed yet: {_listing(uncommitted)}.")
    if unpushed:
        said.append(f"Committed but not pushed to {remote}: {_listing(unpushed)}.")
    if not (uncommitted or unpushed):
        return " ".join(said)
    if refs.branch is None:
        said.append("HEAD is detached (no branch checked out): switch to a branch first "
                    "(`git switch -c BRANCH` keeps what you have), then:")
        push = f"git push -u {shlex.quote(remote)} BRANCH"
    elif refs.upstream:
        push = "git push"
    else:
        push = f"git push -u {shlex.quote(remote)} {shlex.quote(refs.branch)}"
    steps = ([f"git add {_add_targets(uncommitted)}", 'git commit -m "figures"'] if uncommitted else []) + [push]
    cd = [] if Path.cwd().resolve() == root else [f"cd {shlex.quote(str(root))}"]
    said.append("Run `" + " && ".join(cd + steps) + "`; the next build links them.")
    if refs.commit:
        said.append(f"Already pushed from elsewhere? `git fetch {shlex.quote(remote)}` lets the build "
                    f"see it (builds read {refs.ref} and never use the network).")
    return " ".join(said)


def pin(files: list[Path], *, repo: Path, remote: str = "origin", template: str = "",
        previous: dict[Path, str] | None = None, contents: dict[Path, Path] | None = None,
        resolved=None) -> Pins:
    """Raw URLs for the figures whose exact bytes the remote already has.

    A figure is pinned when the blob at its path in the pinned commit (see ``_refs``) equals
    its ``git hash-object``; the others are pending, with ``advice``. *previous* maps figures to
    the commit the last build linked them to: a figure keeps that commit while it still holds the
    same bytes and the remote has it, so pushing the article itself does not move every link (and
    change the article again). *contents* names where a file's bytes are while the build has
    only staged it (``Publication.resolve``). Relative *files* are taken from *repo*. Git runs a fixed handful of
    times per call, however many figures there are. *resolved*: the repository as the build read it once
    (``gitrepo.Repository``: its root, remote URL and refs), so they are not asked again.
    Raises GitHostError where no build could ever pin (see the class)."""
    root, why = (resolved.root, "") if resolved is not None else _toplevel(Path(repo))
    if root is None:
        raise GitHostError(f"{repo}: image_base_url = \"git\" needs the project in a git repository with a "
                           f"remote ({why}); run `git init` and `git remote add origin URL`, or set "
                           "image_base_url to a URL, or leave it empty to upload figures by hand")
    contents = contents or {}
    rels = [_relative(Path(f), Path(repo), root, staged=f in contents) for f in files]
    configured = resolved.url if resolved is not None else _git(root, "config", "--get", f"remote.{remote}.url").stdout.strip()
    if not configured:
        return Pins(pending=tuple(files), advice=(
            f"The repository {root} has no remote named {remote!r}: add one "
            f"(`git remote add {shlex.quote(remote)} https://github.com/OWNER/REPO.git`, or set "
            f"tool.pipeline.article.git_remote), then commit and push the figures."))
    refs = resolved.refs if resolved is not None else _refs(root, remote)
    if not files:  # an article without figures links nothing: any remote will do
        return Pins(commit=refs.commit)
    pattern = raw_url_base(configured, template)
    if pattern is None:
        raise GitHostError(f"remote {remote!r} ({_display(configured)}) is not on github.com or gitlab.com: "
                           "set tool.pipeline.article.image_url_template to its raw-file URL, e.g. "
                           "https://{host}/{owner}/{repo}/raw/{commit}/{path}")
    sources = [str(contents[f]) if f in contents else r for f, r in zip(files, rels)]
    hashed = _git(root, "hash-object", "--no-filters", "--stdin-paths", stdin="".join(r + "\n" for r in sources))
    hashes = hashed.stdout.split()
    if hashed.returncode != 0 or len(hashes) != len(rels):
        raise GitHostError(f"git hash-object failed in {root}: {hashed.stderr.strip()}")
    previous = previous or {}
    pushed_before = _pushed_commits(root, refs.commit, previous)
    before = [previous.get(f) if previous.get(f) in pushed_before else None for f in files]
    revs = ([f"{refs.commit}:{r}" for r in rels] if refs.commit else []) + [f"HEAD:{r}" for r in rels]
    revs += [f"{c}:{r}" for c, r in zip(before, rels) if c]
    blobs = _blobs(root, revs)
    tip = len(rels) if refs.commit else 0  # revs: at the pinned commit, at HEAD, at the earlier commits
    at_commit = blobs[:tip] if refs.commit else [None] * len(rels)
    at_head = blobs[tip:tip + len(rels)]
    at_before = iter(blobs[tip + len(rels):])
    urls: dict[Path, str] = {}
    pending: list[Path] = []
    unpushed, not_in_head = [], []
    for file, rel, digest, pushed, committed, old in zip(files, rels, hashes, at_commit, at_head, before):
        kept = next(at_before) if old else None
        commit = old if old and kept == digest else refs.commit if refs.commit and pushed == digest else None
        if commit:
            urls[file] = pattern.replace("{commit}", commit).replace("{path}", quote(rel, safe="/"))
            continue
        pending.append(file)
        (unpushed if committed == digest else not_in_head).append(rel)
    ignored: set[str] = set()
    if not_in_head:
        checked = _git(root, "check-ignore", "-z", "--stdin", stdin="\0".join(not_in_head) + "\0")
        ignored = set(filter(None, checked.stdout.split("\0")))
    uncommitted = [r for r in not_in_head if r not in ignored]
    advice = _advice(root, remote, refs, sorted(ignored), uncommitted, unpushed) if pending else ""
    return Pins(urls=urls, pending=tuple(pending), commit=refs.commit, advice=advice)


def earlier_pins(text: str, *, repo: Path, remote: str = "origin", template: str = "",
                 resolved=None) -> dict[Path, str]:
    """The commits an earlier build pinned figures to, read from that build's article *text*
    ({figure file: commit}), for ``pin(previous=...)``; empty when nothing can be read. *resolved*: as
    for ``pin``."""
    root = resolved.root if resolved is not None else _toplevel(Path(repo))[0]
    if root is None:
        return {}
    configured = resolved.url if resolved is not None else _git(root, "config", "--get", f"remote.{remote}.url").stdout.strip()
    try:
        pattern = raw_url_base(configured, template) if configured else None
    except GitHostError:
        return {}
    if not pattern:
        return {}
    regex = re.escape(pattern).replace(re.escape("{commit}"), "(?P<commit>[0-9a-f]{40}(?:[0-9a-f]{24})?)")
    regex = regex.replace(re.escape("{path}"), r"(?P<path>[^\s()\"'<>]+)")
    found = {}
    for match in re.finditer(regex, text):
        found[(root / unquote(match.group("path"))).resolve()] = match.group("commit")
    return found
