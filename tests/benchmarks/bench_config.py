"""How long ``load_config`` takes, and what it imports: it reads pyproject.toml only (no notebook,
no jupytext). Each figure is a fresh interpreter (imports included), the median of several runs.

    python tests/benchmarks/bench_config.py [PROJECT]   # default: this repository (the seed study)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import json, sys, time
t = time.perf_counter()
from pipeline.config import load_config
config = load_config(sys.argv[1] and __import__("pathlib").Path(sys.argv[1]))
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "jupytext": "jupytext" in sys.modules, "nbformat": "nbformat" in sys.modules,
                  "title": config.article.title}))
"""


def main() -> int:
    project = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]).resolve()
    runs = [json.loads(subprocess.run([sys.executable, "-c", PROBE, str(project)], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(7)]
    median = statistics.median(r["seconds"] for r in runs)
    print(f"load_config({project}): median {median * 1000:.0f} ms over {len(runs)} fresh interpreters "
          f"(min {min(r['seconds'] for r in runs) * 1000:.0f} ms); imports jupytext: {runs[0]['jupytext']}, "
          f"nbformat: {runs[0]['nbformat']}; title: {runs[0]['title']!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
