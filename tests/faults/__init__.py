"""The fault and hostile-input battery: each case does one bad thing to a project that
was built successfully once, with the real CLI in a subprocess on real ipykernels,
and the harness measures what happened the same way for every case.

Used by ``tests/test_faults.py`` (pytest, one test per case) and by
``tests/benchmarks/bench_faults.py`` (a table and a totals line). No pytest here.

The modules, by concern:

- ``project``: the fake credentials, the last good project (``make_base``), command environment;
- ``harness``: what a case works with (``Ctx``, ``Proc``, ``Run``), the ``case`` registry
  (``CASES``) and ``Result``;
- ``checks``: the measures every case is judged by; ``structure``: Markdown as markdown-it
  parses it;
- the cases, registered in this order: ``cases_execution`` (failing cells, timeouts,
  signals, concurrency), ``cases_storage`` (corrupt inputs, paths), ``cases_writer`` (the
  writer's repository: links, URL settings, hostile titles, malformed notebooks), ``cases_hostile``
  (hostile text), ``cases_secrets`` (credentials), ``cases_llm`` (LLM endpoint faults);
- ``runner`` (``run_case``, ``select``, ``run_all``) and ``browser`` (``browser_check``).

Per case the harness counts:

- lost: last good outputs (article, qiita-cli file, site page and figures, records,
  figures, cache entries) that changed or disappeared although the case should have
  left them alone (mode "intact"); or, where a new successful build is the expected end
  (mode "rebuilt"), every way the outputs are not complete and consistent afterwards;
- leaked: files under the project, and command outputs, that show a credential value
  (every command runs with the fake credentials of ``SECRETS`` in its environment);
- scripts run: injected scripts that ran in a real browser (hostile cases; filled in
  by ``browser_check`` for all hostile cases together);
- raw tracebacks: commands that printed a Python traceback without --debug, or exited
  with a status other than 0, 1 or 130 (processes the case killed itself excepted);
- written outside: files in the case's work folder outside the project (its copy of the
  project, the command logs and HOME aside) whose sha256 changed, or that appeared or
  vanished, between the case's first command and its end (files the case's own
  instrumentation writes there, ``ctx.outside_ok``, excepted);
- problems: the case's own expectation, plus the generic checks (no kernel process and
  no private runtime folder of a finished command left behind; for hostile cases the
  Markdown structure as markdown-it parses it).
"""

from __future__ import annotations

import importlib

from .browser import browser_check
from .harness import CASES, Case, Ctx, Result
from .project import Base, make_base
from .runner import run_all, run_case, select

#: the modules of cases; importing one registers its cases in CASES, so this order is the run order
CASE_MODULES = ("cases_execution", "cases_storage", "cases_writer", "cases_hostile", "cases_secrets", "cases_llm")
for _module in CASE_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["CASES", "CASE_MODULES", "Base", "Case", "Ctx", "Result", "browser_check", "make_base", "run_all",
           "run_case", "select"]
