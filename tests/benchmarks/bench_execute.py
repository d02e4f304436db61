"""Benchmark: the pipeline's overhead per experiment against plain `python`.

    python tests/benchmarks/bench_execute.py                 # synthetic experiments
    python tests/benchmarks/bench_execute.py --experiments experiments   # the repo's own

For each experiment it times `python NAME.py` (a percent script is valid
Python), then `python -m pipeline execute --force NAME` (fresh kernel, cell by
cell, outputs saved), then a cached `python -m pipeline execute` of all of
them, and prints a table. Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SYNTHETIC = {
    "01_print": "# %% [markdown]\n# # Print\n\n# %%\nfor i in range(1000):\n    print(i)\n",
    "02_numpy": "# %%\nimport numpy as np\nx = np.random.default_rng(0).normal(size=(500, 500))\n\n# %%\nprint((x @ x.T).trace())\n",
    "03_plot": "# %%\nimport matplotlib\nimport matplotlib.pyplot as plt\nplt.plot(range(100))\nplt.show()\n",
}


def _time(cmd: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", type=Path, help="folder of experiments to measure (default: synthetic ones)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        root = Path(tmp)
        (root / "experiments").mkdir()
        config = "[tool.pipeline]\n"
        if args.experiments:
            for path in sorted(Path(args.experiments).glob("*.py")):
                shutil.copy(path, root / "experiments" / path.name)
            pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
            config = pyproject[pyproject.index("[tool.pipeline]"):pyproject.index("# ----", pyproject.index("[tool.pipeline]"))]
        else:
            for name, text in SYNTHETIC.items():
                (root / "experiments" / f"{name}.py").write_text(text, encoding="utf-8")
        (root / "pyproject.toml").write_text(config, encoding="utf-8")

        names = sorted(p.stem for p in (root / "experiments").glob("*.py"))
        rows = []
        for name in names:
            plain = _time([sys.executable, f"{name}.py"], root / "experiments")
            piped = _time([sys.executable, "-m", "pipeline", "-q", "execute", "--force", name], root)
            rows.append((name, plain, piped))
        cached = _time([sys.executable, "-m", "pipeline", "-q", "execute"], root)

    print(f"{'experiment':<28}{'plain python':>14}{'pipeline':>12}{'overhead':>12}")
    for name, plain, piped in rows:
        print(f"{name:<28}{plain:>13.2f}s{piped:>11.2f}s{piped - plain:>+11.2f}s")
    total_plain = sum(r[1] for r in rows)
    total_piped = sum(r[2] for r in rows)
    print(f"{'total':<28}{total_plain:>13.2f}s{total_piped:>11.2f}s{total_piped - total_plain:>+11.2f}s")
    print(f"mean overhead per experiment: {(total_piped - total_plain) / max(1, len(rows)):.2f}s")
    print(f"cached re-run of all {len(rows)} experiments (no kernel): {cached:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
