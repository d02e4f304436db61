"""Writing outputs so that nothing is ever half-written or lost.

- ``atomic_write_*``: a file goes to a temporary sibling and is moved into place
  with ``os.replace`` (atomic on one file system).
- ``Publication``: the records, figures, articles and site of a build are staged in
  ``build/.staging`` (each target checked first: ``layout.check_writable``) and moved
  into place together, each by one rename on the same file system, so nothing
  half-made sits in a folder the writer shares. A target on another file system is
  staged beside itself instead, and the publication says so. The swap is journaled
  (``build/.publish.json``): an interrupted swap is finished by the next command
  (``recover``), so readers see either the previous outputs or the new ones. Folders
  are exchanged in one step where the system can (``pipeline.renames``), so a
  published folder is never missing, even for a moment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from pipeline.renames import exchange

#: journals of the publications this process committed (so an interrupt message can tell the truth)
PUBLISHED: list[Path] = []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _public(path: Path, folder: bool = False) -> Path:
    """Give a temporary file or folder (made private by mkstemp/mkdtemp) the usual permissions."""
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        _public(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_if_changed(path: Path, text: str) -> bool:
    """Write *text* atomically unless the file already holds exactly that; True when written."""
    path = Path(path)
    try:
        if path.is_file() and path.read_bytes() == text.encode("utf-8"):
            return False
    except OSError:
        pass
    atomic_write_text(path, text)
    return True


def _device(path: Path) -> int:
    """The file system of *path*, or of its nearest existing folder above."""
    for folder in (path, *path.parents):
        try:
            return os.stat(folder).st_dev
        except OSError:
            continue
    return -1


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _swap_in(staged: Path, target: Path) -> None:
    """Put *staged* at *target*; what was at *target* ends up at *staged* (or is gone)."""
    if staged.is_dir() and target.is_dir() and exchange(staged, target):
        return
    if target.is_dir() and not target.is_symlink():
        old = staged.with_name(f".{target.name}.{os.getpid()}.old")  # in the staging folder, beside staged
        os.replace(target, old)
        os.replace(staged, target)
        os.replace(old, staged)
    else:
        os.replace(staged, target)


# ---------------------------------------------------------------------------
# Publications
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One path of a publication: ``staged`` replaces ``target`` (None: ``target`` is removed)."""

    target: Path
    staged: Path | None
    inode: int = 0  # of the staged path, so recovery can tell whether the swap happened


class Publication:
    """Everything one command publishes, staged first and swapped in as one journaled step.

        with Publication.of(layout, warn=progress.warn) as pub:
            pub.write(path, text)            # a file
            folder = pub.folder(path)        # a folder to fill
            pub.remove(path)                 # a stale file or folder
        # leaving the block without an error commits; an error discards the staging

    Nothing outside *staging* (None: beside each target) changes before ``commit``; *guard* may
    refuse each target first; *warn* hears of targets staged beside themselves.
    """

    def __init__(self, journal: Path, staging: Path | None = None,
                 guard: Callable[[list[Path]], None] | None = None, warn: Callable[[str], None] | None = None):
        self.journal, self.staging, self.guard = Path(journal), staging and Path(staging), guard
        self.warn = warn or (lambda message: None)
        self._changes: dict[Path, Change] = {}
        self._staged: list[Path] = []
        self._beside: set[int] = set()  # file systems already said to be staged beside their targets
        self.committed = False

    @classmethod
    def of(cls, layout, warn: Callable[[str], None] | None = None) -> "Publication":
        """A project's publication: staged in ``layout.staging``, targets checked by ``layout.check_writable``."""
        from pipeline.layout import check_writable

        return cls(layout.journal, staging=layout.staging, guard=lambda paths: check_writable(paths, layout),
                   warn=warn)

    def __enter__(self) -> "Publication":
        return self

    def __exit__(self, kind, error, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    # staging -------------------------------------------------------------
    def _new(self, target: Path, folder: bool) -> Path:
        """A fresh file or folder for *target*'s new version (after the guard), in the staging folder,
        from where a rename moves it into place; beside *target* when on another file system."""
        if self.guard is not None:
            self.guard([target])
        where = target.parent
        if self.staging is not None:
            self.staging.mkdir(parents=True, exist_ok=True)
            if _device(where) == _device(self.staging):
                where = self.staging
            elif _device(where) not in self._beside:  # said once per file system
                self._beside.add(_device(where))
                self.warn(f"{where} is on another file system than {self.staging}, so the new files for it are "
                          "staged beside their targets (hidden .NAME.*.new files while the build publishes)")
        where.mkdir(parents=True, exist_ok=True)
        if folder:
            staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=where))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".new", dir=where)
            os.close(fd)
            staged = Path(name)
        return self._add(target, _public(staged, folder=folder))

    def write(self, target: Path, data: str | bytes) -> Path:
        staged = self._new(Path(target), folder=False)
        staged.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return staged

    def folder(self, target: Path) -> Path:
        return self._new(Path(target), folder=True)

    def remove(self, target: Path) -> None:
        target = Path(target)
        if target.exists() or target.is_symlink():
            if self.guard is not None:
                self.guard([target])
            self._changes[target] = Change(target, None)

    def _add(self, target: Path, staged: Path) -> Path:
        previous = self._changes.get(target)
        if previous is not None and previous.staged is not None:
            _remove(previous.staged)
        self._staged.append(staged)
        self._changes[target] = Change(target, staged, os.stat(staged).st_ino)
        return staged

    def drop(self, target: Path) -> None:
        """Forget what is staged for *target*: it stays as it is."""
        change = self._changes.pop(Path(target), None)
        if change is not None and change.staged is not None:
            _remove(change.staged)

    @contextmanager
    def part(self) -> Iterator[None]:
        """Stage one part that is published whole or not at all (a platform's files): an error inside
        the block drops what the block staged, so the rest of the publication goes on without it.
        Parts stage disjoint targets."""
        before = dict(self._changes)
        try:
            yield
        except BaseException:
            for target, change in list(self._changes.items()):
                if before.get(target) is not change:
                    if change.staged is not None:
                        _remove(change.staged)
                    del self._changes[target]
            raise

    def resolve(self, path: Path) -> Path:
        """Where *path* is to be read now: inside its staged replacement when one is staged."""
        path = Path(path)
        for target, change in self._changes.items():
            if change.staged is None:
                continue
            if path == target:
                return change.staged
            try:
                return change.staged / path.relative_to(target)
            except ValueError:
                continue
        return path

    # the one step ----------------------------------------------------------
    def commit(self) -> None:
        """Write the journal, swap everything in, then drop the old contents and the journal.
        Ctrl-C during the swap is held back until it is done."""
        if self.committed:
            return
        changes = []
        for change in self._changes.values():
            if change.staged is not None and _same(change.staged, change.target):
                _remove(change.staged)  # nothing changed: leave the published copy (and its mtime) alone
            else:
                changes.append(change)
        with _interrupts_deferred():
            atomic_write_text(self.journal, json.dumps(
                {"pid": os.getpid(), "staging": str(self.staging) if self.staging else None,
                 "changes": [[str(c.target), str(c.staged) if c.staged else None, c.inode] for c in changes]},
                indent=1))
            _apply(changes, self.journal, self.staging)
            self.journal.unlink(missing_ok=True)
            self.committed = True
            if changes:
                PUBLISHED.append(self.journal)
        for change in changes:
            if change.staged is not None and (change.staged.exists() or change.staged.is_symlink()):
                _remove(change.staged)  # the previous contents

    def discard(self) -> None:
        for path in self._staged:
            if path.exists() and not self.committed:
                _remove(path)
        self._changes.clear()


def _same(staged: Path, target: Path) -> bool:
    """Whether *target* already holds exactly what *staged* holds (files and folders)."""
    if staged.is_dir() and not staged.is_symlink():
        if not target.is_dir() or target.is_symlink():
            return False
        mine = sorted(p.relative_to(staged) for p in staged.rglob("*"))
        theirs = sorted(p.relative_to(target) for p in target.rglob("*"))
        return mine == theirs and all(_same(staged / p, target / p) for p in mine if not (staged / p).is_dir())
    try:
        return target.is_file() and staged.stat().st_size == target.stat().st_size and staged.read_bytes() == target.read_bytes()
    except OSError:
        return False


def _apply(changes: list[Change], journal: Path, staging: Path | None = None) -> None:
    try:
        _swap_all(changes, staging)
    except OSError as exc:
        from pipeline.errors import PipelineError

        raise PipelineError(
            f"publishing stopped at {exc.filename or 'a path'} ({exc.strerror or exc}); fix that path (permissions, a "
            f"folder where a file should be) and run the command again, which finishes the publication; "
            f"to give it up instead, remove {journal}") from None


def _swap_all(changes: list[Change], staging: Path | None = None) -> None:
    for change in changes:
        target, staged = change.target, change.staged
        if staged is None:
            if target.exists() or target.is_symlink():
                # out of the writer's folder by one rename: into the staging folder when it is on the same file system
                near = staging is not None and staging.is_dir() and _device(staging) == _device(target.parent)
                trash = (staging if near else target.parent) / f".{target.name}.{os.getpid()}.old"
                os.replace(target, trash)
                _remove(trash)
            continue
        if not staged.exists():
            continue  # already swapped (recovery) and its old contents removed
        if os.stat(staged).st_ino != change.inode:
            continue  # staged now holds the previous contents: the swap happened
        target.parent.mkdir(parents=True, exist_ok=True)
        _swap_in(staged, target)


def recover(journal: Path, folders: list[Path], warn: Callable[[str], None] = print,
            beside: list[Path] = ()) -> None:
    """Finish a publication that an interrupted command left half-done, then remove the staging
    leftovers this module makes (``.NAME.<random>.new``/``.old``/``.tmp``): anywhere in *folders*
    (which the pipeline owns whole, the staging folder among them), and next to each path in
    *beside* (outputs in folders the user shares with the pipeline, where only that output's own
    leftovers are touched: a target staged beside itself). Call it holding the build lock."""
    journal = Path(journal)
    if journal.is_file():
        try:
            data = json.loads(journal.read_text(encoding="utf-8"))
            changes = [Change(Path(t), Path(s) if s else None, int(i)) for t, s, i in data["changes"]]
            staged_in = Path(data["staging"]) if data.get("staging") else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warn(f"{journal}: unreadable publication journal ({exc}); the last publication may be incomplete, "
                 "run the build again")
            changes, staged_in = [], None
        if changes:
            warn(f"finishing the publication that an interrupted command (pid {data.get('pid')}) left half-done")
            _apply(changes, journal, staged_in)
            for change in changes:
                if change.staged is not None and change.staged.exists():
                    _remove(change.staged)
        journal.unlink(missing_ok=True)
    for folder in folders:
        _clean_leftovers(Path(folder))
    for target in beside:
        target = Path(target)
        if target.parent.is_dir():
            mine = re.compile(re.escape(f".{target.name}.") + f"(?:{_STAGING_TAIL})")
            for item in target.parent.iterdir():
                if mine.fullmatch(item.name):
                    _remove(item)


#: what tempfile (or a pid) adds to a staged name, and the suffix: ".index.md.k2j4x8_q.new"
_STAGING_TAIL = r"[A-Za-z0-9_]{6,12}\.(?:new|tmp)|\d+\.old"
_LEFTOVER = re.compile(r"\..+\.(?:" + _STAGING_TAIL + ")")


def _clean_leftovers(folder: Path, depth: int = 0) -> None:
    if not folder.is_dir() or depth > 3:
        return
    for item in folder.iterdir():
        name = item.name
        if _LEFTOVER.fullmatch(name):
            _remove(item)
        elif item.is_dir() and not item.is_symlink() and name not in ("node_modules", ".git"):
            _clean_leftovers(item, depth + 1)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back for the duration (main thread only); re-raise after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}

    def hold(signum, frame):
        received.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, hold)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            if received[0] == signal.SIGINT:
                raise KeyboardInterrupt
            os.kill(os.getpid(), received[0])
