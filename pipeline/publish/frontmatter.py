"""Front matter and small YAML files as the platforms' CLIs read them, written and read in one place
for the Qiita file, the Zenn article, the book's config.yaml and its chapters:

- ``read_front_matter`` / ``top_level``: the values an existing file has, each as written;
- ``front_matter`` / ``yaml_line``: the lines we write (a value that continues on indented lines,
  a list, follows its key's colon directly);
- ``as_yaml``: a front matter or mapping as YAML reads it; ``front_problems``: the rules it breaks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable


def read_text(path: Path) -> str:
    """The file's text with LF line ends; empty when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return ""


def front_block(text: str) -> str:
    """The front matter of *text* (between its first two ``---`` lines), empty when it has none."""
    match = re.match(r"---\n(.*?)\n---(\n|$)", text, re.S)
    return match.group(1) if match else ""


def top_level(text: str) -> dict[str, str]:
    """A YAML mapping's top-level keys and their values as written: a one-line value stripped, a value
    that continues on indented lines (a list, say) kept whole, from the text after its colon."""
    values: dict[str, str] = {}
    key = None
    for line in text.split("\n"):
        m = re.match(r"([A-Za-z_][\w-]*):(.*)$", line)
        if m:
            key = m.group(1)
            values[key] = m.group(2)
        elif key is not None and (line.startswith((" ", "\t", "-")) or not line.strip()):
            values[key] += "\n" + line
    return {k: (v.strip() if "\n" not in v.rstrip("\n") else v.rstrip("\n")) for k, v in values.items()
            if v.strip()}


def read_front_matter(path: Path) -> dict[str, str]:
    """The values of an existing file's front matter (``top_level``). CRLF files read the same as LF files."""
    return top_level(front_block(read_text(path)))


def yaml_line(key: str, raw: str) -> str:
    """``key: value``. A value on several lines is the text after the colon as written (``top_level``
    keeps it so; a list of ours starts with a newline) and follows the colon directly."""
    return f"{key}:{raw}" if "\n" in raw else f"{key}: {raw}"


def front_matter(values: Iterable[tuple[str, str]]) -> str:
    """Front matter of *values* (YAML text each, in order) between ``---`` lines."""
    return "\n".join(["---", *(yaml_line(k, v) for k, v in values), "---"]) + "\n"


def as_yaml(text: str) -> dict:
    """*text* (a YAML mapping, or front matter between ``---`` lines) as YAML reads it; {} when it cannot."""
    import yaml

    try:
        data = yaml.safe_load(front_block(text) if text.startswith("---\n") else text) or {}
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def front_problems(platform, front: str) -> list[str]:
    """The *platform*'s front-matter rules on *front* as YAML reads it; a front matter YAML cannot
    read is that problem (a value kept from the existing file, say), never a list of missing fields."""
    import yaml

    try:
        data = yaml.safe_load(front.strip().strip("-").strip()) or {}
    except yaml.YAMLError as exc:
        return [f"front matter: not valid YAML ({' '.join(str(exc).split())}); fix the value named there in the "
                "existing file, or delete the file to have it written anew"]
    return platform.front_matter_problems(data if isinstance(data, dict) else {})
