"""Where a cold ``--jobs N`` run's wall time goes beyond the floor (``bench_cold.py --breakdown``).

Run as a script, it is ``python -m pipeline ARGS`` with every cell's nbclient timestamps written to
a JSON file (``python cold_breakdown.py OUT.json -q execute --force --jobs 2``): the pipeline keeps
no timestamps in its records, so they are taken here, as each cell finishes.

``explain`` sets the run of the notebook that ends last beside the same notebook executed alone by
nbconvert (every core free, as the floor takes it):

- *start*: from the command's start to that notebook's first cell (interpreter, imports, reading the
  experiments, the kernel's start);
- *cells*: its cells' own time in the run, and how much longer than alone they took (the other
  kernels running beside it: the cores, caches and memory bandwidth they share, and fewer math
  threads while they run);
- *gaps*: between one cell's reply and the next cell's start (messages, the pipeline's handling of
  the outputs);
- *end*: from its last cell to the command's exit (version probe, writing the records, the kernel's
  shutdown).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from cold_sets import windows


def explain(trace: dict, alone_times: dict[str, float]) -> str:
    """The breakdown of one traced run (what ``main`` wrote) beside the notebooks' times alone."""
    began, ended = trace["began"], trace["ended"]
    runs = {name: windows(cells) for name, cells in trace["notebooks"].items()}
    name = max((n for n in runs if runs[n]), key=lambda n: runs[n][-1][1])
    spans = runs[name]
    start, cells = spans[0][0] - began, sum(b - a for a, b in spans)
    gaps = sum(spans[i + 1][0] - spans[i][1] for i in range(len(spans) - 1))
    end = ended - spans[-1][1]
    own = alone_times.get(name)
    contention = f", {cells - own:+.2f}s against {own:.2f}s alone" if own is not None else ""
    return (f"{ended - began:.2f}s = start {start:.2f}s + {name}'s {len(spans)} cells {cells:.2f}s{contention}"
            f" + gaps {gaps:.2f}s ({gaps / max(1, len(spans) - 1) * 1000:.1f}ms each) + end {end:.2f}s")


def main(out: str, argv: list[str]) -> int:
    began = float(os.environ.get("BREAKDOWN_STARTED") or time.time())  # when the caller started the command
    from pipeline.cli import main as pipeline
    from pipeline.run.sessions import KernelSession

    notebooks: dict[str, list[dict]] = {}
    original = KernelSession.run

    def run(self, nb, indices, *args, **options):
        try:
            return original(self, nb, indices, *args, **options)
        finally:  # the timestamps nbclient left on each cell, before the records drop them
            notebooks[self.experiment.name] = [{"metadata": {"execution": dict(nb.cells[i].metadata.get("execution", {}))}}
                                               for i in indices]

    KernelSession.run = run
    status = pipeline(argv)
    Path(out).write_text(json.dumps({"began": began, "ended": time.time(), "notebooks": notebooks}), encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
