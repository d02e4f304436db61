"""The seed study on a CUDA GPU: the embedded model in fp16 and in 4-bit NF4 (bitsandbytes, the
seed article's quantization path), against the CPU run.

    python tests/benchmarks/bench_gpu.py [--modes cpu,fp16,4bit]

Needs `.setup/install gpu,test` (CUDA torch and bitsandbytes) on a machine with an NVIDIA GPU.
Per mode it runs every experiment from scratch (`execute --force`, one experiment at a time,
the converted model cached) and prints per experiment: the time, the peak GPU memory while it
ran (nvidia-smi, the whole device), and once per mode the greedy generation speed in tokens/s.
Mistral-7B itself needs the Hugging Face hub, which the lent GPU machines cannot reach; its
code path is covered by the error-path tests in tests/test_lab.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))

MODES = {
    "cpu": {"device": "cpu", "dtype": "float32", "quantization": "none"},
    "fp16": {"device": "cuda", "dtype": "float16", "quantization": "none"},
    "4bit": {"device": "cuda", "dtype": "auto", "quantization": "4bit"},
}


class PeakMemory:
    """Polls nvidia-smi for the device's used memory (MiB) while a block runs."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()

    def _used(self) -> int:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True).stdout.split()
        return int(out[0]) if out else 0

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._used())
            time.sleep(0.1)

    def __enter__(self):
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_mode(name: str, settings: dict, models: Path) -> tuple[list[tuple[str, float, int]], float, str]:
    from bench_experiments import generation_speed

    from pipeline.article.harvest import harvest
    from pipeline.config import load_config
    from pipeline.experiments import discover
    from pipeline.progress import Progress
    from pipeline.run.execute import execute

    with tempfile.TemporaryDirectory(prefix=f"bench-gpu-{name}-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "experiments", root / "experiments")
        model = "\n".join(f'{k} = "{v}"' for k, v in settings.items())
        (root / "pyproject.toml").write_text(f'[tool.pipeline]\nmodels_dir = "{models}"\ncell_timeout = 1800\n'
                                             f'[tool.pipeline.model]\nid = "embedded"\n{model}\n', encoding="utf-8")
        config = load_config(root)
        rows = []
        for experiment in discover(config):
            with PeakMemory() as memory:
                execute(config, [experiment.name], force=True, progress=Progress(quiet=True, live=False))
            [record] = harvest(config, [experiment.name], progress=Progress(quiet=True, live=False))
            rows.append((experiment.name, record.execution.duration or 0.0, memory.peak))
        os.environ["PIPELINE_SETTINGS"] = json.dumps({"model": {"id": "embedded", "seed": 0, **settings},
                                                      "models_dir": str(models)})
        speed, where = generation_speed(models)
    return rows, speed, where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="cpu,fp16,4bit")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure (this script is for a GPU machine; see its docstring)")
        return 0
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    models = REPO / "build" / "models"
    results = {}
    for mode in args.modes.split(","):
        started = time.monotonic()
        results[mode] = run_mode(mode, MODES[mode], models)
        print(f"{mode}: done in {time.monotonic() - started:.0f}s", flush=True)
    names = [row[0] for row in next(iter(results.values()))[0]]
    header = "".join(f"{mode + ' s':>12}{mode + ' MiB':>12}" for mode in results)
    print(f"\n{'experiment':<16}{header}")
    for i, name in enumerate(names):
        cells = "".join(f"{results[m][0][i][1]:>12.1f}{results[m][0][i][2]:>12d}" for m in results)
        print(f"{name:<16}{cells}")
    totals = "".join(f"{sum(r[1] for r in results[m][0]):>12.1f}{max(r[2] for r in results[m][0]):>12d}" for m in results)
    print(f"{'all':<16}{totals}")
    for mode, (_, speed, where) in results.items():
        print(f"greedy generation, {mode}: {speed:.1f} tokens/s ({where})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
