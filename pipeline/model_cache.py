"""One model cache per machine: converted weights shared by every project and every copy of one.

Like the Hugging Face cache, the folder belongs to the machine (the user), not to a project, so a
fresh copy or clone of a project finds the weights an earlier one converted. Where it is, first
match wins (``location``):

1. ``model_cache`` under ``[tool.pipeline]`` (``~`` expanded; relative to the project root);
2. the deprecated ``models_dir`` key, when a project still sets it (a warning says to rename it);
3. the environment variable ``PIPELINE_MODEL_CACHE``;
4. ``$XDG_CACHE_HOME/ml-article-pipeline/models``, ``~/.cache/ml-article-pipeline/models`` when
   ``XDG_CACHE_HOME`` is unset.

An entry is ``<cache>/<name>-<first 16 hex of the source's SHA-256>-c<converter version>/``: a new
source file or a changed converter makes a new entry, never a mixed one. ``ensure`` builds it in
a staging folder next to the entries, writes ``converted.json`` last and renames the folder into
place, all under an exclusive lock per entry (``.locks/``), so concurrent builds (parallel
experiments, two copies of a project, two shells) wait for one conversion instead of racing; a
staging folder left by a killed conversion is removed by the next one that takes the lock.
Source hashes are remembered in ``hashes.json`` (by path, size, modification time and inode),
so loading a model does not read the whole source file again.

Runs inside kernels (``pipeline.lab`` imports it): standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

ENV_VAR = "PIPELINE_MODEL_CACHE"
MARKER = "converted.json"
DEFAULT_MODELS_DIR = "build/models"  # the old per-project default of the deprecated models_dir


def default_location(environ: dict[str, str] | None = None) -> Path:
    """The machine's cache when no project setting names one (steps 3 and 4 above)."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR]).expanduser().resolve()
    base = Path(environ["XDG_CACHE_HOME"]).expanduser() if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return (base / "ml-article-pipeline" / "models").resolve()


def location(config: Any, environ: dict[str, str] | None = None) -> tuple[Path, str]:
    """``(folder, warning)`` for a ``pipeline.config.Config``: the warning is empty unless the
    project still sets the deprecated ``models_dir``."""
    if config.model_cache:
        path = Path(config.model_cache).expanduser()
        return (path if path.is_absolute() else config.root / path).resolve(), ""
    if Path(config.models_dir).resolve() != (config.root / DEFAULT_MODELS_DIR).resolve():
        return Path(config.models_dir).resolve(), (
            "tool.pipeline.models_dir is deprecated: converted models now live in one cache per machine "
            f"({default_location(environ)}); rename the key to model_cache to keep using "
            f"{config.models_dir}, or remove it to share the machine's cache")
    return default_location(environ), ""


def entry_name(name: str, digest: str, version: int | str) -> str:
    return f"{name}-{digest[:16]}-c{version}"


def finished(folder: Path) -> bool:
    """Whether *folder* is a complete entry (its marker is written last)."""
    return (folder / MARKER).is_file()


def ensure(cache: Path, name: str, source: Path, version: int | str, convert: Callable[[Path], None]) -> Path:
    """The entry for *source* converted by *convert* (version *version*), converting it first if no
    finished entry exists. ``convert(staging)`` writes the converted files into *staging*."""
    import fcntl

    digest = source_digest(source, cache)
    folder = cache / entry_name(name, digest, version)
    if finished(folder):
        return folder
    locks = cache / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with _lock_file(locks / f"{folder.name}.lock") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if finished(folder):  # another process converted it while this one waited
            return folder
        prefix = f".staging-{folder.name}-"
        for stale in cache.glob(prefix + "*"):  # a killed conversion's leftovers: nobody else holds the lock
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=cache))
        try:
            convert(staging)
            (staging / MARKER).write_text(json.dumps({
                "source": str(source), "sha256": digest, "converter": str(version),
                **package_versions(("transformers", "torch")),
            }, indent=1), encoding="utf-8")
            if folder.exists():  # an unfinished entry (no marker): replace it
                shutil.rmtree(folder)
            staging.chmod(0o755)  # mkdtemp's 0700 would keep a cache moved to a shared folder private
            os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _lock_file(path: Path):
    """The lock file, opened so that flock works: for writing, else (a cache another user
    created) for reading, which flock accepts too."""
    try:
        return open(path, "a")
    except PermissionError:
        return open(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_digest(path: Path, cache: Path | None = None) -> str:
    """The SHA-256 of *path*, remembered in ``cache/hashes.json`` while the file is unchanged."""
    stat = path.stat()
    prefix = f"{path.resolve()}|"
    key = f"{prefix}{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    memo = _read_memo(cache / "hashes.json") if cache is not None else {}
    if isinstance(memo.get(key), str):
        return memo[key]
    value = file_sha256(path)
    if cache is not None:  # two processes writing at once lose one memo entry at worst: it is hashed again
        memo = {k: v for k, v in memo.items() if not k.startswith(prefix)}
        _write_memo(cache / "hashes.json", {**memo, key: value})
    return value


def _read_memo(file: Path) -> dict:
    try:
        memo = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _write_memo(file: Path, memo: dict) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".hashes-", dir=file.parent)
    except OSError:  # a read-only cache still works: it only hashes again next time
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(memo, out, indent=1)
        os.chmod(temp, 0o644)  # mkstemp's 0600 would keep a shared cache's memo from its other users
        os.replace(temp, file)
    except OSError:
        Path(temp).unlink(missing_ok=True)


def package_versions(names: tuple[str, ...] | list[str], missing: str | None = None) -> dict[str, str]:
    """The installed version of each of *names*; one not installed gets *missing*, or is left out
    when that is None (the cache key of ``pipeline.run.cache`` says "not installed")."""
    from importlib import metadata

    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if missing is not None:
                found[name] = missing
    return found
