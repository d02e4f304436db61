"""Compare two builds of the same study file by file, volatile fields masked (dates, durations, times).

    python tests/benchmarks/compare_builds.py BASE_PROJECT HEAD_PROJECT

Compares build/records, build/qiita, build/zenn and site/index.md (figures byte for byte); prints
each file that differs after masking, and a count. Exit status 1 when any differs.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

PARTS = ("build/records", "build/qiita", "build/zenn", "site/index.md")
VOLATILE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"), "DATE"),
    (re.compile(r'("(?:duration|execution_time|seconds|elapsed)": )[0-9.eE+-]+'), r"\1N"),
    (re.compile(r"\b\d+(\.\d+)? ?(s|秒|ms)\b"), "T"),
]


def masked(data: bytes) -> bytes | str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def files(root: Path) -> dict[str, Path]:
    found = {}
    for part in PARTS:
        path = root / part
        for file in ([path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())):
            found[file.relative_to(root).as_posix()] = file
    return found


def main() -> int:
    base, head = (Path(a).resolve() for a in sys.argv[1:3])
    left, right = files(base), files(head)
    differ = 0
    for name in sorted(set(left) | set(right)):
        if name not in left or name not in right:
            print(f"only in {'head' if name in right else 'base'}: {name}")
            differ += 1
            continue
        a, b = masked(left[name].read_bytes()), masked(right[name].read_bytes())
        if a != b:
            differ += 1
            print(f"differs: {name}")
            if isinstance(a, str) and isinstance(b, str):
                print("".join(list(difflib.unified_diff(a.splitlines(True), b.splitlines(True), n=0))[:20]))
    print(f"{len(set(left) | set(right))} files compared, {differ} differ (volatile fields masked)")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
