"""The seed study's site with each engine: build time, formulas typeset, search hits, network use.

Run it on a project whose `python -m pipeline build` has run (the repository itself, after a build,
or a scratch copy of it); it reads the project's site/ and mkdocs.yml and changes nothing else
(each engine builds into build/site-ENGINE/):

    python tests/benchmarks/bench_site.py [PROJECT] [--rounds 3] [--word WORD ...]

For each engine (MkDocs 1.x with Material for MkDocs, Zensical) it prints the median build time
(`mkdocs build --strict`, `zensical build --strict`), then what chromium sees with every host but
the local server refused (tests/site_checks.py): formulas written / typeset / TeX errors / raw TeX
left, figures loaded, note boxes, code copy, in-page links resolved, requests off the server and
failed responses; then, for each word (default: a word from each 考察 of the seed), whether the
site's own search box finds it on the page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from urllib.parse import unquote

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from site_checks import build_site, look, search  # noqa: E402

from pipeline.publish.site import ENGINES, installed  # noqa: E402

#: a word from inside the unspaced Japanese text of each 考察 of the seed (01 to 07), and two from
#: the prose around its formula
SEED_WORDS = ["首都", "置換文字", "埋め込み行列", "家畜", "文脈", "境界", "物語", "エントロピー", "分布"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", nargs="?", type=Path, default=REPO)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--word", action="append", dest="words", help="a word to search for (repeatable)")
    args = parser.parse_args()
    project = args.project.resolve()
    if not (project / "site" / "index.md").is_file():
        print(f"{project}/site/index.md is missing: run `python -m pipeline build` there first", file=sys.stderr)
        return 2
    words = args.words or SEED_WORDS
    engines = [engine for engine in ENGINES if installed(engine)]
    for engine in sorted(set(ENGINES) - set(engines)):
        print(f"{engine}: not installed (pip install '.[{engine}]')")
    times: dict[str, list[float]] = {engine: [] for engine in engines}
    for _ in range(args.rounds):  # interleaved, so that a busy moment of the machine hits both
        for engine in engines:
            times[engine].append(build_site(engine, project)[1])
    for engine in engines:
        site = project / "build" / f"site-{engine}"
        seen = look(site)
        off = [url for url in seen["requests"] if not url.startswith(seen["origin"])]
        print(f"{engine}: build {statistics.median(times[engine]):.2f}s median of {args.rounds} "
              f"({', '.join(f'{t:.2f}' for t in times[engine])})")
        print(f"  formulas: {seen['formulas']} written, {seen['typeset']} typeset, {seen['tex_errors']} TeX errors, "
              f"raw TeX left: {seen['raw_tex'] or 'none'}")
        print(f"  figures: {sum(ok for _, ok in seen['images'])}/{len(seen['images'])} loaded; note boxes: "
              f"{sum(visible for *_, visible in seen['admonitions'])}/{len(seen['admonitions'])} shown; "
              f"code copy: {seen['copy_buttons']} buttons, clipboard {'= code' if seen['copied'] == (seen['code'] or '').rstrip(chr(10)) else 'differs'}; "
              f"in-page links: {sum(ok for _, ok in seen['links'])}/{len(seen['links'])} resolve")
        print(f"  requests: {len(seen['requests'])}, {len(off)} off the local server, {len(seen['failures'])} failed")
        found = search(site, words)
        hits = [word for word in words if any(word in text for _, text in found[word])]
        print(f"  search: {len(hits)}/{len(words)} words find the page")
        for word in words:
            results = found[word]
            holding = [unquote(href) or "(the page)" for href, text in results if word in text]
            print(f"    {word}: {len(results)} results, {len(holding)} holding the word"
                  f"{' (first: ' + holding[0] + ')' if holding else '  <- not found'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
