"""What a kernel gets and what it leaves behind.

- ``kernel_environment``: the environment an experiment's kernel starts with.
  Credentials are removed by default (``OPENAI_*``, ``*_TOKEN``, ``*_KEY``,
  ``*_SECRET``, ``*PASSWORD*``, URLs with ``user:password@``); names listed in
  ``kernel_env_allow`` pass (for example ``HF_TOKEN`` for gated hub models).
- ``redact_outputs``: any credential value of this process's environment that an
  output still shows (an allowed token printed by mistake) becomes ``[redacted]``
  before the notebook is written anywhere.
- ``runtime_base``: where each kernel gets a private folder (mode 0700) for its
  connection file, IPC sockets and log (``pipeline.run.sessions`` makes and removes
  it); ``clean_stale_runtimes`` removes the ones a killed run left, stopping a
  kernel still running from it (checked by its command line: pids are reused).
- ``imported_modules``: the top-level modules a notebook's code imports; ``PROBE``, the code that
  asks a kernel, after the run, for its Python version and those modules' package versions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

_SECRET_NAME = re.compile(
    r"^(OPENAI_.*|.*_TOKEN|.*_TOKEN_.*|.*_KEY|.*_SECRET|.*_SECRET_.*|.*SECRET_KEY.*|.*ACCESS_KEY.*"
    r"|.*PASSWORD.*|.*PASSWD.*|.*_CREDENTIALS?)$",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
REDACTED = "[redacted]"


def is_secret(name: str, value: str) -> bool:
    return bool(_SECRET_NAME.match(name) or _URL_PASSWORD.search(value or ""))


def kernel_environment(base: dict[str, str], allow: tuple[str, ...] = (), extra: dict[str, str] | None = None) -> dict[str, str]:
    """*base* without credentials (except the names in *allow*), plus *extra*."""
    env = {k: v for k, v in base.items() if k in allow or not is_secret(k, v)}
    env.update(extra or {})
    return env


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """The credential values of *environ* (longest first); short ones are left alone."""
    environ = os.environ if environ is None else environ
    values = {v for k, v in environ.items() if v and len(v) >= 6 and is_secret(k, v)}
    for match in (_URL_PASSWORD.search(v) for v in environ.values()):
        if match:
            password = match.group(0).rsplit(":", 1)[-1].rstrip("@")
            if len(password) >= 4:
                values.add(password)
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_outputs(cell, secrets: list[str]) -> None:
    """Replace credential values in a code cell's outputs, in place (the cell is the run's own copy)."""
    if not secrets:
        return
    for out in cell.get("outputs", []):
        for key in ("text", "evalue"):
            if isinstance(out.get(key), str):
                out[key] = redact(out[key], secrets)
        if isinstance(out.get("traceback"), list):
            out["traceback"] = [redact(line, secrets) for line in out["traceback"]]
        for mime, value in list(out.get("data", {}).items()):
            if isinstance(value, str):
                out["data"][mime] = redact(value, secrets)
            elif isinstance(value, list):
                out["data"][mime] = [redact(v, secrets) if isinstance(v, str) else v for v in value]
            elif isinstance(value, dict):
                out["data"][mime] = json.loads(redact(json.dumps(value, ensure_ascii=False), secrets))


# ---------------------------------------------------------------------------
# Private runtime folders
# ---------------------------------------------------------------------------

def runtime_base() -> Path:
    base = Path(tempfile.gettempdir()) / f"ml-article-pipeline-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    return base


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remember_kernel(folder: Path, pid: int | None) -> None:
    """Note a local kernel's pid, so that a later run can stop it if this process is killed."""
    if pid:
        (folder / "kernel.pid").write_text(str(pid), encoding="utf-8")


def clean_stale_runtimes() -> int:
    """Remove runtime folders of runs whose process is gone (killed), stopping their kernels. Returns how many."""
    removed = 0
    for folder in runtime_base().iterdir():
        owner = folder.name.split("-", 1)[0]
        if not owner.isdigit() or _alive(int(owner)):
            continue
        try:
            pid = int((folder / "kernel.pid").read_text())
        except (OSError, ValueError):
            pid = None
        if pid and _is_kernel_of(pid, folder):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _is_kernel_of(pid: int, folder: Path) -> bool:
    """Whether *pid* is still the kernel started with this folder's connection file (a pid may
    have been reused by another process since)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(folder / "kernel.json").encode() in command


# ---------------------------------------------------------------------------
# What a notebook imports
# ---------------------------------------------------------------------------

def imported_modules(sources: list[str]) -> list[str]:
    """Top-level module names imported by these code cells (IPython magics understood), in order."""
    import ast

    transformer = None
    names: list[str] = []
    for source in sources:
        try:  # plain Python is what IPython's transforms leave as it is: only the others need them (0.07 s
            tree = ast.parse(source)  # for 150 cells, IPython's import included, against 6 ms)
        except (SyntaxError, ValueError):
            if transformer is None:
                from IPython.core.inputtransformer2 import TransformerManager

                transformer = TransformerManager()
            try:
                tree = ast.parse(transformer.transform_cell(source))
            except (SyntaxError, ValueError):
                continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module.split(".")[0])
    return list(dict.fromkeys(names))


#: defines ``_pipeline_probe(names)`` in the kernel (``KernelSession.probe`` calls it silently)
PROBE = """
def _pipeline_probe(names):
    import csv, importlib.metadata as m, inspect, json, platform, sys, types
    if "pipeline" in names and getattr(sys.modules.get("pipeline.lab"), "models_loaded", 0):  # not sys.modules: pre-imported
        names = names + [n for n in ("torch", "transformers", "bitsandbytes", "accelerate") if n in sys.modules]
    def files(dist, prefixes):  # those of its files that may make these top-level names: RECORD is read as
        record = dist.read_text("RECORD")  # text and only matching lines are parsed (all of it: 0.5 s)
        if record is None:
            return list(dist.files or ())
        lines = [line for line in record.splitlines() if line.startswith(prefixes)]
        return [m.PackagePath(row[0]) for row in csv.reader(lines) if row]
    def provided(dist, name):
        declared = (dist.read_text("top_level.txt") or "").split()
        return name in (declared or {f.parts[0] if len(f.parts) > 1 else inspect.getmodulename(f) for f in files(dist, name)})
    found, rest = {}, []
    for name in names:  # the distribution named like the module, when it provides it: no scan of them all
        if name == "pipeline":  # this package (ml-article-pipeline), never reported
            continue
        try:
            dist = m.distribution(name)
            if not provided(dist, name):
                raise LookupError(name)
        except Exception:
            rest.append(name)
            continue
        if dist.metadata["Name"] != "ml-article-pipeline":
            found[dist.metadata["Name"]] = dist.version
    # the others as packages_distributions() finds them (this Python's own rules), from the lines that matter
    inferred = getattr(m, "_top_level_inferred", lambda dist: ())
    for dist in m.distributions() if rest else ():
        declared = (dist.read_text("top_level.txt") or "").split()
        top = set(declared or inferred(types.SimpleNamespace(files=files(dist, tuple(rest)))))
        owner = dist.metadata["Name"]
        for name in rest:
            if name in top and owner != "ml-article-pipeline":
                try:
                    found[owner] = m.version(owner)
                except Exception:
                    pass
    return json.dumps({"python": platform.python_version(), "packages": found})
"""
