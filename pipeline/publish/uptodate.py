"""A build with nothing changed ends at once, before any stage runs (like make's timestamps).

``stamp`` writes ``build/.uptodate.json`` (``Layout.up_to_date_stamp``) after a
build with no failure, no LLM pass and no gateway: a fingerprint of the inputs and
outputs, and what its summary said. It is *settled* when the build ran no experiment
(so after an edit, the build that runs it settles the outputs and the next one
settles the stamp). The next ``build`` compares a fresh fingerprint with it
(``check``); only an exact match with a settled stamp skips the stages. ``status``
compares the inputs alone (``inputs_unchanged``: the outputs may change without the
article changing, as when qiita-cli writes an id back). The fingerprint covers, by
path, size and modification time:

- every file of the project (hidden folders, virtual environments, node_modules
  and the build folder left out), so experiments, templates, pyproject.toml,
  mkdocs.yml, background and summary files, images the prose links to and data
  files; folders linked in by symlinks are followed;
- the data files experiments declare outside the project, the package's default
  templates and this package's own files;
- every output the build owns: executed notebooks, cache, records, figures, the
  Qiita and Zenn exports and the site (a deleted or edited output is rebuilt);

plus the resolved configuration, the Python interpreter, ``PYTHONPATH``, the
modification times of the folders on ``sys.path`` (installing, upgrading or
removing a package there changes them) and, for the files a push publishes, what the
remote-tracking branch holds there (after a push, the next build drops the figures the
pushed articles no longer link: ``gitrepo.Repository.linked_at_remote``). Any difference or doubt (no stamp,
an unreadable one, another format) runs the full build, which is always right; a
file saved without a change costs only that. An input modified after the build
started leaves the stamp unwritten; one modified less than 2 s before it started (a
coarse file clock could hide an edit) leaves it unsettled: it never skips a build, and
only tells ``status`` (with ``inputs_unchanged``) what the build's inputs were, as the
stamp of a build that ran experiments does. Not seen: an edit that keeps a file's size and puts back an
older modification time (``cp -p``, ``rsync -a`` of an older copy), and edits
inside installed packages (the execution cache does not see those either); run
``build --force`` after such changes. ``--force``, the LLM pass and gateway
builds never use the stamp.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.codec import decode, encode
from pipeline.config import Config
from pipeline.layout import DEFAULT_TEMPLATES, searched
from pipeline.storage import atomic_write_text
from pipeline.summary import BuildSummary

if TYPE_CHECKING:
    from pipeline.publish.gitrepo import Reader

PACKAGE = Path(__file__).resolve().parent.parent  # the whole pipeline package

FORMAT = 4
#: folders never walked: caches of Python, Jupyter and git
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git"}
#: an input modified this long before the build started leaves the stamp unsettled (later: unwritten)
RACY_NS = 2_000_000_000


def _files(root: Path, skip: frozenset[Path] = frozenset(), project: bool = False):
    """Every file under *root* (or *root* itself), following symlinked folders once. In the
    *project* walk, hidden folders, virtual environments and node_modules are left out too."""
    if not root.is_dir():
        yield root
        return
    seen = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and here / d not in skip
                         and (not project or searched(here, d)))
        for name in sorted(names):
            yield here / name


def _inputs(config: Config, data_files: list[str]) -> list[Path]:
    article = config.article
    inputs = [config.root, config.layout.experiments, config.layout.templates, DEFAULT_TEMPLATES, PACKAGE,
              *(config.root / p for p in (article.background, article.summary) if p), *(Path(p) for p in data_files)]
    return inputs[:1] + [p for p in inputs[1:] if p != config.root]  # experiments_dir "." is the root, walked once


def _outputs(config: Config, targets: tuple[Path, ...]) -> list[Path]:
    from pipeline.layout import inside

    layout = config.layout
    return [layout.executed, layout.cache, layout.records, layout.figures, layout.qiita, layout.site,
            *(t for t in targets if not inside(t, layout.qiita) and not inside(t, layout.site))]


def fingerprint(config: Config, data_files: list[str], repository: Reader | None = None) -> tuple[str, str, int]:
    """The fingerprint, the fingerprint of the inputs alone (what ``status`` compares: the outputs may
    change without the article changing, as when qiita-cli writes an id back), and the newest
    modification time (ns) among the inputs. *repository*: the build's (``gitrepo.read_once``)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([FORMAT, sys.executable, platform.python_version(), os.environ.get("PYTHONPATH", ""),
                              dataclasses.asdict(config)], sort_keys=True, default=str).encode())
    # an install, upgrade or removal changes their entries; the working folder (`python -m` puts it first)
    # does not change what a build makes, so `build` in the project and `build --all` above it agree
    for folder in sorted(set(sys.path) - {"", os.getcwd()}):
        try:
            digest.update(b"\0path " + os.fsencode(folder) + str(os.stat(folder or ".").st_mtime_ns).encode())
        except OSError:
            pass
    from pipeline.publish.export import article_paths

    paths = article_paths(config)  # where the export writes, and what a push publishes
    inputs, outputs = _inputs(config, data_files), _outputs(config, paths.targets)
    skip = frozenset([config.layout.build, *outputs, *inputs[1:]])  # each walked once, on its own
    newest, inputs_digest = 0, ""
    for number, root in enumerate(inputs + outputs):
        if number == len(inputs):
            inputs_digest = digest.hexdigest()
        digest.update(b"\0root " + os.fsencode(root))
        for file in _files(root, skip, project=number == 0):
            try:
                info = file.stat()
            except OSError:
                digest.update(b"\0" + os.fsencode(file) + b"\0missing")
                continue
            digest.update(b"\0" + os.fsencode(file) + f"\0{info.st_size}\0{info.st_mtime_ns}".encode())
            if number < len(inputs):
                newest = max(newest, info.st_mtime_ns)
    remote = _remote_state(config, list(paths.pushed), repository)
    digest.update(b"\0remote " + remote.encode("utf-8", "surrogateescape"))
    return digest.hexdigest(), inputs_digest or digest.hexdigest(), newest


def _remote_state(config: Config, paths: list[Path], repository: Reader | None) -> str:
    """What the remote-tracking branch (of the configured remote, in the repository holding the
    project) holds at the article's pushed *paths* ("" when none are outside build/)."""
    from pipeline.publish.gitrepo import read_once

    if not paths:
        return ""
    repo = (repository or read_once(config.root, config.article.git_remote))()
    return repo.remote_state(paths) if repo else ""


def clear(config: Config) -> None:
    """Forget the stamp (a full build is starting: until it ends, nothing is known to be up to date)."""
    config.layout.up_to_date_stamp.unlink(missing_ok=True)


def _saved(config: Config) -> dict:
    saved = json.loads(config.layout.up_to_date_stamp.read_text(encoding="utf-8"))
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError("another format")
    return saved


def check(config: Config, repository: Reader | None = None) -> BuildSummary | None:
    """The last build's summary (``up_to_date=True``) when nothing changed since it, else None."""
    try:
        saved = _saved(config)
        if not saved["settled"] or saved["fingerprint"] != fingerprint(config, saved["data_files"], repository)[0]:
            return None
        return dataclasses.replace(decode(BuildSummary, saved["summary"]), up_to_date=True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def inputs_unchanged(config: Config) -> bool | None:
    """Whether no input changed since the last clean build (``status``); None when no build left a
    stamp (none yet, or the last one failed, drafted with the LLM or ran on a gateway)."""
    try:
        saved = _saved(config)
        return saved["inputs"] == fingerprint(config, saved["data_files"])[1]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def stamp(config: Config, summary: BuildSummary, data_files, started_ns: int,
          repository: Reader | None = None) -> str | None:
    """Record a build that started at *started_ns* (*data_files*: the data files its experiments
    declared). Only a settled build (no experiment ran, no LLM pass) may stand for the next ones;
    any clean build tells ``status`` what its inputs were. Returns a problem to warn about, or None."""
    if summary.failures or summary.drafts is not None:
        return None
    data_files = sorted({os.fsdecode(p) for p in data_files})
    digest, inputs, newest = fingerprint(config, data_files, repository)
    if newest >= started_ns:
        return None  # an input changed during the build: what was built may be stale
    # a build that ran experiments may have had one-off warnings (a re-run cache entry): the next one settles;
    # an input modified just before the build started (a coarse file clock could hide an edit) is for
    # `status` only, never for skipping a build
    settled = not summary.count("executed") and newest < started_ns - RACY_NS
    try:
        atomic_write_text(config.layout.up_to_date_stamp,
                          json.dumps({"format": FORMAT, "fingerprint": digest, "inputs": inputs, "settled": settled,
                                      "data_files": data_files, "summary": encode(summary)},
                                     ensure_ascii=False, indent=1))
    except (OSError, ValueError) as exc:
        return f"could not write {config.layout.up_to_date_stamp} ({exc}); the next build runs every stage"
    return None
