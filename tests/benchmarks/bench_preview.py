"""Edit-to-page time in `pipeline preview` against a clean re-run of the experiment.

The experiment's first cell loads the embedded model (SmolLM2-135M, converted copy cached),
the last cell prints a generation. The edit changes the last cell; the time runs from the
save to the moment the served page (MkDocs' live-reload server) shows the new output.
The clean re-run is `python -m pipeline execute NAME --force` (fresh kernel, every cell).

    python tests/benchmarks/bench_preview.py [--rounds 3]

Prints both medians and their ratio (the goal: under 0.3x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from helpers import free_port  # noqa: E402

EXPERIMENT = '''# %% [markdown]
# # Warm kernel benchmark

# %% Load the model
from pipeline.lab import load_model
tokenizer, model = load_model()

# %% Prompt
import torch
ids = tokenizer("The capital of Japan is", return_tensors="pt")

# %% Generate
with torch.no_grad():
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
print("MARKER-{n}", tokenizer.decode(out[0][ids["input_ids"].shape[1]:]))
'''


def _page(url: str) -> str:
    try:
        return urllib.request.urlopen(url, timeout=2).read().decode("utf-8", "replace")
    except OSError:
        return ""


def _wait_for(url: str, text: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if text in _page(url):
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError(f"{text!r} did not appear on {url} within {timeout}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    root = work / "project"
    (root / "experiments").mkdir(parents=True)
    shutil.copy(REPO / "mkdocs.yml", root)
    (root / "pyproject.toml").write_text(f'[tool.pipeline]\nmodels_dir = "{REPO / "build" / "models"}"\n', encoding="utf-8")
    script = root / "experiments" / "01_model.py"
    script.write_text(EXPERIMENT.replace("{n}", "0"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_MKDOCS_2_WARNING": "1"}

    def pipeline(*argv):
        return subprocess.run([sys.executable, "-m", "pipeline", "-q", *argv], cwd=root, env=env,
                              capture_output=True, text=True, check=True)

    pipeline("build")  # converts the model once, if needed
    clean = []
    for _ in range(args.rounds):
        started = time.monotonic()
        pipeline("execute", "01_model", "--force")
        clean.append(time.monotonic() - started)

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "-m", "pipeline", "-q", "preview", "--port", str(port)], cwd=root,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # Ctrl-C stops it
    warm = []
    try:
        _wait_for(url, "MARKER-0", 180)
        script.write_text(EXPERIMENT.replace("{n}", "1"), encoding="utf-8")
        _wait_for(url, "MARKER-1", 180)  # the first edit starts the warm kernel (every cell runs once)
        for n in range(2, args.rounds + 2):
            time.sleep(1.0)
            script.write_text(EXPERIMENT.replace("{n}", str(n)), encoding="utf-8")
            warm.append(_wait_for(url, f"MARKER-{n}", 180))
    finally:
        server.send_signal(2)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)

    clean_median, warm_median = statistics.median(clean), statistics.median(warm)
    print(f"clean re-run (execute --force), {args.rounds} rounds: median {clean_median:.2f}s  "
          f"[{', '.join(f'{t:.2f}' for t in clean)}]")
    print(f"preview edit-to-page (last cell, warm kernel), {len(warm)} rounds: median {warm_median:.2f}s  "
          f"[{', '.join(f'{t:.2f}' for t in warm)}]")
    print(f"ratio: {warm_median / clean_median:.2f}x (goal: under 0.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
