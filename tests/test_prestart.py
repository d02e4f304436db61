"""Kernels started ahead of their experiments (pipeline.run.prestart), on real kernels: the next
experiment's kernel starts and imports while the current one runs, the experiment then runs in
that very kernel, and its records are those of a cold kernel; imports that print get a cold kernel."""

import json
import os
import re
import time
from pathlib import Path

import pytest
from helpers import masked_record, masked_records

from pipeline.article.harvest import harvest
from pipeline.run import prestart
from pipeline.run.execute import execute
from pipeline.run.prestart import first_imports

#: imported by each experiment's first cell: logs (to a file, never to the output) which process
#: imported it and whether the experiment before it had finished by then
MARKER = '''
import os, time
_log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "events.log")
with open(_log, "a") as _f:
    _f.write(f"import {os.getpid()} {time.time()}\\n")
'''

EXPERIMENT = '''
# %% Imports
import json
import {module}

# %% Names and counters
import sys
print(sorted(k for k in globals() if not k.startswith("_")))
print("json" in sys.modules, len(In), len(Out))

# %% Work
import os, time
with open(os.path.join("..", "events.log"), "a") as f:
    f.write(f"run {{os.getpid()}} {name} {{time.time()}}\\n")
if os.path.exists(os.path.join("..", "expect-prestart")):
    # wait for the next experiment's kernel to import (the event itself, not a fixed time)
    deadline = time.time() + 60
    while time.time() < deadline and open(os.path.join("..", "events.log")).read().count("import ") < {imports}:
        time.sleep(0.05)
print(sum(i * i for i in range(10_000)))
with open(os.path.join("..", "events.log"), "a") as f:
    f.write(f"end {{os.getpid()}} {name} {{time.time()}}\\n")
'''


@pytest.fixture(autouse=True)
def _two_cores(monkeypatch):
    """The bounds are the machine's; make them the same everywhere: two cores, memory to spare."""
    monkeypatch.setattr(prestart, "cores", lambda: 2)
    monkeypatch.setattr(prestart, "MIN_FREE_MEMORY", 0)


def _events(project):
    return [line.split() for line in (project.root / "events.log").read_text().splitlines()]



def _three(project, module="_marker_mod", body=MARKER):
    (project.root / "experiments" / f"{module}.py").write_text(body, encoding="utf-8")
    for i, name in enumerate(("01_a", "02_b", "03_c"), 1):
        project.add(name, EXPERIMENT.format(module=module, name=name, imports=i + 1 if i < 3 else 3))


def test_the_next_kernel_starts_and_imports_ahead_and_runs_its_experiment(project, quiet):
    _three(project)
    project.write_config('prestart = "off"\n')
    config = project.config()
    execute(config, progress=quiet)
    cold = masked_records(config, quiet)

    (project.root / "events.log").unlink()
    (project.root / "expect-prestart").write_text("")
    project.write_config()  # prestart = "imports", the default
    config = project.config()
    execute(config, force=True, progress=quiet, jobs=1)
    events = _events(project)
    runs = {e[2]: e for e in events if e[0] == "run"}
    ends = {e[2]: float(e[3]) for e in events if e[0] == "end"}
    imports = [e for e in events if e[0] == "import"]
    assert len(imports) == 3
    for before, after in (("01_a", "02_b"), ("02_b", "03_c")):
        [imported] = [e for e in imports if e[1] == runs[after][1]]  # the kernel that ran it had imported...
        assert float(imported[2]) < ends[before]  # ...while the experiment before it still ran
    assert masked_records(config, quiet) == cold  # what the experiments saw and printed: a cold kernel's


def test_imports_that_print_get_a_cold_kernel_and_show_in_the_first_cell(project, quiet):
    noisy = MARKER + 'print("hello from the import")\nimport warnings\nwarnings.warn("careful")\n'
    _three(project, "_noisy_mod", noisy)
    project.write_config('prestart = "off"\n')
    config = project.config()
    execute(config, progress=quiet)
    cold = masked_records(config, quiet)
    first = cold[1]["cells"][0]["outputs"]
    assert any("hello from the import" in (o.get("text") or "") for o in first)

    project.write_config()
    config = project.config()
    execute(config, force=True, progress=quiet, jobs=1)
    assert masked_records(config, quiet) == cold


def test_a_lab_import_without_a_model_reports_a_cold_kernels_packages(project, quiet):
    """pipeline.lab's __preimport__ brings torch and transformers into a waiting kernel; an experiment
    that never loads a model must still record only what it imported itself."""
    for name in ("01_a", "02_b"):
        project.add(name, "# %%\nfrom pipeline import lab\nimport json\n\n# %%\nprint(json.dumps(lab.EMBEDDED_NAME))\n")
    project.write_config('prestart = "off"\n')
    config = project.config()
    execute(config, progress=quiet)
    cold = masked_records(config, quiet)
    assert not {"torch", "transformers"} & set(cold[1]["environment"]["packages"])

    project.write_config()
    config = project.config()
    execute(config, force=True, progress=quiet, jobs=1)
    assert masked_records(config, quiet) == cold


def _cold_then_prestarted(project, quiet, jobs=1):
    """The records of a cold run (prestart off), then of a forced run with kernels started ahead."""
    project.write_config('prestart = "off"\n')
    config = project.config()
    execute(config, force=True, progress=quiet, jobs=jobs)
    cold = masked_records(config, quiet)
    project.write_config()
    config = project.config()
    execute(config, force=True, progress=quiet, jobs=jobs)
    return cold, masked_records(config, quiet)


def test_a_deprecation_warning_an_import_attributes_to_the_cell_still_shows(project, quiet):
    """A cold kernel shows a DeprecationWarning raised for the cell's own import (stacklevel=2 makes
    it the cell's, __main__'s); the pre-import, in a namespace of its own, must count it as output."""
    (project.root / "experiments" / "_old_api.py").write_text(
        "import warnings\nwarnings.warn('_old_api is deprecated', DeprecationWarning, stacklevel=2)\n", encoding="utf-8")
    for name in ("01_a", "02_b"):
        project.add(name, "# %%\nimport _old_api\n\n# %%\nprint('ok')\n")
    cold, warm = _cold_then_prestarted(project, quiet)
    shown = [o for o in cold[1]["cells"][0]["outputs"] if "_old_api is deprecated" in (o.get("text") or "")]
    assert shown, cold[1]["cells"][0]["outputs"]
    for record in cold + warm:  # ipykernel names the cell's file after its process: not part of the comparison
        for cell in record["cells"]:
            for output in cell["outputs"]:
                if output.get("text"):
                    output["text"] = re.sub(r"ipykernel_\d+", "ipykernel_N", output["text"])
    assert warm == cold


def test_an_experiment_after_another_imports_what_that_one_wrote(project, quiet):
    """02_use runs after 01_make, which rewrites the module 02_use imports: its kernel may start
    early, but imports only once 01_make is done (01_make waits until that kernel is up)."""
    (project.root / "experiments" / "_made.py").write_text("VALUE = 'stale'\n", encoding="utf-8")
    project.add("01_make", """
        # %%
        import os, time
        def kernels():
            found = 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                    if int(stat[1]) == os.getppid() and b"ipykernel" in open(f"/proc/{pid}/cmdline", "rb").read():
                        found += 1
                except (OSError, IndexError, ValueError):
                    pass
            return found
        deadline = time.time() + 60
        while kernels() < 2 and time.time() < deadline:  # the next experiment's kernel, started ahead
            time.sleep(0.05)
        time.sleep(1.5)  # time enough for it to import, were it allowed to
        open("_made.py", "w").write("VALUE = 'fresh'\\n")
        print("written")
        """)
    project.add("02_use", "# ---\n# jupyter:\n#   pipeline:\n#     after: [01_make]\n# ---\n# %%\nimport _made\n\n# %%\nprint(_made.VALUE)\n")
    project.write_config()
    config = project.config()
    execute(config, force=True, progress=quiet, jobs=1)
    assert masked_records(config, quiet)[1]["cells"][1]["outputs"][0]["text"].strip() == "fresh"


def test_declared_imports_wait_when_the_experiment_sets_up_its_environment(project, quiet):
    """pipeline.lab declares torch and transformers; an experiment that sets environment variables
    (read by those at import) gets only its own leading imports ahead, and a skipped first cell
    imports nothing ahead."""
    project.add("01_a", "# %%\nimport json\n")
    project.add("02_env", "# %%\nfrom pipeline import lab\nimport os\nos.environ['OMP_NUM_THREADS'] = '1'\n\n"
                          "# %%\nimport sys\nprint('torch' in sys.modules)\n")
    (project.root / "experiments" / "_setup_mod.py").write_text("import json\n", encoding="utf-8")
    project.add("03_skip", "# %% tags=[\"skip-execution\"]\nimport _setup_mod\n\n# %%\nimport sys\nprint('_setup_mod' in sys.modules)\n")
    cold, warm = _cold_then_prestarted(project, quiet)
    assert [r["cells"][1]["outputs"][0]["text"].strip() for r in warm[1:]] == ["False", "False"]
    assert warm == cold


def test_fail_fast_does_not_wait_for_imports_running_ahead(project, quiet):
    """--jobs 2 --fail-fast: 01 fails at once while 02's kernel is still importing a slow module
    ahead; the stop ends that kernel instead of waiting for its import."""
    from pipeline.errors import ExecutionFailed

    (project.root / "experiments" / "_slow_mod.py").write_text(
        "open('../importing', 'w').close()\nimport time\ntime.sleep(60)\n", encoding="utf-8")
    # the event: 01 fails once 02's kernel is inside the slow import (not after a pause)
    project.add("01_fails", "# %%\nimport os, time\ndeadline = time.time() + 60\n"
                            "while not os.path.exists('../importing') and time.time() < deadline:\n    time.sleep(0.05)\n"
                            "raise RuntimeError('no')\n")
    project.add("02_slow", "# %%\nimport _slow_mod\n")
    project.write_config()
    began = time.monotonic()
    with pytest.raises(ExecutionFailed):
        execute(project.config(), force=True, progress=quiet, jobs=2, fail_fast=True)
    assert time.monotonic() - began < 40  # the import alone takes 60 s


def test_a_stopped_run_leaves_no_waiting_kernel(project, quiet):
    """Kernels started ahead for experiments that never run (a failure blocks them) are shut down."""
    from helpers import alive

    from pipeline.errors import ExecutionFailed

    project.add("01_fails", "# %%\nimport os\nopen('../pids', 'a').write(f'{os.getpid()}\\n')\nraise RuntimeError('no')\n")
    project.add("02_after", "# ---\n# jupyter:\n#   pipeline:\n#     after: [01_fails]\n# ---\n# %%\nimport json\nprint(1)\n")
    before = set(_kernel_pids())
    with pytest.raises(ExecutionFailed):
        execute(project.config(), force=True, progress=quiet, jobs=1)
    assert [pid for pid in set(_kernel_pids()) - before if alive(pid)] == []


def _kernel_pids():
    """This test process's kernels: their connection file lies in a runtime folder named after its pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"ipykernel_launcher" in command and f"/{os.getpid()}-".encode() in command:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("source, names", [
    ("import torch\nfrom pipeline.lab import load_model\nmodel = load_model()\nimport late",
     ["torch", "pipeline.lab", ("pipeline.lab", "load_model")]),
    ('"""doc"""\nimport a.b as c, d\nfrom e.f import g, h as i\nfrom j import *', ["a.b", "d", "e.f", ("e.f", "g"), ("e.f", "h"), "j"]),
    ("import os\nos.environ['X'] = '1'\nimport reads_x", ["os"]),  # nothing after a statement that could matter
    ("%matplotlib inline\nimport numpy", []),
    ("from . import sibling\nfrom __future__ import annotations", []),
    ("if True:\n    import inside", []),
    ("import (", []),
])
def test_only_the_leading_imports_of_the_first_cell_run_ahead(source, names):
    assert first_imports(source) == names


def test_lab_declares_what_load_model_imports(monkeypatch):
    from pipeline import lab

    monkeypatch.setenv("PIPELINE_SETTINGS", json.dumps({"model": {"id": "embedded"}, "models_dir": "/x"}))
    assert {"torch", "transformers", "transformers.models.llama.modeling_llama"} <= set(lab.__preimport__())
    monkeypatch.setenv("PIPELINE_SETTINGS", json.dumps({"model": {"id": "mistralai/Mistral-7B-v0.1"}, "models_dir": "/x"}))
    assert "transformers.models.llama.modeling_llama" not in lab.__preimport__()


@pytest.mark.slow
def test_model_experiments_started_ahead_keep_a_cold_kernels_records(tmp_path, quiet, converted_models, one_thread):
    """The seed's own experiments: the second one's kernel imports torch, transformers and the model's
    code (pipeline.lab's __preimport__) while the first runs; the records are those of cold kernels."""
    import shutil

    from conftest import REPO

    from pipeline.config import load_config

    root = tmp_path / "project"
    shutil.copytree(REPO / "experiments", root / "experiments")
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    settings = f'build_dir = "build"\nmodel_cache = "{converted_models}"'
    names = ["01_model", "02_tokenizer"]

    def records(prestart_mode):
        (root / "pyproject.toml").write_text(pyproject.replace('build_dir = "build"', f'{settings}\nprestart = "{prestart_mode}"'),
                                             encoding="utf-8")
        config = load_config(root)
        execute(config, names, force=True, progress=quiet, jobs=1)
        return [masked_record(r, "cache_key") for r in harvest(config, names, progress=quiet)]

    cold = records("off")
    assert records("imports") == cold
