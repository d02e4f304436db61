"""Cases about execution: failing cells, timeouts, dying kernels, signals sent to a running
build or to the publication step, and two builds at once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from helpers import alive

from .checks import runtime_folders_of
from .harness import Ctx, case, failing, fails_in_cell_3, tail
from .project import REPO

# execution -------------------------------------------------------------------

@case("execution")
def exec_exception(ctx: Ctx):
    """An exception in cell 3: exit 1 naming the file, the cell and the error; a failure report."""
    ctx.experiment("03_x", failing("Failing", "x = 1", "def f():\n    return 1 / 0\nf()"))
    run = ctx.cli("build")
    ctx.expect_error(run, "experiments/03_x.py, cell 3", "ZeroDivisionError")
    ctx.expect(ctx.path("build/executed/03_x.failure.json").is_file(), "no failure report kept")
    ctx.no_record("03_x")


@case("execution")
def exec_syntax_error(ctx: Ctx):
    fails_in_cell_3(ctx, "SyntaxError", "Syntax", "x = 1", "def broken(:\n    pass")


@case("execution")
def exec_cell_timeout(ctx: Ctx):
    """An infinite loop stops at cell_timeout (2 s here)."""
    ctx.configure(top={"cell_timeout": 2})
    ctx.experiment("03_x", failing("Loop", "x = 1", "while True:\n    pass"))
    run = ctx.cli("build", timeout=60)
    ctx.expect_error(run, "experiments/03_x.py, cell 3", "cell_timeout")
    ctx.expect(run.seconds < 25, f"the build took {run.seconds:.1f}s with a 2s cell timeout")
    ctx.notes.append(f"build {run.seconds:.1f}s")
    ctx.no_record("03_x")


@case("execution")
def exec_experiment_timeout(ctx: Ctx):
    """Three 1.5 s cells under a 3 s experiment limit: stopped at the cell that passes it."""
    ctx.configure(top={"experiment_timeout": 3})
    ctx.experiment("03_x", failing("Slow", "import time\ntime.sleep(1.5)", "time.sleep(1.5)", "time.sleep(1.5)"))
    run = ctx.cli("build", timeout=60)
    ctx.expect_error(run, "experiments/03_x.py, cell", "experiment_timeout")
    ctx.expect(run.seconds < 25, f"the build took {run.seconds:.1f}s with a 3s experiment limit")
    ctx.no_record("03_x")


@case("execution")
def exec_kernel_dies(ctx: Ctx):
    fails_in_cell_3(ctx, "DeadKernelError", "Dies", "import os", "os.kill(os.getpid(), 9)", timeout=90)


@case("execution")
def exec_memory_error(ctx: Ctx):
    fails_in_cell_3(ctx, "MemoryError", "Memory", "x = 1", "big = bytearray(10**13)")


@case("execution")
def exec_memory_limit_kill(ctx: Ctx):
    """The kernel is killed (SIGSEGV) by a real memory limit: its stack rlimit lowered to 1 MiB,
    then a deep recursion in C."""
    fails_in_cell_3(ctx, "DeadKernelError", "Stack limit", "import functools, json, resource, sys",
                    "hard = resource.getrlimit(resource.RLIMIT_STACK)[1]\n"
                    "resource.setrlimit(resource.RLIMIT_STACK, (1 << 20, hard))\n"
                    "sys.setrecursionlimit(10**7)\n"
                    "nested = functools.reduce(lambda a, _: [a], range(10**6), [])\n"
                    "json.dumps(nested)", timeout=90)


@case("execution")
def exec_sys_exit(ctx: Ctx):
    fails_in_cell_3(ctx, "SystemExit", "Exit", "import sys", "sys.exit(3)")


@case("execution")
def exec_unknown_kernel(ctx: Ctx):
    ctx.configure(top={"kernel": "no-such-kernel"})
    run = ctx.cli("build")
    ctx.expect_error(run, "no-such-kernel", "experiments/01_fig.py")


# signals -----------------------------------------------------------------------

SLOW_CELL = """
import pathlib, time
pathlib.Path({marker!r}).write_text("running")
if pathlib.Path({flag!r}).exists():
    time.sleep(120)
"""


def _slow_experiment(ctx: Ctx) -> tuple[Path, Path]:
    marker, flag = ctx.work / "cell-started", ctx.work / "slow.flag"
    flag.write_text("1")
    ctx.outside_ok |= {marker.name, flag.name}  # the cell's own marker, and the flag the case removes
    ctx.experiment("03_slow", failing("Slow", "x = 1", SLOW_CELL.format(marker=str(marker), flag=str(flag))))
    return marker, flag


def _interrupt_while_cell_runs(ctx: Ctx, sig: int, group: bool) -> None:
    marker, _ = _slow_experiment(ctx)
    proc = ctx.start("build", new_session=group)
    ctx.expect(proc.wait_for(r"03_slow: executing", 60), "no progress line for 03_slow on stderr")
    ctx.expect(proc.wait_file(marker, 60), "the slow cell never started")
    proc.send(sig, group=group)
    run = proc.finish(60)
    ctx.expect_rc(run, 130)
    ctx.expect("interrupted" in run.stderr and "unchanged" in run.stderr,
               f"no clear interruption message; stderr ends: {tail(run.stderr)}")
    ctx.expect(proc.since_signal() < 15, f"took {proc.since_signal():.1f}s to stop after the signal")
    ctx.notes.append(f"stopped {proc.since_signal():.1f}s after the signal")
    ctx.no_record("03_slow")


@case("signals")
def sig_sigint_cell(ctx: Ctx):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while a cell runs."""
    _interrupt_while_cell_runs(ctx, signal.SIGINT, group=True)


@case("signals")
def sig_sigterm_cell(ctx: Ctx):
    _interrupt_while_cell_runs(ctx, signal.SIGTERM, group=False)


@case("signals")
def sig_sigint_llm(ctx: Ctx):
    """Ctrl-C while the LLM pass waits for an endpoint that takes 30 s to answer."""
    from fake_openai import FakeOpenAI, completion

    ctx.configure(llm={"timeout": 60.0, "deadline": 120.0})
    with FakeOpenAI([(200, completion("下書きの説明文です。"))], delay=30) as server:
        proc = ctx.start("build", "--llm", "--llm-base-url", server.base_url)
        ctx.expect(proc.wait_for(r"asking \S+ \(configured model: [^)]+\) for \d+ of \d+ sections", 60),
                   "no 'asking ...' progress line")
        end = time.monotonic() + 20
        while not server.requests and time.monotonic() < end:
            time.sleep(0.05)
        ctx.expect(server.requests, "the LLM pass never sent a request")
        proc.send(signal.SIGINT)
        run = proc.finish(60)
    ctx.expect_rc(run, 130)
    ctx.expect(proc.since_signal() < 10, f"took {proc.since_signal():.1f}s to stop after Ctrl-C")
    ctx.expect("interrupted" in run.stderr, f"no interruption message; stderr ends: {tail(run.stderr)}")


@case("signals", mode="rebuilt")
def sig_sigkill_cell(ctx: Ctx):
    """SIGKILL while a cell runs: the outputs stay intact; the next build succeeds, removes the
    killed run's private runtime folder and stops its kernel."""
    marker, flag = _slow_experiment(ctx)
    proc = ctx.start("build")
    ctx.expect(proc.wait_file(marker, 60), "the slow cell never started")
    proc.send(signal.SIGKILL)
    proc.finish(30)
    ctx.checkpoint_intact("after the SIGKILL")
    folders = runtime_folders_of([proc.pid])
    ctx.expect(folders, "no private runtime folder of the killed run found (nothing to check)")
    kernels = [int(p.read_text()) for f in folders for p in [f / "kernel.pid"] if p.is_file()]
    ctx.expect(kernels, "no kernel.pid in the killed run's runtime folder")
    flag.unlink()
    run = ctx.cli("build")
    ctx.expect_ok(run)
    ctx.expect(not runtime_folders_of([proc.pid]),
               "the killed run's runtime folder is still there after the next build")
    running = [pid for pid in kernels if alive(pid)]
    ctx.expect(not running, f"the killed run's kernel {running} is still running after the next build")


KILL_AFTER_SWAP = """
import os
if os.environ.get("FAULTS_KILL_AFTER_SWAP") == "1":
    import signal
    import pipeline.storage as storage

    _original = storage._swap_in

    def _swap_in(staged, target):
        _original(staged, target)
        with open(os.environ["FAULTS_SWAP_LOG"], "a") as log:
            log.write(str(target) + "\\n")
        os.kill(os.getpid(), signal.SIGKILL)

    storage._swap_in = _swap_in
"""


@case("signals", mode="rebuilt")
def sig_sigkill_publish(ctx: Ctx):
    """SIGKILL inside the publication step, right after its first swap: the next command
    finishes the publication."""
    hook = ctx.work / "hook"
    hook.mkdir()
    ctx.outside_ok |= {"hook/*", "swaps.log"}  # the instrumentation: its bytecode and its log
    (hook / "sitecustomize.py").write_text(KILL_AFTER_SWAP, encoding="utf-8")
    log = ctx.work / "swaps.log"
    path = ctx.path("experiments/02_table.py")
    path.write_text(path.read_text(encoding="utf-8") + "\n# %% [markdown]\n# Edited note for the kill test.\n",
                    encoding="utf-8")
    run = ctx.cli("build", env={"FAULTS_KILL_AFTER_SWAP": "1", "FAULTS_SWAP_LOG": str(log),
                                "PYTHONPATH": f"{hook}{os.pathsep}{REPO}"})
    run.killed = True
    if not ctx.expect(run.rc == -signal.SIGKILL and log.is_file(),
                      f"the publication step was not reached (exit {run.rc}): {tail(run.stderr)}"):
        return
    ctx.notes.append(f"killed after swapping {log.read_text().strip()}")
    ctx.expect(ctx.path("build/.publish.json").is_file(), "no publication journal left by the killed command")
    after = ctx.cli("execute")
    ctx.expect_ok(after)
    ctx.expect("finishing the publication" in after.stderr, "the next command did not say it finished the publication")
    ctx.expect("Edited note for the kill test." in ctx.read("build/qiita/article.md")
               and "Edited note for the kill test." in ctx.read("site/index.md"),
               "the interrupted publication was not finished: the article lacks the edit")


# concurrency --------------------------------------------------------------------

@case("concurrency", mode="rebuilt")
def conc_two_builds(ctx: Ctx):
    """Two builds at once, three rounds (each round changes an experiment's code)."""
    for round_ in range(3):
        ctx.experiment("03_c", failing("Concurrent", f"import time\ntime.sleep(1.0)\nprint('round {round_}')"))
        first, second = ctx.start("build"), ctx.start("build")
        runs = [first.finish(180), second.finish(180)]
        for run in runs:
            ctx.expect_rc(run, 0)
            ctx.expect("FileNotFoundError" not in run.output, f"round {round_}: FileNotFoundError: {tail(run.stderr)}")
        waited = [r for r in runs if "waiting for another command to finish" in r.stderr]
        ctx.expect(len(waited) == 1, f"round {round_}: {len(waited)} builds said they waited (expected 1)")
        for run in waited:
            other = next(r for r in runs if r is not run)
            ctx.expect(f"pid {other.pid}" in run.stderr, f"round {round_}: the waiting build does not name pid "
                                                         f"{other.pid}: {tail(run.stderr)}")
        ctx.expect(f"round {round_}" in ctx.read("build/qiita/article.md"), f"round {round_}: article not updated")
