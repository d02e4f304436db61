"""The modules of this package that run inside experiment kernels, found from their imports.

Experiments import ``pipeline.glue`` and ``pipeline.lab``, and every kernel loads the
``pipeline.kernel_extension`` IPython extension. Whatever those import from this
package, at any depth and inside functions too, runs in the kernel as well. This one
list serves both places that need it:

- the cache key hashes their source, so editing any of them re-runs the experiments;
- a gateway kernel, which may not have this project installed, is sent their source.

An import that never runs in a pipeline kernel (``lab.settings()`` reading the config
when an experiment runs as a plain script) carries the comment ``# outside kernels``
and is left out.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
#: what experiments import, and the extension every kernel loads
ROOTS = ("glue", "lab", "kernel_extension")
OUTSIDE_KERNELS = "# outside kernels"


def module_path(name: str) -> Path:
    """``"run.cache"`` -> ``pipeline/run/cache.py``; ``"__init__"`` -> the package's ``__init__.py``."""
    path = PACKAGE.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(name: str) -> list[str]:
    """The package modules *name* imports, in source order (``# outside kernels`` ones left out)."""
    source = module_path(name).read_text(encoding="utf-8")
    lines = source.splitlines()
    package = name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or OUTSIDE_KERNELS in lines[node.lineno - 1]:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("pipeline.")]
            found += [t.removeprefix("pipeline.") for t in targets]
            continue
        if node.level:  # relative: from .x import y
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            module = ".".join(base + ([node.module] if node.module else []))
        elif node.module == "pipeline" or (node.module or "").startswith("pipeline."):
            module = node.module.removeprefix("pipeline").lstrip(".")
        else:
            continue
        for alias in node.names:  # "from pipeline import glue" imports a module
            child = f"{module}.{alias.name}" if module else alias.name
            found.append(child if module_path(child).is_file() else module)
    return [m for m in dict.fromkeys(found) if m]


@functools.cache
def kernel_modules() -> tuple[str, ...]:
    """Every kernel-side module, dependencies before the modules that import them, the
    package's ``__init__`` first (so a remote kernel can load them in this order)."""
    order: list[str] = ["__init__"]

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order or name in path:
            return
        for dependency in _imports(name):
            visit(dependency, path + (name,))
        order.append(name)

    for root in ROOTS:
        visit(root, ())
    return tuple(order)


def kernel_sources() -> dict[str, str]:
    """Module name -> source text, in :func:`kernel_modules` order."""
    return {name: module_path(name).read_text(encoding="utf-8") for name in kernel_modules()}


def kernel_digest() -> str:
    """A hash of every kernel-side module's source (part of every experiment's cache key)."""
    digest = hashlib.sha256()
    for name, source in kernel_sources().items():
        digest.update(name.encode() + b"\0" + source.encode() + b"\0")
    return digest.hexdigest()
