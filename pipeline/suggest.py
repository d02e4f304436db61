"""What ``python -m pipeline init`` suggests from the author's notebooks (read, never changed).

- ``first_heading``: the article's title, the first H1 of the experiments in order;
- ``suggest_tags``: 1 to 5 Qiita tags from the packages the code cells import;
- ``suggest_slug``: a slug valid as Qiita's file name and on Zenn;
- ``cli_folders``: the writer's qiita-cli folder and zenn-cli root near the project, if any;
- ``qiita_workflows`` / ``publish_workflow``: qiita-cli's publish workflow in the repository (a push
  publishes), read, never edited.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from pathlib import Path

from pipeline.experiments import percent_script, read_notebook
from pipeline.markdown.platforms import QIITA, ZENN
from pipeline.markdown.scanner import headings
from pipeline.text import clean_text, readable_name

#: top-level module -> the tag as Qiita spells it, most telling first (the first ones win a slot)
QIITA_TAGS = {
    "torch": "PyTorch", "torchvision": "PyTorch", "torchaudio": "PyTorch", "lightning": "PyTorch",
    "pytorch_lightning": "PyTorch", "tensorflow": "TensorFlow", "keras": "Keras", "jax": "JAX", "flax": "JAX",
    "transformers": "transformers", "diffusers": "diffusers", "sentence_transformers": "transformers",
    "sklearn": "scikit-learn", "lightgbm": "LightGBM", "xgboost": "XGBoost", "catboost": "CatBoost",
    "optuna": "Optuna", "statsmodels": "statsmodels", "cv2": "OpenCV", "spacy": "spaCy", "gensim": "gensim",
    "polars": "polars", "pandas": "pandas", "numpy": "NumPy", "scipy": "SciPy", "seaborn": "seaborn",
    "plotly": "plotly", "matplotlib": "matplotlib",
}
#: packages that make an article a machine-learning one (tagged 機械学習)
ML_PACKAGES = frozenset({"torch", "torchvision", "torchaudio", "lightning", "pytorch_lightning", "tensorflow",
                         "keras", "jax", "flax", "transformers", "diffusers", "sentence_transformers", "sklearn",
                         "lightgbm", "xgboost", "catboost", "optuna"})
ML_TAG = "機械学習"


def experiment_files(folder: Path) -> list[Path]:
    """The notebooks and percent scripts directly in *folder*, by name, as ``discover`` lists them
    (names starting with "." or "_" are not experiments; a .py file needs a ``# %%`` cell marker)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or not path.is_file():
            continue
        if path.suffix == ".ipynb" or (path.suffix == ".py" and percent_script(path)):
            found.append(path)
    return found


def text_of(path: Path) -> str:
    """The file's UTF-8 text, empty when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def read_cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of each cell. A notebook is read as the build reads it, so a malformed
    one is the same error, naming the file and cell (``experiments.read_notebook``); a script
    jupytext cannot read has none (init only suggests values)."""
    if path.suffix == ".ipynb":
        shown = os.path.relpath(path) if path.is_absolute() else str(path)
        return [(c.cell_type, c.source) for c in read_notebook(text_of(path), shown).cells]
    text = text_of(path)
    import jupytext

    from pipeline.gallery import is_gallery, read_gallery

    try:
        cells = read_gallery(path).cells if is_gallery(text) else jupytext.reads(text, fmt="py:percent").cells
        return [(c.cell_type, c.source) for c in cells]
    except Exception:  # jupytext raises many types for malformed headers; a suggestion is not worth a failure
        return []


def first_heading(paths: list[Path]) -> str | None:
    """The first H1 of the experiments in order (the first one that has an H1), as plain text:
    emphasis, code marks, links and images reduced to their text."""
    for path in paths:
        for kind, source in read_cells(path):
            if kind == "markdown":
                for _, level, text in headings(source):
                    if level == 1 and plain_text(text):
                        return plain_text(text)
    return None


def title_from(experiments: Path, order: tuple[str, ...] = (), folder: Path | None = None) -> str | None:
    """The article's title when the config sets none, as ``init`` titles it (``suggest_title``), the
    experiments in experiment order (those named in *order* first, the rest by name): their first H1
    if Qiita takes it as a title, else the readable name of the first one or of *folder*."""
    files = experiment_files(experiments)
    files.sort(key=lambda f: order.index(f.stem) if f.stem in order else len(order))  # stable: by name after
    heading = first_heading(files)
    if heading and not QIITA.title_problems(heading):
        return heading
    return suggest_title(files[:1], folder or experiments, heading=False) or None


def plain_text(markdown: str) -> str:
    """Inline Markdown as the reader sees it: ``**Bold** [link](url) `code` <b>x</b>`` -> "Bold link code x"."""
    text = re.sub(r"\s*\{[#.][^}]*\}\s*$", "", markdown)  # attr_list's {#id .class}
    text = re.sub(r"!?\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])?", r"\1", text)  # links and images keep their text
    text = re.sub(r"<[^>\n]+>", "", text)  # inline HTML tags
    text = re.sub(r"(`+)(.+?)\1", r"\2", text)
    text = re.sub(r"(\*{1,3}|~~)(\S(?:.*?\S)?)\1", r"\2", text)
    text = re.sub(r"(?<!\w)(_{1,3})(\S(?:.*?\S)?)\1(?!\w)", r"\2", text)  # snake_case stays
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)  # backslash escapes
    return clean_text(text)  # no control character, lone surrogate or noncharacter: it becomes a title


def imported_packages(paths: list[Path]) -> list[str]:
    """Top-level packages the code cells import, in order of first import (magics and shell lines
    are left out; a cell Python cannot parse is read line by line)."""
    found: dict[str, None] = {}
    for path in paths:
        for kind, source in read_cells(path):
            if kind == "code":
                found.update(dict.fromkeys(_imports(source)))
    return list(found)


_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import\b|import\s+([\w.]+(?:\s*,\s*[\w.]+)*))", re.M)


def _imports(source: str) -> list[str]:
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if lines[0].split()[0][2:] not in ("time", "timeit", "capture", "prun", "python", "python3"):
            return []  # %%bash, %%html, ...: not Python
        lines = lines[1:]
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
    names: list[str] = []
    try:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
    except (SyntaxError, ValueError):  # `x = !ls`, a typo: the import lines still say what is used
        for match in _IMPORT_LINE.finditer(code):
            names += [match.group(1)] if match.group(1) else [n.strip() for n in match.group(2).split(",")]
    return [name.split(".")[0] for name in names]


def suggest_tags(paths: list[Path]) -> tuple[str, ...]:
    """1 to 5 Qiita tags: Python, then the imported packages Qiita has tags for (the most telling
    first, see ``QIITA_TAGS``), then 機械学習 when a machine-learning package is used."""
    packages = imported_packages(paths)
    rank = {tag: i for i, tag in enumerate(dict.fromkeys(QIITA_TAGS.values()))}
    found = sorted({QIITA_TAGS[p] for p in packages if p in QIITA_TAGS}, key=rank.__getitem__)
    ml = any(p in ML_PACKAGES for p in packages)
    tags = ("Python", *found[: QIITA.max_tags - 1 - ml], *([ML_TAG] if ml else []))
    assert not QIITA.tag_problems(tags), tags
    return tags


def suggest_title(paths: list[Path], folder: Path, heading: bool = True) -> str:
    """The article's title: the first H1 of the experiments (``first_heading``; not with *heading*
    False), else the readable name of the first experiment, else of the folder (as chapters without
    an H1 are titled)."""
    names = [p.name[: -len(p.suffix)] for p in paths[:1]] + [folder.resolve().name]
    return (heading and first_heading(paths)) or next((t for t in map(readable_name, names) if t), "Experiments")


def suggest_slug(title: str, folder: Path, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A slug valid as Qiita's file name and on Zenn (12-50 of a-z, 0-9, '-', '_') that is not in
    *taken*: an ASCII title's words in kebab-case, else the folder's name; padded with a hash of the
    title when short; "-2", "-3", ... added when taken."""
    base = _kebab(title) if title.isascii() else ""
    base = base or _kebab(folder.resolve().name) or "article"
    if len(base) > 50:
        base = base[:51].rsplit("-", 1)[0] if "-" in base[:51] else base[:50]
    digest = hashlib.sha1(title.encode("utf-8", "surrogatepass")).hexdigest()
    while len(base) < 12:
        base = f"{base}-{digest[: max(4, 11 - len(base))]}"
    slug, number = base, 1
    while slug in taken:
        number += 1
        slug = f"{base[:49 - len(str(number))].rstrip('-')}-{number}"
    assert not ZENN.slug_problems(slug), slug
    return slug


def slugs_in_use(folder: Path, qiita: Path | None, zenn: Path | None) -> set[str]:
    """The slugs other articles use: every other project's in the git work tree holding *folder*
    (``article.slug`` and ``zenn.slug``), and the articles already in the qiita-cli folder and
    zenn-cli root (files this project wrote excepted)."""
    from pipeline.config import tomllib
    from pipeline.layout import git_work_tree, owner
    from pipeline.workspace import find_projects

    folder, taken = folder.resolve(), set()
    tree = git_work_tree(folder)
    for project in find_projects(tree) if tree else []:
        if project != folder:
            try:
                table = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pipeline"]
                taken |= {s for part in ("article", "zenn") if isinstance(s := table.get(part, {}).get("slug"), str)}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
    places = ([qiita / "public"] if qiita else []) + ([zenn / "articles", zenn / "books"] if zenn else [])
    for place in places:
        for item in place.iterdir() if place.is_dir() else []:
            if owner(item) != folder and (item.suffix == ".md" or item.is_dir()):
                taken.add(item.name.removesuffix(".md"))
    return taken


def _kebab(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _is_qiita_cli(folder: Path) -> bool:
    return (folder / "qiita.config.json").is_file()


def _is_zenn_cli(folder: Path) -> bool:
    package = text_of(folder / "package.json")
    return '"zenn-cli"' in package or ((folder / "articles").is_dir() and (folder / "books").is_dir())


def cli_folders(project: Path) -> tuple[Path | None, Path | None]:
    """The nearest qiita-cli folder (it holds qiita.config.json, as ``npx qiita init`` makes it) and
    zenn-cli root (package.json naming zenn-cli, or articles/ beside books/) at or above the
    project's parent, or in a folder beside one of those, inside the git work tree that holds it.
    None where there is none (outside git, nothing is searched)."""
    from pipeline.layout import git_work_tree

    project = project.resolve()
    tree = git_work_tree(project)
    if tree is None:
        return None, None
    qiita = zenn = None
    for above in project.parents:
        if not (above == tree or tree in above.parents):
            break
        beside = [above] + sorted(d for d in above.iterdir() if d.is_dir() and d != project
                                  and not d.name.startswith(".") and d.name != "node_modules")
        qiita = qiita or next((d for d in beside if _is_qiita_cli(d)), None)
        zenn = zenn or next((d for d in beside if _is_zenn_cli(d)), None)
        if qiita and zenn:
            break
    return qiita, zenn


#: the action qiita-cli's `init` writes into .github/workflows/publish.yml
QIITA_PUBLISH_ACTION = "increments/qiita-cli/actions/publish"


def qiita_workflows(tree: Path) -> list[tuple[Path, Path, tuple[str, ...]]]:
    """qiita-cli's publish workflows in the git work tree *tree* (``.github/workflows/*.yml`` using
    ``increments/qiita-cli/actions/publish``): (the workflow file, the qiita-cli folder it publishes,
    the branches whose pushes run it; empty: every push). Only read, never changed."""
    import yaml

    found = []
    folder = tree / ".github" / "workflows"
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else ():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            continue
        steps = [step for job in (data.get("jobs") or {}).values() if isinstance(job, dict)
                 for step in job.get("steps") or () if isinstance(step, dict)]
        uses = [s for s in steps if str(s.get("uses", "")).startswith(QIITA_PUBLISH_ACTION)]
        if not uses:
            continue
        options = uses[0].get("with") or {}
        root = str(options.get("root", ".")) if isinstance(options, dict) else "."
        events = data.get("on", data.get(True))  # YAML 1.1 reads the key `on` as true
        push = events.get("push") if isinstance(events, dict) else None
        branches = push.get("branches") if isinstance(push, dict) else None
        found.append((path, (tree / root).resolve(), tuple(map(str, branches or ()))))
    return found


def publish_workflow(folder: Path, qiita_dir: str | None, notes: list[str]) -> bool:
    """Whether qiita-cli's publish workflow (``.github/workflows/*.yml``, read, never edited) publishes the
    article's qiita-cli folder on a push; says so in *notes*."""
    from pipeline.layout import git_work_tree

    tree = git_work_tree(folder)
    target = (folder / qiita_dir).resolve() if qiita_dir else None
    for path, root, branches in qiita_workflows(tree) if tree else ():
        where = os.path.relpath(path, folder)
        on = " or ".join(branches) if branches else "any branch"
        if root == target:
            notes.append(f"a push publishes: {where} (qiita-cli's publish workflow) runs `qiita publish --all` on "
                         f"every push to {on}, so the figures are served by the repository (image_base_url = \"git\") "
                         "and the build holds the article back (ignorePublish) while any figure cannot be linked")
            return True
        notes.append(f"{where} publishes {os.path.relpath(root / 'public', folder)}/ on a push to {on}, not this "
                     f"article's {qiita_dir or 'build/qiita'}/public/")
    return False
