"""The fault and hostile-input battery (cases in the tests/faults/ package), one test per case.

Every case gets a fresh copy of a project built once per module, runs the real CLI
on real ipykernels and is judged the same way: nothing of the last good article
lost, no credential leaked, no injected script run in chromium, no raw traceback,
and the case's own expectation. The hostile cases are loaded in one browser session
together (one MkDocs build of all their pages), and still reported one by one.
"""

from __future__ import annotations

import os

import faults
import pytest

HOSTILE = [c for c in faults.CASES if c.hostile]
OTHERS = [c for c in faults.CASES if not c.hostile]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def base(workdir):
    return faults.make_base(workdir)


@pytest.fixture(scope="module")
def hostile_results(base, workdir):
    results = {c.name: faults.run_case(c, base, workdir) for c in HOSTILE}
    why_not = faults.browser_check(list(results.values()), workdir)
    return results, why_not


def _judge(result: faults.Result) -> None:
    lost, leaked, scripts, tracebacks, outside = result.counts
    summary = (f"lost {lost}, leaked {leaked}, scripts run {scripts}, raw tracebacks {tracebacks}, "
               f"written outside {outside}\n{result.report()}")
    assert (lost, leaked, scripts, tracebacks, outside) == (0, 0, 0, 0, 0), summary
    assert not result.problems, summary


def test_at_least_forty_cases_with_unique_names():  # fast: the case list itself, no case run
    names = [c.name for c in faults.CASES]
    assert len(names) >= 40 and len(set(names)) == len(names)


@pytest.mark.slow
@pytest.mark.parametrize("case", OTHERS, ids=[c.name for c in OTHERS])
def test_fault(case, base, workdir):
    _judge(faults.run_case(case, base, workdir))


@pytest.mark.slow
@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_hostile(case, hostile_results):
    results, why_not = hostile_results
    result = results[case.name]
    _judge(result)
    if why_not:
        if os.environ.get("CI"):
            pytest.fail(f"CI: browser check not run: {why_not}", pytrace=False)
        pytest.skip(f"browser check not run: {why_not}")
    assert result.scripts is not None, "the browser check did not load this case's pages"
