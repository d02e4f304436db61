"""The drafting gate on its labelled corpus: precision and recall, for the seed study and for
the notebooks the gate was not tuned on, apart.

    python tests/benchmarks/bench_gate.py [-v]

"Positive" is a rejected answer. Precision: the share of rejected examples that are garbage;
recall: the share of garbage examples rejected. Prints the figures for the seed set, for the
rest (and each of its sets), the counts per kind of garbage, every misjudged example, and
(-v) each example's reasons. Exit status 1 unless every garbage example is rejected and no
good one is.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_corpus import Example, load, verdict


def figures(name: str, garbage: list[Example], good: list[Example], reasons: dict[str, str | None]) -> str:
    tp = sum(1 for e in garbage if reasons[e.id])
    fp = sum(1 for e in good if reasons[e.id])
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(garbage) if garbage else 1.0
    return (f"{name:<22} {len(garbage):>3} garbage {len(good):>3} good   rejected garbage {tp:>3}, passed garbage "
            f"{len(garbage) - tp:>2}, rejected good {fp:>2}   precision {precision:.3f}  recall {recall:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    garbage, good = load("garbage"), load("good")
    reasons = {e.id: verdict(e) for e in garbage + good}
    languages = Counter(e.context.get("language", "ja") for e in good)
    print(f"corpus: {len(garbage)} garbage (real model answers), {len(good)} good (hand-written, "
          f"{languages['ja']} Japanese, {sum(languages.values()) - languages['ja']} English)")
    sets = sorted({e.set for e in garbage + good} - {"seed"})
    print(figures("all", garbage, good, reasons))
    print(figures("seed", [e for e in garbage if e.set == "seed"], [e for e in good if e.set == "seed"], reasons))
    print(figures("not seed", [e for e in garbage if e.set != "seed"], [e for e in good if e.set != "seed"], reasons))
    for name in sets:
        print(figures(f"  {name}", [e for e in garbage if e.set == name], [e for e in good if e.set == name], reasons))
    kinds = Counter(e.kind for e in garbage)
    rejected_kinds = Counter(e.kind for e in garbage if reasons[e.id])
    for kind, n in sorted(kinds.items()):
        print(f"  {kind:<12} {rejected_kinds[kind]}/{n} rejected")
    wrong = 0
    for e in garbage:
        if not reasons[e.id] or args.verbose:
            wrong += not reasons[e.id]
            print(f"  {'PASSED GARBAGE' if not reasons[e.id] else 'rejected'} [{e.set}] {e.id} ({e.kind}): {reasons[e.id]}"
                  + (f"\n      {e.answer[:200]!r}" if not reasons[e.id] else ""))
    for e in good:
        if reasons[e.id] or args.verbose:
            wrong += bool(reasons[e.id])
            print(f"  {'REJECTED GOOD' if reasons[e.id] else 'passed'} [{e.set}] {e.id}: {reasons[e.id]}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
