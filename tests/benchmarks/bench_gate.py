"""The drafting gate on its labelled corpus: precision and recall.

    python tests/benchmarks/bench_gate.py [-v]

"Positive" is a rejected answer. Precision: the share of rejected examples that are garbage;
recall: the share of garbage examples rejected. Prints the counts per kind of garbage, every
misjudged example, and (-v) each example's reasons. Exit status 1 unless every garbage example
is rejected and no good one is.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_corpus import load, verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    garbage, good = load("garbage"), load("good")
    caught = {e.id: verdict(e) for e in garbage}
    wrongly = {e.id: verdict(e) for e in good}
    tp = sum(1 for r in caught.values() if r)
    fp = sum(1 for r in wrongly.values() if r)
    fn, tn = len(garbage) - tp, len(good) - fp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(garbage) if garbage else 1.0
    kinds = Counter(e.kind for e in garbage)
    rejected_kinds = Counter(e.kind for e in garbage if caught[e.id])
    print(f"corpus: {len(garbage)} garbage (real model answers), {len(good)} good (hand-written, "
          f"{sum(1 for e in good if e.context.get('language') == 'ja')} Japanese, "
          f"{sum(1 for e in good if e.context.get('language') != 'ja')} English)")
    for kind, n in sorted(kinds.items()):
        print(f"  {kind:<12} {rejected_kinds[kind]}/{n} rejected")
    print(f"rejected garbage {tp}, passed garbage {fn}, rejected good {fp}, passed good {tn}")
    print(f"precision {precision:.3f}  recall {recall:.3f}")
    for e in garbage:
        if not caught[e.id] or args.verbose:
            print(f"  {'PASSED GARBAGE' if not caught[e.id] else 'rejected'} {e.id} ({e.kind}): {caught[e.id]}")
    for e in good:
        if wrongly[e.id] or args.verbose:
            print(f"  {'REJECTED GOOD' if wrongly[e.id] else 'passed'} {e.id}: {wrongly[e.id]}")
    return 0 if fn == 0 and fp == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
