"""Cases about storage and publication: corrupt outputs, records, caches, templates and
settings, and the paths a build may (not) write to or must leave alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .harness import Ctx, case, failing
from .project import read_text

# corrupt inputs -----------------------------------------------------------------

@case("corrupt", mode="rebuilt")
def corrupt_executed_garbage(ctx: Ctx):
    ctx.path("build/executed/01_fig.ipynb").write_text("not a notebook {{{", encoding="utf-8")
    ctx.expect_ok(ctx.cli("build"))
    ctx.expect(ctx.read("build/qiita/article.md") == read_text(ctx.base.root / "build/qiita/article.md"),
               "the repaired build's article differs from the last good one")


@case("corrupt", mode="rebuilt")
def corrupt_executed_non_utf8(ctx: Ctx):
    ctx.path("build/executed/01_fig.ipynb").write_bytes(b"\xff\xfe\x00{\x80garbage\xc3")
    ctx.expect_ok(ctx.cli("build"))


@case("corrupt")
def corrupt_executed_then_harvest(ctx: Ctx):
    """`harvest` alone cannot repair a garbage executed notebook: a clear error naming it."""
    ctx.path("build/executed/01_fig.ipynb").write_bytes(b"\xff\xfe garbage")
    run = ctx.cli("harvest")
    ctx.expect_error(run, "build/executed/01_fig.ipynb", "execute --force 01_fig")


@case("corrupt")
def corrupt_record_export(ctx: Ctx):
    ctx.damaged.append("build/records/01_fig.json")
    ctx.path("build/records/01_fig.json").write_text('{"name": "01_fig", "cells": [', encoding="utf-8")
    ctx.expect_error(ctx.cli("export"), "build/records/01_fig.json")


@case("corrupt")
def corrupt_record_non_utf8_export(ctx: Ctx):
    ctx.damaged.append("build/records/02_table.json")
    ctx.path("build/records/02_table.json").write_bytes(b"\x89\xff\xfe{}")
    ctx.expect_error(ctx.cli("export"), "build/records/02_table.json")


@case("corrupt")
def corrupt_record_wrong_shape_export(ctx: Ctx):
    """Valid JSON of the wrong shape (a list, then a record with a cell of the wrong type)."""
    ctx.damaged.append("build/records/*.json")
    ctx.path("build/records/01_fig.json").write_text("[1, 2, 3]", encoding="utf-8")
    ctx.expect_error(ctx.cli("export"), "build/records/01_fig.json")
    record = json.loads(read_text(ctx.base.root / "build/records/02_table.json"))
    record["cells"][1]["outputs"] = [{"kind": "image", "path": 7}]
    ctx.path("build/records/01_fig.json").write_text(read_text(ctx.base.root / "build/records/01_fig.json"),
                                                     encoding="utf-8")
    ctx.path("build/records/02_table.json").write_text(json.dumps(record), encoding="utf-8")
    ctx.expect_error(ctx.cli("export"), "build/records/02_table.json")


@case("corrupt")
def corrupt_deleted_figures_export(ctx: Ctx):
    ctx.damaged.append("build/figures/**")
    shutil.rmtree(ctx.path("build/figures"))
    ctx.expect_error(ctx.cli("export"), "01_fig-cell02-1.png", "harvest 01_fig")


@case("corrupt")
def corrupt_experiment_non_utf8(ctx: Ctx):
    ctx.path("experiments/03_x.py").write_bytes(b"# %%\nprint('caf\xe9')\n")
    ctx.expect_error(ctx.cli("build"), "experiments/03_x.py", "UTF-8")


@case("corrupt")
def corrupt_notebook_json(ctx: Ctx):
    ctx.path("experiments/03_nb.ipynb").write_text('{"cells": [', encoding="utf-8")
    ctx.expect_error(ctx.cli("build"), "experiments/03_nb.ipynb")


def _malformed(ctx: Ctx, code: str, needle: str) -> None:
    ctx.experiment("03_x", failing("Malformed", "from IPython.display import display", code))
    run = ctx.cli("build")
    ctx.expect_error(run, "03_x", "cell 3", needle)
    ctx.no_record("03_x")


@case("corrupt")
def corrupt_png_not_base64(ctx: Ctx):
    _malformed(ctx, 'display({"image/png": "this is not base64!!", "text/plain": "<Figure>"}, raw=True)', "base64")


@case("corrupt")
def corrupt_glue_without_name(ctx: Ctx):
    _malformed(ctx, 'display({"application/vnd.pipeline.glue+json": {"value": 1}}, raw=True)', "name")


@case("corrupt")
def corrupt_model_payload(ctx: Ctx):
    _malformed(ctx, 'display({"application/vnd.pipeline.model+json": {"id": "x"}}, raw=True)', "model")


@case("corrupt", mode="rebuilt")
def corrupt_cache_entry(ctx: Ctx):
    """A garbage cache entry is reported and the experiment executed again."""
    entry = next(ctx.path("build/cache/01_fig").glob("*.ipynb"))
    entry.write_text('{"cells": 5, "metadata": ', encoding="utf-8")
    run = ctx.cli("build")
    ctx.expect_ok(run)
    ctx.expect("01_fig: executing" in run.stderr, "the experiment with the corrupt cache entry was not executed again")
    ctx.expect("unreadable" in run.stderr, "the corrupt cache entry was not reported")


@case("corrupt", mode="rebuilt")
def corrupt_failure_report(ctx: Ctx):
    """A garbage failure report next to a good notebook: harvest ignores it, build removes it."""
    report = ctx.path("build/executed/02_table.failure.json")
    report.write_bytes(b'{"source": 1, \xff')
    ctx.expect_ok(ctx.cli("harvest"))
    ctx.expect_ok(ctx.cli("build"))
    ctx.expect(not report.exists(), "the corrupt failure report was kept")


@case("corrupt")
def corrupt_template(ctx: Ctx):
    path = ctx.path("templates/article.md.j2")
    path.write_text(path.read_text(encoding="utf-8") + "\n{% if %}\n", encoding="utf-8")
    ctx.expect_error(ctx.cli("build"), "templates/article.md.j2, line")


@case("corrupt")
def corrupt_toml(ctx: Ctx):
    ctx.path("pyproject.toml").write_text("[tool.pipeline\ncell_timeout = = 3\n", encoding="utf-8")
    ctx.expect_error(ctx.cli("build"), "pyproject.toml", "TOML")


@case("corrupt")
def corrupt_unknown_config_key(ctx: Ctx):
    ctx.configure(top={"cell_timout": 5})
    ctx.expect_error(ctx.cli("build"), "cell_timout", "cell_timeout")


# paths ---------------------------------------------------------------------------

@case("paths")
def path_empty_experiments(ctx: Ctx):
    for path in ctx.path("experiments").iterdir():
        path.unlink()
    ctx.expect_error(ctx.cli("build"), "experiments: no experiments")


@case("paths")
def path_missing_experiments(ctx: Ctx):
    shutil.rmtree(ctx.path("experiments"))
    ctx.expect_error(ctx.cli("build"), "experiments: experiments folder not found")


@case("paths")
def path_export_dir_outside(ctx: Ctx):
    outside = ctx.work / "outside"
    ctx.configure(article={"export_dir": "../outside"})
    ctx.expect_error(ctx.cli("build"), "export_dir")
    ctx.expect(not outside.exists(), "the build wrote outside the project")


@case("paths")
def path_site_symlink_outside(ctx: Ctx):
    """site/ replaced by a symlink to a folder outside the project."""
    outside = ctx.work / "outside-site"
    outside.mkdir()
    ctx.damaged.append("site/**")
    shutil.rmtree(ctx.path("site"))
    ctx.path("site").symlink_to(outside, target_is_directory=True)
    run = ctx.cli("build")
    ctx.expect_error(run, "site")
    ctx.expect(not any(outside.iterdir()), f"the build wrote outside the project: {sorted(outside.iterdir())}")


def _user_folder(ctx: Ctx, files: dict[str, str]) -> dict[Path, bytes]:
    folder = ctx.path("mydocs")
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _user_files_untouched(ctx: Ctx, before: dict[Path, bytes], allowed: frozenset | set = frozenset()) -> None:
    after = {p: p.read_bytes() for p in ctx.path("mydocs").rglob("*") if p.is_file()}
    changed = sorted(str(p.relative_to(ctx.root)) for p, data in before.items() if after.get(p) != data)
    ctx.expect(not changed, f"the user's files changed or vanished: {changed}")
    extra = sorted(str(p.relative_to(ctx.root)) for p in after if p not in before)
    missing = sorted(set(allowed) - set(extra))
    ctx.expect(not missing, f"the build did not write {missing}")
    extra = [p for p in extra if p not in allowed]
    ctx.expect(not extra, f"the build wrote into the user's folder: {extra}")


@case("paths")
def path_export_dir_user_files(ctx: Ctx):
    """export_dir names a folder of the user's (a qiita-cli folder, say) holding an article.md and a
    public/other.md of their own: the build adds public/faults.md only and leaves the rest alone."""
    before = _user_folder(ctx, {"article.md": "# my own notes\n", "notes.txt": "keep me\n",
                                "public/other.md": "---\ntitle: other\n---\nmine\n"})
    ctx.configure(article={"export_dir": "mydocs"})
    ctx.expect_ok(ctx.cli("build"))
    _user_files_untouched(ctx, before, allowed={"mydocs/public/faults.md"})


@case("paths")
def path_export_dir_user_folder(ctx: Ctx):
    """export_dir names an existing folder of the user's (a dotfile ending in .tmp, a subfolder):
    the build writes its own public/faults.md only, the user's files untouched."""
    before = _user_folder(ctx, {"notes.txt": "keep me\n", ".editor.tmp": "my editor's state\n",
                                "drafts/.idea.old": "an old idea\n", "drafts/plan.md": "plan\n"})
    ctx.configure(article={"export_dir": "mydocs"})
    ctx.expect_ok(ctx.cli("build"))
    _user_files_untouched(ctx, before, allowed={"mydocs/public/faults.md"})


@case("paths")
def path_export_dir_same_name(ctx: Ctx):
    """The qiita-cli folder already holds a public/faults.md the pipeline did not write: refused by
    name, the file untouched."""
    before = _user_folder(ctx, {"public/faults.md": "---\ntitle: mine\n---\nmy own article\n"})
    ctx.configure(article={"export_dir": "mydocs"})
    ctx.expect_error(ctx.cli("build"), "public/faults.md", "not written by this pipeline")
    _user_files_untouched(ctx, before)


@case("paths")
def path_user_dotfiles_in_site(ctx: Ctx):
    """The MkDocs docs_dir (site/) holds the user's own files besides the pipeline's, some of them
    dotfiles whose names end in .tmp/.old/.new (editor state): a build leaves them alone."""
    mine = {"site/extra/.notes.tmp": "editor state\n", "site/.theme.old": "old theme notes\n",
            "site/extra/page.md": "# My page\n", "site/javascripts/.custom.js.new": "// work in progress\n"}
    for relative, text in mine.items():
        ctx.path(relative).parent.mkdir(parents=True, exist_ok=True)
        ctx.path(relative).write_text(text, encoding="utf-8")
    ctx.user_files |= set(mine)
    ctx.expect_ok(ctx.cli("build"))
    gone = [relative for relative, text in mine.items() if ctx.read(relative) != text]
    ctx.expect(not gone, f"the build deleted or changed the user's files in site/: {gone}")


@case("paths")
def path_foreign_site_index(ctx: Ctx):
    """The site folder holds an index.md the pipeline did not write."""
    ctx.path("docs").mkdir()
    mine = "# The user's own home page\n"
    ctx.path("docs/index.md").write_text(mine, encoding="utf-8")
    ctx.configure(top={"site_dir": "docs"})
    ctx.expect_error(ctx.cli("build"), "index.md")
    ctx.expect(ctx.read("docs/index.md") == mine, "the user's docs/index.md was changed")


@case("paths", mode="rebuilt")
def path_deleted_experiment(ctx: Ctx):
    ctx.path("experiments/02_table.py").unlink()
    ctx.expect_ok(ctx.cli("build"))
    for leftover in ("build/records/02_table.json", "build/executed/02_table.ipynb", "build/cache/02_table",
                     "build/figures/02_table"):
        ctx.expect(not ctx.path(leftover).exists(), f"{leftover} not pruned")
    ctx.expect("Table chapter" not in ctx.read("build/qiita/article.md"), "the deleted chapter is still in the article")


@case("paths")
def path_stale_leftovers(ctx: Ctx):
    """Staging leftovers of a killed command are cleaned by the next one. Their names are the ones
    the pipeline makes: ".NAME.<8 random characters>.new|.tmp" (mkstemp/mkdtemp), ".NAME.<pid>.old"."""
    leftovers = ["build/records/.01_fig.json.k3j9x1ab.new", "build/qiita/.article.md.a1b2c3d4.new",
                 "site/.index.md.q9w8e7r6.tmp", "build/cache/01_fig/.abc.ipynb.x1y2z3w4.tmp",
                 "build/.figures.4242.old/01_fig/x.png", "site/.figures.zz11yy22.new/01_fig/y.png"]
    for relative in leftovers:
        ctx.path(relative).parent.mkdir(parents=True, exist_ok=True)
        ctx.path(relative).write_text("stale", encoding="utf-8")
    ctx.expect_ok(ctx.cli("build"))
    for relative in leftovers:
        top = relative.split("/")
        first = next(i for i, part in enumerate(top) if part.startswith("."))
        ctx.expect(not ctx.path("/".join(top[: first + 1])).exists(), f"{relative} not cleaned")


@case("paths")
def path_unknown_experiment_name(ctx: Ctx):
    ctx.expect_error(ctx.cli("execute", "no_such_experiment"), "no_such_experiment", "01_fig")
