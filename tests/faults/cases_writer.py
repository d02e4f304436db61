"""Cases about the writer's repository (issue 24): symbolic links under the folders a build or
`init` writes, URL settings and remote URLs that would break or hijack figure links, hostile text
in notebooks where it becomes a title or a setting, malformed notebooks, `build --all` after one
project fails, `init --force` beside another tool's tables, and slugs the user never wrote.

Every case is also judged by the harness's "written outside" measure: the sha256 of every file
outside the project before the first command and at the end."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from helpers import raw_notebook

from pipeline.config import tomllib

from .harness import Ctx, Run, case

# helpers -----------------------------------------------------------------------------

#: a raw C0 or C1 control character (ESC, CSI, ...) where a terminal would read it
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _zenn_export(ctx: Ctx, export_dir: str) -> None:
    """The Zenn export into *export_dir* (the battery's config has no [tool.pipeline.zenn] table)."""
    ctx.configure()
    with open(ctx.path("pyproject.toml"), "a", encoding="utf-8") as handle:
        handle.write(f'\n[tool.pipeline.zenn]\nexport_dir = "{export_dir}"\n')


def _git(ctx: Ctx, *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd or ctx.root,
                          capture_output=True, text=True, env={**ctx.env, "GIT_CONFIG_NOSYSTEM": "1"})
    ctx.expect(done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _outside_folder(ctx: Ctx, name: str = "outside") -> Path:
    """A folder of the writer's outside the project, holding a file of theirs."""
    folder = ctx.work / name
    folder.mkdir()
    (folder / "mine.md").write_text("the writer's own file\n", encoding="utf-8")
    return folder


def _no_raw_controls(ctx: Ctx, run: Run) -> None:
    found = RAW_CONTROL.search(run.output)
    ctx.expect(found is None, f"`{' '.join(run.args)}` sent a raw control character to the terminal: "
                              f"{ascii(run.output[max(0, found.start() - 30):found.start() + 30]) if found else ''}")


def _variants(helper, variants: dict[str, tuple[str, tuple]]) -> None:
    """Register one case per variant: name -> (docstring, the arguments *helper* takes after ctx)."""
    for name, (doc, args) in variants.items():
        def run(ctx: Ctx, args: tuple = args) -> None:
            helper(ctx, *args)

        run.__name__, run.__doc__ = name, doc
        case("writer")(run)


# symbolic links under the folders a command writes -------------------------------------

@case("writer")
def link_public_outside(ctx: Ctx):
    """The qiita-cli folder's public/ is a symbolic link to a folder outside the project."""
    outside = _outside_folder(ctx)
    ctx.path("mydocs").mkdir()
    ctx.path("mydocs/public").symlink_to(outside, target_is_directory=True)
    ctx.configure(article={"export_dir": "mydocs"})
    ctx.expect_error(ctx.cli("build"), f"mydocs/public: a symbolic link to {outside}, which leads outside the project",
                     "Replace each link with a real folder")


@case("writer")
def link_zenn_articles_outside(ctx: Ctx):
    """The zenn-cli root's articles/ is a symbolic link to a folder outside the project."""
    outside = _outside_folder(ctx)
    ctx.path("myzenn").mkdir()
    ctx.path("myzenn/articles").symlink_to(outside, target_is_directory=True)
    _zenn_export(ctx, "myzenn")
    ctx.expect_error(ctx.cli("build"), "myzenn/articles: a symbolic link to", "leads outside the project")


@case("writer")
def link_images_into_git(ctx: Ctx):
    """The zenn-cli root's images/ is a symbolic link to the repository's own .git."""
    _git(ctx, "init", "-q")
    ctx.path("myzenn").mkdir()
    ctx.path("myzenn/images").symlink_to("../.git", target_is_directory=True)
    _zenn_export(ctx, "myzenn")
    before = _tree_hashes(ctx.path(".git"))
    ctx.expect_error(ctx.cli("build"), "myzenn/images: a symbolic link to ../.git, which leads into a .git folder")
    ctx.expect(_tree_hashes(ctx.path(".git")) == before, "the build wrote into .git")


@case("writer")
def link_build_cache_outside(ctx: Ctx):
    """A folder deep in build/ (an experiment's cache entries) is a symbolic link out of the project."""
    outside = ctx.work / "outside-cache"
    shutil.copytree(ctx.path("build/cache/01_fig"), outside)
    shutil.rmtree(ctx.path("build/cache/01_fig"))
    ctx.path("build/cache/01_fig").symlink_to(outside, target_is_directory=True)
    ctx.damaged.append("build/cache/**")
    ctx.expect_error(ctx.cli("build", "--force"), "build/cache/01_fig: a symbolic link to", "outside the project")


def _init_through_link(ctx: Ctx, name: str) -> None:
    outside = ctx.work / f"outside-{name.lstrip('.')}"
    outside.write_text("# the writer's own file, elsewhere\n", encoding="utf-8")
    fresh = ctx.path("fresh")
    fresh.mkdir()
    (fresh / "01_x.py").write_text("# %% [markdown]\n# # A fresh article\n\n# %%\nx = 1\n", encoding="utf-8")
    (fresh / name).symlink_to(outside)
    ctx.expect_error(ctx.cli("init", "fresh"), f"{name}: a symbolic link to {outside}", "outside the project folder")
    ctx.expect(sorted(p.name for p in fresh.iterdir()) == sorted(["01_x.py", name]), "init wrote files anyway")


_variants(_init_through_link, {
    "init_link_pyproject_outside": ("`init` where pyproject.toml is a symbolic link to a file outside the folder.",
                                    ("pyproject.toml",)),
    "init_link_gitignore_outside": ("`init` where .gitignore is a symbolic link to a file outside the folder.",
                                    (".gitignore",)),
})


# URL settings and remote URLs ------------------------------------------------------------

def _template(ctx: Ctx, template: str) -> None:
    ctx.configure(article={"image_base_url": "git", "image_url_template": template})
    run = ctx.cli("build")
    ctx.expect_error(run, "tool.pipeline.article.image_url_template: ", "https://")
    ctx.expect("<script>" not in ctx.read("build/qiita/article.md"), "the template reached the article")


_variants(_template, {name: (f"image_url_template = {template!r}: refused by name", (template,)) for name, template in {
    "url_template_javascript": "javascript:alert(document.cookie)//{commit}/{path}",
    "url_template_data_svg": "data:image/svg+xml,<svg onload=alert(1)>{commit}{path}",
    "url_template_newline_script": "https://raw.example.com/{commit}/{path}\n<script>alert(1)</script>",
    "url_template_second_image": 'https://raw.example.com/{commit}/{path}) ![x](https://evil.example/x.png "t',
}.items()})


@case("writer")
def url_remote_host_paren(ctx: Ctx):
    """A remote whose host holds ")" (with a template that uses {host}): refused, not a broken link."""
    _git(ctx, "init", "-q")
    _git(ctx, "remote", "add", "origin", "https://git)ea.example.org/team/articles.git")
    ctx.configure(article={"image_base_url": "git",
                           "image_url_template": "https://{host}/{owner}/{repo}/-/raw/{commit}/{path}"})
    ctx.expect_error(ctx.cli("build"), "would be unsafe", "')'", "image_url_template")


@case("writer", mode="rebuilt")
def url_remote_encoded_once(ctx: Ctx):
    """A remote URL whose owner is already percent-encoded (ali%20ce): the pushed figures link to
    raw URLs with %20, never %2520."""
    bare = ctx.work / "remote.git"
    ctx.outside_ok |= {"remote.git/*"}  # the case's own push writes the remote
    url = "https://github.com/ali%20ce/articles.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, capture_output=True)
    _git(ctx, "init", "-q", "-b", "main")
    _git(ctx, "remote", "add", "origin", url)
    _git(ctx, "config", f"url.{bare.as_uri()}.insteadOf", url)
    ctx.configure(article={"image_base_url": "git"})
    ctx.expect_ok(ctx.cli("build"))
    _git(ctx, "add", "-A")
    _git(ctx, "commit", "-q", "-m", "figures")
    _git(ctx, "push", "-q", "-u", "origin", "main")
    ctx.expect_ok(ctx.cli("build"))
    text = ctx.read("build/qiita/public/faults.md")
    links = re.findall(r"https://raw\.githubusercontent\.com/[^)\s\"]+", text)
    ctx.expect(links and all(link.startswith("https://raw.githubusercontent.com/ali%20ce/articles/") for link in links),
               f"figure links not pinned under ali%20ce: {links or text[-300:]}")


# hostile text in notebooks ---------------------------------------------------------------

def _hostile_heading(ctx: Ctx, heading: str) -> None:
    """`init` on a notebook titled *heading*, then `config` and `build` of that project: what init
    wrote reads back (tomllib, yaml) to what it said, and no command prints a raw control."""
    fresh = ctx.path("fresh")
    raw_notebook(fresh / "01_x.ipynb", [{"cell_type": "markdown", "source": f"# {heading}\n\ntext"},
                                     {"cell_type": "code", "source": "print(1)"}])
    runs = [ctx.cli("init", "fresh")]
    ctx.expect_ok(runs[0])
    try:
        table = tomllib.loads((fresh / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pipeline"]
        site = yaml.load((fresh / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_SiteLoader)
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        ctx.expect(False, f"what init wrote does not read back: {type(exc).__name__}: {exc}")
        return
    title = table["article"]["title"]
    ctx.expect(site["site_name"] == title and not RAW_CONTROL.search(title) and f"  title: {title}\n" in runs[0].stdout,
               f"init said, wrote and read back different titles: {ascii(title)}, {ascii(site['site_name'])}")
    runs += [ctx.cli("-C", "fresh", "config"), ctx.cli("-C", "fresh", "build")]
    for run in runs:
        ctx.expect_ok(run)
        _no_raw_controls(ctx, run)
    for page in ("build/qiita/article.md", "site/index.md"):  # the chapter's heading is the same H1, cleaned
        text = (fresh / page).read_text(encoding="utf-8") if (fresh / page).is_file() else ""
        ctx.expect(text and not RAW_CONTROL.search(text), f"fresh/{page} is missing or holds raw control characters")
    zenn = next(fresh.glob("build/zenn/articles/*.md"), None)
    ctx.expect(zenn is not None and f"title: {json.dumps(title, ensure_ascii=False)}" in zenn.read_text("utf-8"),
               "the Zenn article does not carry the title init chose")


class _SiteLoader(yaml.SafeLoader):
    """mkdocs.yml as data (its !!python/object/apply tags as plain values)."""


_SiteLoader.add_multi_constructor("tag:yaml.org,2002:python/object/apply:",
                                  lambda loader, suffix, node: loader.construct_mapping(node, deep=True))


_variants(_hostile_heading, {
    "heading_c0_escape_del": ("A first heading with C0 controls, an ANSI colour (ESC) and DEL.",
                              ("ctrl \x01\x1b[31m red \x7f",)),
    "heading_c1_nonchar": ("A first heading with C1 controls (NEL, CSI) and a noncharacter (U+FFFE).",
                           ("c1 \x85\x9b31m x \ufffe y",)),
})


MALFORMED = {
    "surrogate": [{"cell_type": "markdown", "source": "# Surrogate"}, {"cell_type": "code", "source": "print('\udc80')"}],
    "numbers": [{"cell_type": "markdown", "source": ["# Numbers\n", 3]}, {"cell_type": "code", "source": ["x\n", 2]}],
}


def _malformed(ctx: Ctx, kind: str, cell: int) -> None:
    """A malformed notebook: `build` of the project holding it, `init` (also with --title) and
    `config` of a new project around it: each an error naming the file, the cell and the fix."""
    raw_notebook(ctx.path("experiments/03_bad.ipynb"), MALFORMED[kind])
    ctx.expect_error(ctx.cli("build"), f"experiments/03_bad.ipynb, cell {cell}")
    ctx.no_record("03_bad")
    fresh = ctx.path("fresh")
    raw_notebook(fresh / "bad.ipynb", MALFORMED[kind])
    ctx.expect_error(ctx.cli("init", "fresh"), f"bad.ipynb, cell {cell}")
    ctx.expect_error(ctx.cli("init", "fresh", "--title", "Given"), f"bad.ipynb, cell {cell}")
    (fresh / "pyproject.toml").write_text('[tool.pipeline]\nexperiments_dir = "."\n', encoding="utf-8")
    ctx.expect_error(ctx.cli("-C", "fresh", "config"), f"bad.ipynb, cell {cell}")


_variants(_malformed, {
    "notebook_lone_surrogate": ("A lone surrogate in a code cell's source.", ("surrogate", 2)),
    "notebook_numbers_in_source": ("Numbers in the source lists of the cells.", ("numbers", 1)),
})


@case("writer")
def build_all_after_a_malformed_project(ctx: Ctx):
    """`build --all` over the battery's project and one holding a malformed notebook: the failure is
    that project's, shown whole; the other is built; exit 1."""
    other = ctx.path("p2")
    raw_notebook(other / "bad.ipynb", MALFORMED["numbers"])
    ctx.expect_ok(ctx.cli("init", "p2", "--title", "Second", "--tags", "Python", "--slug", "second-article"))
    run = ctx.cli("build", "--all")
    ctx.expect_rc(run, 1)
    line = next((x for x in run.stderr.splitlines() if x.startswith("  p2: FAILED")), "")
    ctx.expect("bad.ipynb, cell 1" in line and "fix that cell" in line, f"the summary line does not say why: {line!r}")
    ctx.expect("built 2 articles: 1 ok, 1 failed" in run.stderr and "  .: ok" in run.stderr,
               f"the other project was not built: {run.stderr[-400:]}")


# init --force and slugs ------------------------------------------------------------------

@case("writer")
def init_force_keeps_other_tables(ctx: Ctx):
    """`init --force` beside another tool's table and its comments: only [tool.pipeline...] changes."""
    tail = "\n# Black: keep at 99 because of the long URLs\n# (the CI checks it)\n[tool.black]\nline-length = 99\n\n\n"
    head = '[project]\nname = "faults"  # mine\n\n'
    path = ctx.path("pyproject.toml")
    path.write_text(head + path.read_text(encoding="utf-8") + tail, encoding="utf-8")
    ctx.expect_ok(ctx.cli("init", "--force", "--title", "Fault battery", "--tags", "Python", "--slug", "faults-battery"))
    text = path.read_text(encoding="utf-8")
    ctx.expect(text.startswith(head) and text.endswith(tail), f"other bytes changed: {text!r}")
    ctx.expect(tomllib.loads(text)["tool"]["pipeline"]["article"]["slug"] == "faults-battery", "tables not replaced")


@case("writer")
def slug_short_derived(ctx: Ctx):
    """article.slug = "ab" with no zenn.slug: the derived Zenn slug is valid, and the build goes on."""
    ctx.configure(article={"slug": "ab"})
    ctx.expect_ok(ctx.cli("build"))
    names = [p.stem for p in ctx.path("build/zenn/articles").glob("ab*.md")]
    ctx.expect(len(names) == 1 and re.fullmatch(r"[0-9a-z_-]{12,50}", names[0]), f"Zenn articles: {names}")


def _foreign_slug(ctx: Ctx, slug: str) -> None:
    """article.slug *slug* (not ASCII): refused, naming the setting and Qiita's rule, never a slug of
    a hash the user never wrote."""
    ctx.configure(article={"slug": slug})
    run = ctx.cli("build")
    ctx.expect_error(run, "tool.pipeline.article.slug: ", "Qiita")
    ctx.expect(not re.search(r"'[0-9a-f]{8}'", run.stderr), "the message names a slug the user never wrote")


_variants(_foreign_slug, {"slug_fullwidth": ("article.slug in full-width letters.", ("ａｂｃ",)),
                          "slug_japanese": ("article.slug in Japanese.", ("日本語",))})


@case("writer")
def zenn_title_derived_too_long(ctx: Ctx):
    """No title set, and the first notebook's H1 is longer than Zenn's 70 characters: the Zenn export is
    refused, naming the setting that fixes the derived title, and keeps its last good article; Qiita
    (which takes the title) and the site are published all the same (issue 25)."""
    zenn = _tree_hashes(ctx.path("build/zenn"))
    ctx.config["article"].pop("title")
    ctx.configure()
    ctx.experiment("00_long", f"# %% [markdown]\n# # {'とても長い題名の実験ノート' * 7}\n\n# %%\nx = 1\n")
    ctx.expect_error(ctx.cli("build"), "not published on Zenn",
                     "title is 91 characters; Zenn allows 70 (set tool.pipeline.article.title)")
    ctx.damaged += ["build/qiita/article.md", "build/qiita/public/*.md", "site/index.md"]  # published, by design
    ctx.expect(_tree_hashes(ctx.path("build/zenn")) == zenn, "the Zenn export changed although it was refused")
    ctx.expect("とても長い題名の実験ノート" * 7 in ctx.read("build/qiita/public/faults.md"),
               "the Qiita article was not published with the new chapter")
