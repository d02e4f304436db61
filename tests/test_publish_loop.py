"""One push publishes (issue 25): a writer's repository made as `zenn init` and qiita-cli's own `init` make
it, notebooks that draw figures, `init`, `build`, then the writer's one `git add -A && git commit && git
push`, with qiita-cli's publish workflow played by qiita-cli's own code (tests/js/qiita_action.mjs: its
FileSystemRepo and validators, a JSON file standing in for Qiita) in a fresh clone of the remote, which
commits the ids back as the workflow does. The remote is a local bare repository under a GitHub URL
(`url.<base>.insteadOf`), so every raw figure URL an article links is checked in it, byte for byte.
Real kernels, real git, the real command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.requires("qiita_cli")

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "tests" / "js" / "qiita_action.mjs"
QIITA_CLI = ROOT / ".setup" / "npm" / "node_modules" / "@qiita" / "qiita-cli" / "dist" / "main.js"
URL = "https://github.com/alice/articles.git"
RAW = re.compile(r"https://raw\.githubusercontent\.com/alice/articles/([^/\s)]+)/([^\s)\"]+)")


def run(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), cwd=cwd, text=True, capture_output=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "GIT_CONFIG_NOSYSTEM": "1"})
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def pipeline(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run(sys.executable, "-m", "pipeline", *args, cwd=cwd, check=check)


def git(*args: str, cwd: Path) -> str:
    return run("git", *args, cwd=cwd).stdout.strip()


def notebook(path: Path, prose: str, curves: list[str]) -> None:
    cells = [nbformat.v4.new_markdown_cell(f"# 図で見る三角関数\n\n{prose}"),
             nbformat.v4.new_code_cell("import numpy as np\nimport matplotlib.pyplot as plt\nx = np.linspace(0, 6, 50)")]
    cells += [nbformat.v4.new_code_cell(f"plt.plot(x, {curve})\nplt.show()") for curve in curves]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)


@dataclass
class World:
    tmp: Path
    bare: Path
    repo: Path  # the writer's clone: zenn-cli and qiita-cli at the top, one article project in plots/
    server: Path  # Qiita's state (tests/js/qiita_action.mjs)
    runs: int = 0

    @property
    def project(self) -> Path:
        return self.repo / "plots"

    def cli_file(self) -> Path:
        return next((self.repo / "public").glob("*.md"))

    def action(self) -> dict:
        """qiita-cli's publish workflow on a push: a fresh checkout, `qiita publish --all --root .`, then
        `git add ./public/*` and, if anything changed, a commit "Updated by qiita-cli" pushed back."""
        self.runs += 1
        clone = self.tmp / f"action-{self.runs}"
        git("clone", "-q", URL, str(clone), cwd=self.tmp)
        done = run("node", str(ACTION), "publish", str(clone), str(self.server), cwd=clone, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        git("add", "public", cwd=clone)
        if run("git", "diff", "--cached", "--quiet", cwd=clone, check=False).returncode:
            git("-c", "user.name=github-actions[bot]", "-c", "user.email=bot@example.com", "commit", "-q", "-m",
                "Updated by qiita-cli", cwd=clone)
            git("push", "-q", cwd=clone)
        return json.loads(done.stdout)

    def items(self) -> dict:
        return json.loads(self.server.read_text(encoding="utf-8"))["items"]

    def push(self, message: str) -> None:
        """What the writer types."""
        git("add", "-A", cwd=self.repo)
        git("commit", "-q", "-m", message, cwd=self.repo)
        git("push", "-q", cwd=self.repo)

    def served(self, body: str) -> list[tuple[str, str]]:
        """Every raw URL in *body*: it names a ref and path the remote holds, with the bytes the writer's
        build put there (the same file in the work tree)."""
        links = RAW.findall(body)
        for ref, path in links:
            blob = subprocess.run(["git", "cat-file", "blob", f"{ref}:{path}"], cwd=self.bare, capture_output=True)
            assert blob.returncode == 0, f"{ref}:{path} is not in the remote"
            assert blob.stdout == (self.repo / path).read_bytes(), path
        return links


@pytest.fixture
def world(tmp_path) -> World:
    home = Path(os.environ["HOME"])  # a temporary folder (conftest): git's global config for this test
    bare = tmp_path / "remote.git"
    (home / ".gitconfig").write_text(f'[user]\n\tname = writer\n\temail = writer@example.com\n[init]\n\tdefaultBranch = main\n'
                                     f'[url "{bare.as_uri()}"]\n\tinsteadOf = {URL}\n', encoding="utf-8")
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    repo = tmp_path / "articles"
    git("clone", "-q", URL, str(repo), cwd=tmp_path)
    # `npx zenn init`: articles/ and books/, and a .gitignore without .remote; then qiita-cli's own `init`
    for folder in ("articles", "books"):
        (repo / folder).mkdir()
        (repo / folder / ".keep").write_text("", encoding="utf-8")
    (repo / ".gitignore").write_text("node_modules\n.DS_Store\n", encoding="utf-8")
    run("node", str(QIITA_CLI), "init", cwd=repo)
    assert (repo / ".github" / "workflows" / "publish.yml").is_file() and (repo / "qiita.config.json").is_file()
    notebook(repo / "plots" / "waves.ipynb", "正弦と余弦を描いて比べます。", ["np.sin(x)", "np.cos(x)"])
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "zenn init, qiita init, notebooks", cwd=repo)
    git("push", "-q", "-u", "origin", "main", cwd=repo)
    return World(tmp_path, bare, repo, tmp_path / "qiita-server.json")


def test_one_push_publishes_with_every_figure_and_the_id_survives(world):
    workflow = world.repo / ".github" / "workflows" / "publish.yml"
    before = workflow.read_bytes()
    init = pipeline("init", "plots", cwd=world.repo)
    assert "a push publishes" in init.stdout and "publish.yml" in init.stdout, init.stdout
    assert workflow.read_bytes() == before  # noticed, never edited
    pyproject = world.project / "pyproject.toml"
    assert 'image_base_url = "git"' in pyproject.read_text(encoding="utf-8")
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(
        "[tool.pipeline.article]\n", "[tool.pipeline.article]\nprivate = false\n"), encoding="utf-8")
    status = pipeline("status", cwd=world.repo).stdout
    assert "build: not built yet" in status and "next: python -m pipeline -C plots build" in status, status

    first = pipeline("build", cwd=world.project)
    warnings = [line for line in first.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == len(set(w.split("warning:", 1)[1] for w in warnings)), first.stderr  # each once
    advice = re.search(r"^next: (git add (.+) && git commit .+ && git push)  \(a push to main or master publishes",
                       first.stderr, re.M)
    assert advice, first.stderr
    assert sorted(advice[2].split()) == sorted(["../public/" + world.cli_file().name,
                                                "../articles/" + world.cli_file().name, "../images/" + world.cli_file().stem])
    text = world.cli_file().read_text(encoding="utf-8")
    assert "FIGURE-TO-UPLOAD:" not in text and "ignorePublish: false" in text and len(RAW.findall(text)) == 2
    assert run("node", str(ACTION), "check", str(world.repo), cwd=world.repo).returncode == 0
    status = pipeline("status", cwd=world.repo).stdout
    assert "build: up to date" in status and "figures: 2 in images/" in status and "2 not committed" in status, status

    world.push("an article")  # git add -A && git commit && git push
    done = world.action()
    [(name, item_id)] = done["posted"]
    assert name == world.cli_file().stem and done["updated"] == []
    body = world.items()[item_id]["body"]
    assert "FIGURE-TO-UPLOAD:" not in body and {ref for ref, _ in world.served(body)} == {"main"}
    for _, path in RAW.findall(body):  # the bytes the build made: build/figures' own
        name_in_build = re.sub(r"-[0-9a-f]{12}(\.png)$", r"\1", path.split("/", 2)[2])
        assert (world.project / "build" / "figures" / name_in_build).read_bytes() == (world.repo / path).read_bytes()

    # the workflow committed the id back: a build before the pull would fork from that commit
    git("fetch", "-q", cwd=world.repo)
    stale = pipeline("build", cwd=world.project, check=False)
    assert stale.returncode == 1 and "pull first" in stale.stderr and "Updated by qiita-cli" in stale.stderr, stale.stderr
    assert "id: null" in world.cli_file().read_text(encoding="utf-8")  # nothing was written
    status = pipeline("status", cwd=world.repo).stdout
    assert "pull first" in status and "next: git pull" in status, status

    git("pull", "-q", cwd=world.repo)
    pulled = world.cli_file().read_text(encoding="utf-8")
    assert f"id: {item_id}" in pulled
    pipeline("build", cwd=world.project)  # unchanged: the file stays exactly as qiita-cli wrote it
    assert world.cli_file().read_text(encoding="utf-8") == pulled
    assert git("status", "--porcelain", cwd=world.repo) == ""
    assert "next: nothing" in pipeline("status", cwd=world.project).stdout
    assert world.action() == {"posted": [], "updated": []}  # nothing for qiita-cli to send

    # an edit (new prose, one figure redrawn): the same article is updated, every figure still loads
    notebook(world.project / "waves.ipynb", "正弦と余弦に加えて、振幅を半分にした波も描きます。", ["np.sin(x)", "np.cos(x) / 2"])
    pipeline("build", cwd=world.project)
    edited = world.cli_file().read_text(encoding="utf-8")
    assert f"id: {item_id}" in edited and "振幅を半分" in edited
    world.push("edit")
    assert world.action() == {"posted": [], "updated": [[name, item_id]]}
    assert list(world.items()) == [item_id]  # no duplicate
    body = world.items()[item_id]["body"]
    refs = [ref for ref, _ in world.served(body)]
    assert "main" in refs and any(re.fullmatch(r"[0-9a-f]{40}", ref) for ref in refs), refs  # new: branch; kept: pinned
    git("pull", "-q", cwd=world.repo)
    pipeline("build", cwd=world.project)
    assert git("status", "--porcelain", cwd=world.repo) == ""


def test_a_figure_no_push_can_bring_holds_the_article_back(world):
    """Figures .gitignore excludes can never be served: the Qiita file says ignorePublish: true (so the
    workflow posts nothing with a placeholder) until they can be, then the writer's value comes back."""
    pipeline("init", "plots", cwd=world.repo)
    with open(world.repo / ".gitignore", "a", encoding="utf-8") as handle:
        handle.write("images/\n")
    build = pipeline("build", cwd=world.project)
    text = world.cli_file().read_text(encoding="utf-8")
    assert "FIGURE-TO-UPLOAD:" in text and "\nignorePublish: true\n" in text
    assert re.search(r"^warning: Qiita: \S+ has ignorePublish: true while 2 figures are FIGURE-TO-UPLOAD: "
                     r"placeholders.*your own value \(false\).*ignored by \.gitignore", build.stderr, re.M), build.stderr
    assert build.stderr.count("has ignorePublish: true while") == 1  # each warning once, not again in the summary
    world.push("held")
    assert world.action() == {"posted": [], "updated": []}  # qiita-cli skips it
    status = pipeline("status", cwd=world.project).stdout
    assert "ignorePublish true (held by the build" in status, status

    (world.repo / ".gitignore").write_text("node_modules\n.DS_Store\n", encoding="utf-8")
    again = pipeline("build", cwd=world.project)
    assert "has your own ignorePublish (false) again" in again.stderr, again.stderr
    text = world.cli_file().read_text(encoding="utf-8")
    assert "FIGURE-TO-UPLOAD:" not in text and "\nignorePublish: false\n" in text and "holds ignorePublish" not in text
    world.push("figures")
    [(_, item_id)] = world.action()["posted"]
    world.served(world.items()[item_id]["body"])


def test_a_zenn_refusal_publishes_qiita_and_the_site_and_a_book_needs_no_summary(world):
    pipeline("init", "plots", cwd=world.repo)
    long = "\n\n".join(f"段落 {i}: " + "長い説明の文章です。" * 90 for i in range(100))  # about 90,000 characters
    notebook(world.project / "waves.ipynb", "正弦と余弦を描いて比べます。\n\n" + long, ["np.sin(x)"])
    refused = pipeline("build", cwd=world.project, check=False)
    assert refused.returncode == 1, refused.stderr
    assert re.search(r"^error: not published on Zenn \(the other platforms were\): .*80,000", refused.stderr,
                     re.M | re.S), refused.stderr
    assert "段落 99" in world.cli_file().read_text(encoding="utf-8")
    assert "段落 99" in (world.project / "site" / "index.md").read_text(encoding="utf-8")
    assert not list((world.repo / "articles").glob("*.md"))
    assert f"git add ../public/{world.cli_file().name}" in refused.stderr  # what was published can be pushed

    pyproject = world.project / "pyproject.toml"  # what the refusal advises, without a summary
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace("[tool.pipeline.zenn]\n",
                                                                       '[tool.pipeline.zenn]\nformat = "book"\n'),
                         encoding="utf-8")
    pipeline("build", cwd=world.project)
    [config] = (world.repo / "books").glob("*/config.yaml")
    assert 'summary: "正弦と余弦を描いて比べます。"' in config.read_text(encoding="utf-8")
