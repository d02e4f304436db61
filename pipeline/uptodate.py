"""A build with nothing changed ends at once, before any stage runs (like make's timestamps).

After a clean build (no failure, no LLM pass, no gateway) ``stamp`` writes
``build/.uptodate.json`` (``Layout.up_to_date_stamp``): a fingerprint of everything the build read and wrote, and
what its summary said. The next ``build`` compares a fresh fingerprint with it
(``check``); only an exact match skips the stages. The fingerprint covers, by path,
size and modification time:

- every file under experiments/ and templates/, pyproject.toml, mkdocs.yml, the
  background and summary files, and the data files the experiments declared
  (wherever they are);
- this package's own files, and the folders of installed packages (an install,
  upgrade or removal changes them);
- every output the build owns: executed notebooks, cache, records, figures, the
  Qiita and Zenn exports and the site (a deleted or edited output is rebuilt);

plus the resolved configuration, the Python interpreter and its version. Any
difference or doubt (no stamp, an unreadable one, another format) runs the full
build, which is always right; a file saved without a change costs only that. An
input modified less than 2 s before the stamp would be written leaves it unwritten
(a coarse file clock could give a later edit the same time).
``build --force``, the LLM pass and gateway builds never use the stamp.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .config import Config, plain_values
from .storage import atomic_write_text

FORMAT = 1
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git"}
#: inputs modified this recently before the stamp leave it unwritten (a coarse clock could hide a later edit)
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class LastBuild:
    """What the summary of the build that wrote the stamp said (``cli`` repeats it)."""

    experiments: int
    figures: int
    warnings: tuple[str, ...]
    article: Path
    qiita_cli: Path
    site_page: Path
    zenn: Path | None
    uploads: tuple[Path, ...]


def _files(root: Path):
    """Every file under *root* (or *root* itself), skipping caches of Python and Jupyter."""
    if root.is_file():
        yield root
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(names):
            yield Path(folder) / name


def fingerprint(config: Config, data_files: list[str]) -> tuple[str, int]:
    """The fingerprint, and the newest modification time (ns) among the inputs."""
    layout = config.layout
    digest = hashlib.sha256()
    digest.update(json.dumps([FORMAT, sys.executable, platform.python_version(), plain_values(config)],
                             sort_keys=True, default=str).encode())
    article = config.article
    inputs = [layout.experiments, layout.templates, config.root / "pyproject.toml", config.root / "mkdocs.yml",
              *(config.root / p for p in (article.background, article.summary) if p),
              *(Path(p) for p in data_files), Path(__file__).parent]
    outputs = [layout.executed, layout.cache, layout.records, layout.figures, layout.qiita, layout.zenn, layout.site]
    newest = 0
    for number, root in enumerate(inputs + outputs):
        digest.update(f"\0root {root}".encode())
        for file in _files(root):
            try:
                stat = file.stat()
            except OSError:
                continue
            digest.update(f"\0{file}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
            if number < len(inputs):
                newest = max(newest, stat.st_mtime_ns)
    for folder in sorted({p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}):
        with contextlib.suppress(OSError):  # its entries change with every install, upgrade or removal
            digest.update(f"\0{folder}\0{os.stat(folder).st_mtime_ns}".encode())
    return digest.hexdigest(), newest


def clear(config: Config) -> None:
    """Forget the stamp (a full build is starting: until it ends, nothing is known to be up to date)."""
    config.layout.up_to_date_stamp.unlink(missing_ok=True)


def check(config: Config) -> LastBuild | None:
    """The last build's summary when nothing changed since it, else None."""
    try:
        saved = json.loads(config.layout.up_to_date_stamp.read_text(encoding="utf-8"))
        if saved.get("format") != FORMAT or saved["fingerprint"] != fingerprint(config, saved["data_files"])[0]:
            return None
        last = saved["summary"]
        return LastBuild(experiments=int(last["experiments"]), figures=int(last["figures"]),
                         warnings=tuple(last["warnings"]), article=Path(last["article"]),
                         qiita_cli=Path(last["qiita_cli"]), site_page=Path(last["site_page"]),
                         zenn=Path(last["zenn"]) if last["zenn"] else None,
                         uploads=tuple(Path(p) for p in last["uploads"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def stamp(config: Config, result) -> None:
    """Record a clean build (*result*: a ``BuildResult`` with no failure)."""
    exported = result.exported
    data_files = sorted({str(p) for p in result.execution.data_files})
    summary = {"experiments": len(result.records), "figures": sum(len(r.figures) for r in result.records),
               "warnings": list(result.warnings), "article": str(exported.article),
               "qiita_cli": str(exported.qiita_cli), "site_page": str(exported.site_page),
               "zenn": str(exported.zenn) if exported.zenn else "", "uploads": [str(p) for p in exported.uploads]}
    digest, newest = fingerprint(config, data_files)
    if newest > time.time_ns() - RACY_NS:
        return  # an input saved during the build may share its time with an edit still to come: trust no stamp
    atomic_write_text(config.layout.up_to_date_stamp, json.dumps({"format": FORMAT, "fingerprint": digest, "data_files": data_files,
                                                "summary": summary}, ensure_ascii=False, indent=1))
