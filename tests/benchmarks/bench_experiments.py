"""Benchmark: every repo experiment executed from scratch, with a per-experiment timing table.

    python tests/benchmarks/bench_experiments.py          # cold: converts the GGUF first
    python tests/benchmarks/bench_experiments.py --warm   # reuse build/models (converted copy cached)

Runs `execute --force` on a scratch copy of the project, then prints, per
experiment: the "モデルの読み込み" (load the model) cell's time, the total, and (measured once,
in this process) greedy generation speed in tokens per second. On a GPU
machine set [tool.pipeline.model] in pyproject.toml first (e.g. the
embedded model with quantization = "4bit", or Mistral-7B).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def generation_speed(models_dir: Path, tokens: int = 64) -> tuple[float, str]:
    import torch

    from pipeline.config import load_config, plain_values

    config = load_config(REPO)
    os.environ["PIPELINE_SETTINGS"] = json.dumps({"model": plain_values(config.model), "models_dir": str(models_dir)})
    from pipeline.lab import load_model

    tokenizer, model = load_model(publish_info=False)
    batch = tokenizer("The capital of Japan is", return_tensors="pt").to(model.device)
    with torch.no_grad():
        model.generate(**batch, max_new_tokens=4, do_sample=False)  # warm-up
        start = time.perf_counter()
        out = model.generate(**batch, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        elapsed = time.perf_counter() - start
    made = out.shape[1] - batch["input_ids"].shape[1]
    return made / elapsed, f"{model.device}, {model.dtype}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", action="store_true", help="reuse the converted model in build/models")
    args = parser.parse_args()

    from pipeline.article.harvest import harvest
    from pipeline.config import load_config
    from pipeline.progress import Progress
    from pipeline.run.execute import execute

    with tempfile.TemporaryDirectory(prefix="bench-exp-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "experiments", root / "experiments")
        models = (REPO / "build" / "models") if args.warm else (root / "models")
        pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
        (root / "pyproject.toml").write_text(
            pyproject.replace('build_dir = "build"', f'build_dir = "build"\nmodels_dir = "{models}"'), encoding="utf-8")
        config = load_config(root)
        start = time.perf_counter()
        execute(config, force=True, progress=Progress())
        wall = time.perf_counter() - start
        records = harvest(config, progress=Progress(quiet=True))
        speed, where = generation_speed(models)

    print(f"\n{'experiment':<18}{'model load':>12}{'total':>10}")
    for record in records:
        load = next((c.execution_time for c in record.cells if c.title == "モデルの読み込み"), None)
        print(f"{record.name:<18}{(load or 0):>11.1f}s{record.execution.duration:>9.1f}s")
    print(f"{'all (wall clock)':<18}{'':>12}{wall:>9.1f}s")
    model = records[0].environment.model
    print(f"\nmodel: {model.id} ({model.quantization}, {model.dtype}) on {model.device}; "
          f"greedy generation: {speed:.1f} tokens/s ({where}); {'warm' if args.warm else 'cold'} model cache")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
