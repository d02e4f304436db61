"""The package's import rule (stated in ``pipeline/__init__.py``), checked on every import statement."""

import ast
from pathlib import Path

import pipeline

PACKAGE = Path(pipeline.__file__).parent
COMMANDS = {"cli", "build", "preview", "__main__"}
#: layer -> the layers it may import (besides itself)
ALLOWED = {
    "markdown": set(),
    "shared": {"markdown"},
    "run": {"shared", "markdown"},
    "article": {"shared", "markdown"},
    "llm": {"shared", "markdown", "article"},
    "publish": {"shared", "markdown", "article"},
    "commands": {"shared", "markdown", "run", "article", "llm", "publish"},
}


def layer(module: str) -> str:
    head = module.split(".")[0]
    if head in ALLOWED and head != "shared":
        return head
    return "commands" if head in COMMANDS else "shared"


def package_imports(path: Path):
    """(line, imported module relative to ``pipeline``) for every import of this package in *path*."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            yield node.lineno, f"relative import ({'.' * node.level}{node.module or ''})"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeline"):
            base = node.module.removeprefix("pipeline").lstrip(".")
            for alias in node.names:
                child = f"{base}.{alias.name}" if base else alias.name
                yield node.lineno, child if (PACKAGE / child.replace(".", "/")).exists() or \
                    (PACKAGE / (child.replace(".", "/") + ".py")).exists() else base
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pipeline."):
                    yield node.lineno, alias.name.removeprefix("pipeline.")


def violations():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        own = layer(module)
        for line, imported in package_imports(path):
            where = f"pipeline/{path.relative_to(PACKAGE)}:{line}"
            if imported.startswith("relative import"):
                found.append(f"{where}: {imported}; write `from pipeline.... import`")
                continue
            if not imported or imported == "__init__":
                continue
            theirs = layer(imported)
            if theirs != own and theirs not in ALLOWED[own]:
                found.append(f"{where}: {own} imports {theirs} (pipeline.{imported})")
    return found


def test_every_import_follows_the_rule():
    assert violations() == []


def test_the_rule_catches_a_violation(tmp_path, monkeypatch):
    """The checker itself: an article module importing run is reported."""
    fake = tmp_path / "pipeline"
    (fake / "article").mkdir(parents=True)
    (fake / "run").mkdir()
    (fake / "run" / "cache.py").write_text("")
    (fake / "article" / "bad.py").write_text("from pipeline.run.cache import Cache\nfrom .x import y\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = violations()
    assert any("article imports run" in v for v in found) and any("relative import" in v for v in found)


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def unnamed_modules() -> list[str]:
    """Modules (and subpackages) a package's ``__init__`` docstring does not name as ``name`` or ``name/``."""
    missing = []
    for init in sorted([PACKAGE / "__init__.py", *PACKAGE.glob("*/__init__.py")]):
        folder = init.parent
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        names = [p.stem for p in folder.glob("*.py") if not p.stem.startswith("__")]
        names += [p.parent.name for p in folder.glob("*/__init__.py")]
        for name in sorted(names):
            if f"``{name}``" not in doc and f"``{name}/``" not in doc:
                missing.append(f"pipeline/{init.relative_to(PACKAGE)}: {name}")
    return missing


def test_package_docstrings_name_every_module():
    missing = unnamed_modules()
    assert not missing, "name each module in its package's docstring (``name``):\n" + "\n".join(missing)
