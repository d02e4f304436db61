"""The qiita-cli file (``public/<slug>.md``): front matter, figure links, and never a placeholder published.

qiita-cli's publish workflow runs ``qiita publish --all`` on every push: whatever a writer pushes
is posted. So the file the build writes must be right the moment it is pushed:

- **Figures** (``image_base_url = "git"``, ``git_links``): the figures live in the repository
  under content-addressed names (``images/<slug>/.../<name>-<sha256 prefix>.png``: a path's bytes
  never change), so a figure not pushed yet is linked at the branch the push goes to
  (``raw.githubusercontent.com/OWNER/REPO/main/images/...``): the one push that brings the article
  brings its figures, and the link is valid when the workflow posts it. A figure the remote already
  has is pinned to a pushed commit. A link moves from the branch to a commit only when the file
  changes anyway (an edit, a new figure): an unchanged rebuild after a push leaves the file as it
  was, so qiita-cli sees nothing to update and Qiita shows no spurious "updated" date. Either
  way a link never shows other bytes: a content-addressed path holds one content, a commit too.
- **No placeholder is ever published** (``hold``): while the body holds a ``FIGURE-TO-UPLOAD:``
  placeholder (no image_base_url, a figure .gitignore excludes, no remote), the front matter says
  ``ignorePublish: true`` and a comment after the owner's mark keeps the writer's own value, which
  comes back when the last placeholder is linked.
- **Front matter** (``qiita_front_matter``): title, tags, privacy and Organization come from the
  config; every other field (``id`` and ``updated_at`` qiita-cli wrote back, campaign fields) is
  kept. A line whose value is unchanged keeps its text, as qiita-cli (js-yaml) wrote it: after
  the workflow's "Updated by qiita-cli" commit is pulled, a rebuild changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from pipeline.config import Config
from pipeline.publish.frontmatter import read_front_matter, yaml_line
from pipeline.text import quoted

#: qiita-cli's front matter, in its order; the first group comes from the config
QIITA_KEYS = ("title", "tags", "private", "updated_at", "id", "organization_url_name", "slide", "ignorePublish")
#: the line that holds ignorePublish while placeholders remain, and keeps the writer's own value
HOLD_PREFIX = "<!-- ml-article-pipeline holds ignorePublish: true while FIGURE-TO-UPLOAD: placeholders remain; your own value: "
_HOLD = re.compile(r"^" + re.escape(HOLD_PREFIX) + r"(.*?) -->$", re.M)


# ---------------------------------------------------------------------------
# Front matter
# ---------------------------------------------------------------------------

def _value(key: str, raw: str):
    import yaml

    try:
        return (yaml.safe_load(yaml_line(key, raw)) or {}).get(key, ValueError)
    except yaml.YAMLError:
        return ValueError  # unreadable: never equal to a value of ours


def qiita_front_matter(config: Config, existing: Path | None = None, ignore_publish: str | None = None) -> str:
    """YAML front matter in qiita-cli's layout (see the module docstring); *ignore_publish*, when
    given, is written as ``ignorePublish`` (``hold``)."""
    article = config.article
    kept = read_front_matter(existing) if existing and existing.is_file() else {}
    ours = {
        "title": quoted(article.title),
        "tags": "\n" + "\n".join(f"  - {quoted(tag)}" for tag in article.tags),
        "private": "true" if article.private else "false",
        "organization_url_name": quoted(article.organization_url_name) if article.organization_url_name else "null",
    }
    if ignore_publish is not None:
        ours["ignorePublish"] = ignore_publish
    defaults = {"updated_at": "''", "id": "null", "slide": "false", "ignorePublish": "false"}
    lines = ["---"]
    for key in QIITA_KEYS + tuple(k for k in kept if k not in QIITA_KEYS):
        if key in ours:
            same = key in kept and _value(key, kept[key]) == _value(key, ours[key])
            lines.append(yaml_line(key, kept[key] if same else ours[key]))
        else:
            lines.append(yaml_line(key, kept.get(key, defaults.get(key, "null"))))
    lines.append("---")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# ignorePublish while placeholders remain
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Hold:
    """What the file's ``ignorePublish`` is to be: ``value`` (YAML text), the comment line after the
    owner's mark (``line``, "" when not held), and the one line the build says about it (``said``)."""

    value: str
    line: str = ""
    said: str = ""
    held: bool = False


def hold(existing_text: str, kept_value: str | None, placeholders: int, where: str, why: str = "") -> Hold:
    """ignorePublish for a file whose body has *placeholders* FIGURE-TO-UPLOAD: links (*where*: the file
    as shown; *why*: what to do about them). *kept_value*: the file's current ignorePublish text."""
    import yaml

    current = kept_value or "false"
    earlier = _HOLD.search(existing_text)
    if earlier:  # held by the last build: the writer's value is the one kept, unless they changed it since
        try:
            still_held = yaml.safe_load(current) is True
        except yaml.YAMLError:
            still_held = False
        own = earlier.group(1).strip() or "false" if still_held else current
    else:
        own = current
    if placeholders:
        n = f"{placeholders} figure{'s' if placeholders != 1 else ''}"
        return Hold("true", f"{HOLD_PREFIX}{own} -->\n", held=True,
                    said=f"Qiita: {where} has ignorePublish: true while {n} {'are' if placeholders != 1 else 'is'} "
                         f"FIGURE-TO-UPLOAD: placeholders, so qiita-cli's publish skips it; your own value ({own}) "
                         f"comes back once every figure is linked{'. ' + why if why else ''}")
    said = f"Qiita: every figure is linked; {where} has your own ignorePublish ({own}) again" if earlier else ""
    return Hold(own, said=said)


def is_held(text: str) -> bool:
    """Whether the qiita-cli file *text* is held (``ignorePublish: true`` by the build, for placeholders)."""
    return _HOLD.search(text) is not None


def body_of(text: str) -> str:
    """The article body of a qiita-cli file the build wrote: after the front matter, the owner's mark
    and the hold line."""
    match = re.match(r"---\n.*?\n---\n", text, re.S)
    rest = text[match.end():] if match else text
    lines = rest.split("\n")
    while lines and (lines[0].startswith("<!-- written by ml-article-pipeline") or lines[0].startswith(HOLD_PREFIX)):
        lines.pop(0)
    return "\n".join(lines[1:] if lines and not lines[0] else lines)


# ---------------------------------------------------------------------------
# Figures served by the repository
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class GitLinks:
    """The Qiita figure links for ``image_base_url = "git"``: ``pinned`` (every figure the remote has,
    at a pushed commit) and ``branch`` (the others that a push brings, at the push's branch),
    ``kept`` (pushed figures the last build linked at the branch: kept so while nothing else
    changes), and the figures left as placeholders (``pending``) with ``why``."""

    pinned: dict[Path, str] = field(default_factory=dict)
    branch: dict[Path, str] = field(default_factory=dict)
    kept: dict[Path, str] = field(default_factory=dict)
    pending: tuple[Path, ...] = ()
    why: str = ""

    def urls(self, lazy: bool) -> dict[Path, str]:
        return {**self.pinned, **self.branch, **(self.kept if lazy else {})}


def git_links(files: list[Path], config: Config, root: Path, repository, previous: str,
              contents: dict[Path, Path]) -> GitLinks:
    """Links for the figure *files* (their places in the work tree; *contents*: where the build staged
    them) in the repository *repository* (``gitrepo.Repository``); *previous*: the file as the last
    build wrote it. GitHostError where no build could link them (see ``githost.pin``)."""
    from pipeline.publish.githost import earlier_pins, pin, raw_url_base

    article = config.article
    # the repository as the build read it once: its root, remote URL and refs are not asked again
    earlier = earlier_pins(previous, repo=root, remote=article.git_remote, template=article.image_url_template,
                           resolved=repository)
    pins = pin(files, repo=root, remote=article.git_remote, template=article.image_url_template,
               previous=earlier, contents=contents, resolved=repository)
    pattern = raw_url_base(repository.url, article.image_url_template) if repository and repository.url else None
    branch = repository.push_branch if repository else None
    rest = [f for f in files if f not in pins.urls]
    if not (pattern and branch):
        return GitLinks(pinned=dict(pins.urls), pending=tuple(rest), why=pins.advice)

    def at_branch(file: Path) -> str:
        return pattern.replace("{commit}", quote(branch, safe="/")).replace(
            "{path}", quote(repository.relative(file) or "", safe="/"))

    ignored = set(repository.ignored(rest))
    pending = tuple(f for f in rest if repository.relative(f) in ignored)
    why = (f"{len(pending)} figure file(s) are ignored by .gitignore, so no push brings them: "
           f"`git check-ignore -v {repository.relative(pending[0])}` names the rule; un-ignore them") if pending else ""
    kept = {f: at_branch(f) for f in pins.urls if at_branch(f) in previous}
    return GitLinks(pinned=dict(pins.urls), branch={f: at_branch(f) for f in rest if f not in pending}, kept=kept,
                    pending=pending, why=why)


def linked(body: str, sources: dict[str, Path], urls: dict[Path, str]) -> str:
    """*body* with each figure's placeholder link (*sources*: link -> file) replaced by its URL."""
    for src, path in sources.items():
        if path in urls:
            body = body.replace(f"]({src})", f"]({urls[path]})").replace(f'"{src}"', f'"{urls[path]}"')
    return body
