"""Benchmark: what the first build in a writer's repository says, and what it leaves for the push.

    python tests/benchmarks/bench_advice.py [--figures 20] [--code DIR]

Makes a writer's repository in a temporary folder (a zenn-cli root and a qiita-cli folder with
qiita-cli's publish workflow at the top, a local bare remote under a GitHub URL), one notebook
drawing N figures, `init` and `image_base_url = "git"`, then one `build`, with the pipeline's code
from --code (default: this checkout; give an older checkout to compare). Prints the size of the
build's output, of its lines naming `git add`, and how many FIGURE-TO-UPLOAD: placeholders and
raw links the qiita-cli file holds, with its ignorePublish: what the push that follows publishes.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = """name: Publish articles
on:
  push:
    branches:
      - main
      - master
jobs:
  publish_articles:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: increments/qiita-cli/actions/publish@v1
        with:
          qiita-token: ${{ secrets.QIITA_TOKEN }}
          root: "."
"""


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=int, default=20)
    parser.add_argument("--code", type=Path, default=REPO, help="a checkout of the pipeline to run (default: this one)")
    args = parser.parse_args()
    import nbformat

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "home").mkdir()
        env = {**os.environ, "HOME": str(work / "home"), "PYTHONPATH": str(args.code.resolve()), "MPLBACKEND": "Agg",
               "GIT_CONFIG_NOSYSTEM": "1"}
        (work / "home" / ".gitconfig").write_text(
            f'[user]\n\tname = w\n\temail = w@example.com\n[init]\n\tdefaultBranch = main\n'
            f'[url "{(work / "remote.git").as_uri()}"]\n\tinsteadOf = https://github.com/me/articles.git\n')
        _run(["git", "init", "-q", "--bare", "remote.git"], work, env)
        _run(["git", "clone", "-q", "https://github.com/me/articles.git", "repo"], work, env)
        repo = work / "repo"
        for name in ("articles", "books"):
            (repo / name).mkdir()
            (repo / name / ".keep").write_text("")
        (repo / "qiita.config.json").write_text('{"includePrivate": false}\n')
        (repo / ".github" / "workflows").mkdir(parents=True)
        (repo / ".github" / "workflows" / "publish.yml").write_text(WORKFLOW)
        cells = [nbformat.v4.new_markdown_cell("# Figures\n\nMany figures."),
                 nbformat.v4.new_code_cell("import matplotlib.pyplot as plt")]
        cells += [nbformat.v4.new_code_cell(f"plt.plot([0, {i}, 1])\nplt.show()") for i in range(args.figures)]
        (repo / "figures-article").mkdir()
        nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}}), repo / "figures-article" / "a.ipynb")
        for step in (["git", "add", "-A"], ["git", "commit", "-q", "-m", "init"], ["git", "push", "-q", "-u", "origin", "main"],
                     [sys.executable, "-m", "pipeline", "init", "figures-article"]):
            done = _run(step, repo, env)
            if done.returncode:
                print(f"{' '.join(step)} failed: {done.stderr}", file=sys.stderr)
                return 1
        pyproject = repo / "figures-article" / "pyproject.toml"
        text = pyproject.read_text()
        if "image_base_url" not in text:  # an older init does not write it
            pyproject.write_text(text.replace("[tool.pipeline.article]\n", '[tool.pipeline.article]\nimage_base_url = "git"\n'))
        build = _run([sys.executable, "-m", "pipeline", "build"], repo / "figures-article", env)
        output = build.stdout + build.stderr
        advice = [line for line in output.splitlines() if "git add" in line]
        cli_file = next((repo / "public").glob("*.md"))
        article = cli_file.read_text()
        held = re.search(r"^ignorePublish: (\S+)$", article, re.M)
        print(f"code: {args.code.resolve()}; {args.figures} figures; build exit {build.returncode}")
        print(f"build output: {len(output):,} characters, {len(output.splitlines())} lines")
        print(f"lines naming `git add`: {len(advice)}, {sum(len(line) for line in advice):,} characters")
        print(f"qiita-cli file: {article.count('FIGURE-TO-UPLOAD:')} placeholders, "
              f"{len(re.findall(r'https://raw.githubusercontent.com/', article))} raw links, "
              f"ignorePublish: {held.group(1) if held else '?'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
