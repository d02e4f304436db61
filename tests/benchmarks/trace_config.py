"""Follow the config through one build: which pipeline modules the calls that carry it visit, in order.

Every call into pipeline code that receives the ``Config`` (as an argument, or as ``self.config``) is
recorded by its module, per thread (each thread is one flow of control: kernels start ahead in
threads of their own); consecutive calls in the same module are one visit. Printed: the modules
crossed, the transitions between them, and the *returns*: transitions into a module the config had
already been in and left in that flow (data walking back and forth), summed over the threads. Also whether importing
the package has an import circle (a static scan of module-level ``from pipeline... import``).

    python tests/benchmarks/trace_config.py [CHECKOUT]   # default: this checkout

Run it on two checkouts (the base and the head) to compare; the project is a small one written to a
temporary folder (two experiments, one with an H1, a figure, no title in pyproject.toml).
"""

from __future__ import annotations

import ast
import sys
import tempfile
import threading
from pathlib import Path

EXPERIMENTS = {
    "01_data.py": "# %% [markdown]\n# # Tracing a build\n#\n# Some data.\n\n# %%\nvalues = [1, 2, 3]\nprint(sum(values))\n",
    "02_plot.py": "# %%\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                  "plt.plot([1, 2, 3])\nplt.show()\n",
}


def import_circles(package: Path) -> list[list[str]]:
    """Cycles among the imports of the package, lazy ones inside functions included (not TYPE_CHECKING ones)."""
    edges: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
                 and node.module.startswith("pipeline") and id(node) not in typing_only}
        edges[name] = {m for m in found if m != name}
    # strongly connected components (Tarjan): each one with more than one module is a circle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(10000)
    for start in sorted(edges):
        if start not in index:
            connect(start)
    return circles


def main() -> int:
    checkout = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]).resolve()
    sys.path.insert(0, str(checkout))
    from pipeline.build import build
    from pipeline.config import Config, load_config
    from pipeline.progress import Progress

    assert Path(sys.modules["pipeline"].__file__).resolve().is_relative_to(checkout), "pipeline imported from elsewhere"
    flows: dict[int, list[str]] = {}  # per thread: one flow of control each (kernels start ahead in threads)

    def profile(frame, event, arg):
        if event != "call":
            return
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("pipeline"):
            return
        code = frame.f_code
        names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        values = [frame.f_locals.get(n) for n in names]
        carries = any(isinstance(v, Config) for v in values) or any(
            isinstance(getattr(v, "config", None), Config) for v in values[:1])
        if carries:
            visits = flows.setdefault(threading.get_ident(), [])
            if not visits or visits[-1] != module:
                visits.append(module)
                if "-vv" in sys.argv:
                    print(f"{threading.get_ident() % 1000:3d} {module}.{code.co_name}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "traced"
        (root / "experiments").mkdir(parents=True)
        (root / "pyproject.toml").write_text('[tool.pipeline]\nexperiments_dir = "experiments"\n', encoding="utf-8")
        for name, text in EXPERIMENTS.items():
            (root / "experiments" / name).write_text(text, encoding="utf-8")
        threading.setprofile(profile)
        sys.setprofile(profile)
        try:
            config = load_config(root)
            build(config, progress=Progress(quiet=True, live=False))
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
    transitions = returns = 0
    for visits in flows.values():
        left: set[str] = set()
        for before, after in zip(visits, visits[1:]):
            left.add(before)
            returns += after in left
            transitions += 1
    crossed = {m for visits in flows.values() for m in visits}
    print(f"{checkout}: the config crossed {len(crossed)} modules in {transitions} transitions ({len(flows)} threads), "
          f"{returns} of them returns to a module already left")
    circles = import_circles(checkout / "pipeline")
    print("import circles: " + ("; ".join(" <-> ".join(c) for c in circles) if circles else "none"))
    if "-v" in sys.argv:
        for visits in flows.values():
            print(" -> ".join(visits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
