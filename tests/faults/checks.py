"""Measuring a case, the same way for every case: last good outputs lost, credentials
leaked, raw tracebacks, kernels and runtime folders left behind, and (hostile cases) the
Markdown structure of the article."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.article.chapters import shown_file

from .project import GOOD_EXIT, GOOD_OUTPUTS, LEAK_VALUES, STAGING, TRACEBACK, file_hashes, read_text
from .structure import structure

if TYPE_CHECKING:
    from .harness import Ctx

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

def intact_problems(ctx: Ctx) -> list[str]:
    now = file_hashes(ctx.root, GOOD_OUTPUTS)
    found = []
    for path, digest in ctx.base.snapshot.items():
        if any(fnmatch.fnmatch(path, pattern) for pattern in ctx.damaged):
            continue
        if path not in now:
            found.append(f"{path} disappeared")
        elif now[path] != digest:
            found.append(f"{path} changed")
    return found


#: folders of a case's work folder that are not "outside the project": the project, the command logs,
#: and HOME (Jupyter's runtime files, caches)
NOT_OUTSIDE = ("proj", "logs", "home")


def outside_hashes(work: Path) -> dict[str, str]:
    """sha256 of every file in the case's work folder outside the project (and of the links there)."""
    found = {}
    for path in sorted(work.rglob("*")):
        relative = path.relative_to(work)
        if relative.parts[0] in NOT_OUTSIDE or path.is_dir() and not path.is_symlink():
            continue
        try:
            found[relative.as_posix()] = (f"link:{os.readlink(path)}" if path.is_symlink()
                                          else hashlib.sha256(path.read_bytes()).hexdigest())
        except OSError as exc:
            found[relative.as_posix()] = f"unreadable: {exc}"
    return found


def outside_findings(ctx: Ctx) -> list[str]:
    """Files outside the project that changed, appeared or vanished since the case's first command
    (those the case itself writes there, ``ctx.outside_ok``, excepted)."""
    if ctx.outside is None:
        return []
    now = outside_hashes(ctx.work)
    changed = sorted(p for p in set(now) | set(ctx.outside) if now.get(p) != ctx.outside.get(p)
                     and not any(fnmatch.fnmatch(p, pattern) for pattern in ctx.outside_ok))
    return [f"{p} {'appeared' if p not in ctx.outside else 'vanished' if p not in now else 'changed'}"
            for p in changed]


def experiment_names(root: Path) -> set[str]:
    folder = root / "experiments"
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.iterdir() if p.suffix in (".py", ".ipynb") and not p.name.startswith((".", "_"))}


def _figure_paths(value) -> list[str]:
    found = []
    if isinstance(value, dict):
        for v in value.values():
            found += _figure_paths(v)
    elif isinstance(value, list):
        for v in value:
            found += _figure_paths(v)
    elif isinstance(value, str) and re.fullmatch(r"figures/[^\s]+\.(png|jpg|gif|webp|svg)", value):
        found.append(value)
    return found


def consistency_problems(root: Path, user_files: set[str] = frozenset()) -> list[str]:
    """How the published outputs are not complete and consistent (empty when they are)."""
    problems = []
    experiments = experiment_names(root)
    records_dir = root / "build/records"
    records = {p.stem for p in records_dir.glob("*.json")} if records_dir.is_dir() else set()
    problems += [f"no record for experiment {n}" for n in sorted(experiments - records)]
    problems += [f"stale record {n} (its experiment is gone)" for n in sorted(records - experiments)]
    article = read_text(root / "build/qiita/article.md")
    page = read_text(root / "site/index.md")
    publics = sorted((root / "build/qiita/public").glob("*.md"))
    if not article:
        problems.append("build/qiita/article.md missing or empty")
    if not page:
        problems.append("site/index.md missing or empty")
    if len(publics) != 1:
        problems.append(f"build/qiita/public/ holds {len(publics)} .md files, expected 1")
    elif article and not read_text(publics[0]).endswith(article):
        problems.append(f"{publics[0].relative_to(root)} does not end with the article")
    headings = {d: structure(t, d).headings for d, t in (("qiita", article), ("mkdocs", page))}
    for name in sorted(records & experiments):
        try:
            record = json.loads((records_dir / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"build/records/{name}.json unreadable: {exc}")
            continue
        for figure in _figure_paths(record.get("cells", [])):
            for where, dialect in (("build", "mkdocs"), ("site", "mkdocs"), ("build/qiita", "qiita")):
                shown = shown_file(figure, dialect)  # Qiita shows an SVG's PNG drawing
                if not (root / where / shown).is_file():
                    problems.append(f"{where}/{shown} missing (named by the record of {name})")
        title = str(record.get("title", ""))
        for dialect, found in headings.items():
            if not any(title in h for h in found):
                problems.append(f"the {dialect} Markdown has no heading for chapter {title!r}")
        if (record.get("execution") or {}).get("mode") == "executed" and not record.get("failure"):
            entries = list((root / "build/cache" / name).glob("*.ipynb"))
            if not any(_is_notebook(p) for p in entries):
                problems.append(f"no readable cache entry for {name}")
            if not _is_notebook(root / "build/executed" / f"{name}.ipynb"):
                problems.append(f"build/executed/{name}.ipynb missing or unreadable")
    return problems + staging_problems(root, user_files)


def staging_problems(root: Path, user_files: set[str] = frozenset()) -> list[str]:
    """Staging siblings or a publication journal left behind by a command that has ended."""
    problems = []
    for folder in (root / "build", root / "site"):
        if folder.is_dir():
            for path in folder.rglob(".*"):
                if STAGING.match(path.name) and path.relative_to(root).as_posix() not in user_files:
                    problems.append(f"staging leftover {path.relative_to(root)}")
    if (root / "build/.publish.json").exists():
        problems.append("publication journal build/.publish.json left behind")
    return problems


def _is_notebook(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")).get("cells"), list)
    except (OSError, ValueError, AttributeError):
        return False


def leak_findings(ctx: Ctx) -> list[str]:
    needles = [v.encode() for v in LEAK_VALUES]
    found = []
    for path in sorted(ctx.root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(ctx.root).as_posix()
        if relative in ctx.secret_files:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        hits = [n.decode() for n in needles if n in data]
        if hits:
            found.append(f"{relative} shows {hits[0]}")
    for run in ctx.runs:
        hits = [v for v in LEAK_VALUES if v in run.output]
        if hits:
            found.append(f"output of `{' '.join(run.args)}` shows {hits[0]}")
    return found


def traceback_findings(ctx: Ctx) -> list[str]:
    found = []
    for run in ctx.runs:
        if not run.debug and TRACEBACK.search(run.output):
            found.append(f"`{' '.join(run.args)}` printed a traceback: {traceback_excerpt(run.output)}")
        elif not run.killed and run.rc not in GOOD_EXIT:
            found.append(f"`{' '.join(run.args)}` exited {run.rc} (expected 0, 1 or 130)")
    return found


def traceback_excerpt(text: str) -> str:
    """The line before the first raw traceback, its first frame and its exception line."""
    match = TRACEBACK.search(text)
    before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
    lines = text[match.start():].split("\n")
    frames = [line for line in lines[1:] if line.startswith("  File ")]
    last = next((line for line in lines[1:] if line and not line.startswith(" ")), "")
    return " | ".join(x.strip() for x in (before, lines[0], frames[0] if frames else "", "...",
                                          frames[-1] if frames else "", last) if x)


def runtime_base() -> Path:
    return Path(tempfile.gettempdir()) / f"ml-article-pipeline-{os.getuid()}"


def kernels_of(pids: list[int]) -> list[tuple[int, str]]:
    """Live processes whose command line names a private runtime folder of one of *pids*."""
    marks = [f"{runtime_base()}/{pid}-" for pid in pids]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(m in cmdline for m in marks):
            found.append((int(entry.name), cmdline.strip()))
    return found


def runtime_folders_of(pids: list[int]) -> list[Path]:
    base = runtime_base()
    if not base.is_dir():
        return []
    return [p for p in base.iterdir() if p.name.split("-", 1)[0] in {str(pid) for pid in pids}]


def leftover_findings(ctx: Ctx) -> list[str]:
    end = time.monotonic() + 5
    while True:
        kernels = kernels_of(ctx.spawned)
        folders = runtime_folders_of(ctx.spawned)
        if not (kernels or folders) or time.monotonic() > end:
            break
        time.sleep(0.2)
    found = [f"kernel process {pid} left running ({cmd[:120]})" for pid, cmd in kernels]
    found += [f"private runtime folder {f} left behind" for f in folders]
    for pid, _ in kernels:  # do not let one case's leftovers disturb the next
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return found


_ACTIVE_HTML = re.compile(r"<\s*(script|iframe|object|embed|svg|math|meta|base|form|style)\b"
                          r"|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def structure_problems(ctx: Ctx, marker: str = "PWNED") -> list[str]:
    """Every chapter heading and every note box still there; nothing from a payload in them."""
    problems = []
    names = sorted(experiment_names(ctx.root))
    titles = []
    for name in names:
        try:
            titles.append(json.loads(ctx.read(f"build/records/{name}.json") or "{}").get("title", name))
        except ValueError:
            titles.append(name)
    for dialect, relative in (("qiita", "build/qiita/article.md"), ("mkdocs", "site/index.md")):
        text = ctx.read(relative)
        if not text:
            problems.append(f"{relative} missing")
            continue
        found = structure(text, dialect)
        chapters = [h for h in found.headings if re.match(r"\d+\. ", h)]
        for title in titles:
            if not any(h.endswith(f". {title}") for h in chapters):
                problems.append(f"{relative}: chapter heading {title!r} missing (markdown-it headings: {chapters})")
        if len(chapters) != len(titles):
            problems.append(f"{relative}: {len(chapters)} chapter headings for {len(titles)} chapters: {chapters}")
        lines = [line for _, line in found.notes]
        for note in ctx.base.notes[dialect]:
            if note in lines:
                lines.remove(note)
            else:
                problems.append(f"{relative}: note box {note.splitlines()[0]!r} ({note.splitlines()[-1][:40]!r}) "
                                "of the last good article is gone")
        if dialect == "qiita" and found.closers != len(found.notes):
            problems.append(f"{relative}: {len(found.notes)} ':::note' openings but {found.closers} ':::' closings")
        mine = [line for chapter, line in found.notes if ctx.case.name in chapter]
        if len(mine) < ctx.chapter_notes:
            problems.append(f"{relative}: the hostile chapter shows {len(mine)} note boxes, expected "
                            f"{ctx.chapter_notes}")
        for heading in found.headings:
            if marker in heading:
                problems.append(f"{relative}: payload text became a heading: {heading[:80]!r}")
        for _, note in found.notes:  # payloads put the marker on, or first after, the lines they inject
            opening, _, following = note.partition("\n")
            if marker in opening or following.lstrip().startswith(marker):
                problems.append(f"{relative}: payload text became a note box: {note[:80]!r}")
        for raw in found.html:
            if _ACTIVE_HTML.search(raw):
                problems.append(f"{relative}: raw HTML that can run script: {raw[:100]!r}")
        for href in found.links:
            if re.match(r"\s*(javascript|vbscript|data):", href, re.IGNORECASE):
                problems.append(f"{relative}: link to {href[:60]!r}")
        if "\x00" in text:
            problems.append(f"{relative}: holds a NUL byte")
    return problems
