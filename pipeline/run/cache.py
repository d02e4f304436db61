"""The execution cache: an experiment whose key is unchanged is never executed again.

The key is a hash of everything that can change an experiment's outputs:
- the code cells' sources and the tags that change execution
  (``skip-execution``, ``raises-exception``), injected parameters included;
- whether the experiment allows errors (``allow_errors``; left out when it does not, so
  keys written before the setting existed stay valid);
- the kernel name and the Python version;
- the model settings the kernel receives (``[tool.pipeline.model]``);
- the installed versions of ``cache_packages`` and the source of this
  package's modules that run in kernels (``pipeline.run.kernel_side``);
- the bytes of every data file the experiment declares.
Markdown cells and other tags are left out, so editing an observation never
re-runs anything: their text is merged onto the cached outputs instead.

Entries live in ``build/cache/NAME/KEY.ipynb``; writes are atomic, and an entry
that cannot be read is reported, deleted and re-executed. ``durations.json`` keeps how
long each experiment's last clean run took (``--jobs`` starts the longest first).
"""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import threading
from pathlib import Path

from pipeline.config import Config
from pipeline.lab import model_settings
from pipeline.model_cache import package_versions
from pipeline.records import RUN_METADATA, Experiment
from pipeline.run.kernel_side import kernel_digest
from pipeline.storage import atomic_write_text

CACHE_FORMAT = 2
EXECUTION_TAGS = ("skip-execution", "raises-exception")
KEEP_ENTRIES = 3


def environment_parts(config: Config) -> dict:
    """The parts of every experiment's key that do not depend on the experiment (computed once a run)."""
    settings = model_settings(config)
    return {
        "format": CACHE_FORMAT,
        "kernel": config.kernel,
        "python": platform.python_version(),
        "settings": settings,
        "packages": package_versions(config.cache_packages, missing="not installed"),
        "helpers": kernel_digest(),
    }


def key_parts(experiment: Experiment, config: Config, environment: dict | None = None) -> dict:
    cells = [
        {"source": c.source, "tags": sorted(t for t in c.metadata.get("tags", []) if t in EXECUTION_TAGS)}
        for c in experiment.notebook.cells
        if c.cell_type == "code"
    ]
    return {
        **(environment or environment_parts(config)),
        **({"allow_errors": True} if experiment.allow_errors else {}),
        "cells": cells,
        "data": {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in experiment.data_files},
    }


def cache_key(experiment: Experiment, config: Config, environment: dict | None = None) -> str:
    return _digest(key_parts(experiment, config, environment))


def stored_key(nb) -> str:
    """The key of a notebook published with its stored outputs: its code and their outputs."""
    cells = [{"source": c.source, "outputs": c.get("outputs", [])} for c in nb.cells if c.cell_type == "code"]
    return _digest({"format": CACHE_FORMAT, "stored": cells})


def _digest(parts: dict) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class Cache:
    def __init__(self, folder: Path, warn=print):
        self.folder = folder
        self.warn = warn
        self._lock = threading.Lock()  # experiments running at once record their durations in turn

    def durations(self) -> dict[str, float]:
        """Seconds each experiment's last stored run took (empty when none is recorded)."""
        try:
            data = json.loads((self.folder / "durations.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}

    def _path(self, name: str, key: str) -> Path:
        return self.folder / name / f"{key}.ipynb"

    def has(self, name: str, key: str) -> bool:
        """Whether an entry for (name, key) exists (``lookup`` reads and checks it)."""
        return self._path(name, key).is_file()

    def lookup(self, name: str, key: str):
        """The cached executed notebook for (name, key), or None."""
        import nbformat

        path = self._path(name, key)
        if not path.is_file():
            return None
        try:
            nb = nbformat.read(str(path), as_version=4)
            nbformat.validate(nb)
            if (nb.metadata.get(RUN_METADATA) or {}).get("cache_key") != key:
                raise ValueError("entry does not carry its own key")
        except Exception as exc:  # any unreadable entry is re-executed, never fatal (nbformat raises many types)
            self.warn(f"cache entry {path} is unreadable ({type(exc).__name__}: {exc}); re-executing {name}")
            path.unlink(missing_ok=True)
            return None
        return nb

    def store(self, name: str, key: str, nb) -> Path:
        import nbformat

        path = self._path(name, key)
        atomic_write_text(path, nbformat.writes(nb))
        duration = (nb.metadata.get(RUN_METADATA) or {}).get("duration")
        if isinstance(duration, (int, float)):
            with self._lock:
                durations = {**self.durations(), name: duration}
                atomic_write_text(self.folder / "durations.json", json.dumps(durations, indent=1, sort_keys=True))
        entries = sorted((path.parent).glob("*.ipynb"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_ENTRIES:]:
            old.unlink(missing_ok=True)
        return path


def merge_outputs(current, cached):
    """The current notebook (fresh markdown, tags and metadata) with the cached code outputs."""
    merged = copy.deepcopy(current)
    cached_code = [c for c in cached.cells if c.cell_type == "code"]
    code = [c for c in merged.cells if c.cell_type == "code"]
    for new, old in zip(code, cached_code):
        new.outputs = copy.deepcopy(old.outputs)
        new.execution_count = old.get("execution_count")
        duration = old.metadata.get("pipeline", {}).get("duration")
        new.metadata.setdefault("pipeline", {})["duration"] = duration
    merged.metadata[RUN_METADATA] = copy.deepcopy(cached.metadata.get(RUN_METADATA, {}))
    if "language_info" in cached.metadata:
        merged.metadata["language_info"] = cached.metadata["language_info"]
    return merged
