"""Running cases: one case on a fresh copy of the last good project (``run_case``), a
selection by name (``select``), and everything at once with the browser check (``run_all``)."""

from __future__ import annotations

import fnmatch
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from .browser import browser_check
from .checks import (
    consistency_problems,
    intact_problems,
    leak_findings,
    leftover_findings,
    outside_findings,
    staging_problems,
    structure_problems,
    traceback_findings,
)
from .harness import CASES, Case, Ctx, Result
from .project import Base, cli_env, make_base


def run_case(case: Case, base: Base, workdir: Path) -> Result:
    work = Path(workdir) / case.name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    root = work / "proj"
    shutil.copytree(base.root, root, symlinks=True)
    ctx = Ctx(case, root, work, cli_env(work / "home"), base)
    started = time.monotonic()
    try:
        case.func(ctx)
    except Exception as exc:  # noqa: BLE001 - a harness failure is reported with the case, never hidden
        ctx.problems.append(f"the case itself raised {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}")
    finally:
        for proc in ctx.procs:
            if proc.popen.poll() is None:
                ctx.problems.append(f"`{' '.join(proc.args)}` still running at the end of the case; killed")
                proc.popen.kill()
                proc.finish(30)
    seconds = time.monotonic() - started
    result = Result(case.name, case.group, seconds, ctx.runs[-1].rc if ctx.runs else None, root=root,
                    hostile=case.hostile)
    result.lost = list(ctx.lost)
    result.lost += intact_problems(ctx) if ctx.mode == "intact" else consistency_problems(root, ctx.user_files)
    result.leaked = leak_findings(ctx)
    result.outside = outside_findings(ctx)
    result.tracebacks = traceback_findings(ctx)
    result.problems = list(ctx.problems) + leftover_findings(ctx)
    if ctx.mode == "intact":
        result.problems += staging_problems(root, ctx.user_files)
    if case.hostile:
        result.problems += structure_problems(ctx)
    result.notes = ctx.notes
    return result


def select(names: list[str] | None = None) -> list[Case]:
    if not names:
        return list(CASES)
    chosen = [c for c in CASES if any(fnmatch.fnmatch(c.name, n) for n in names)]
    if not chosen:
        raise SystemExit(f"no case matches {names}; known: {', '.join(c.name for c in CASES)}")
    return chosen


def run_all(cases: list[Case], workdir: Path, base: Base | None = None,
            on_result: Callable[[Result], None] | None = None) -> tuple[list[Result], str | None]:
    base = base or make_base(workdir)
    results = []
    for item in cases:
        result = run_case(item, base, workdir)
        results.append(result)
        if on_result and not item.hostile:
            on_result(result)
    why = browser_check(results, workdir)
    if on_result:
        for result in results:
            if result.hostile:
                on_result(result)
    return results, why
