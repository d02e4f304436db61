"""Front matter as the platforms' CLIs read it: the values an existing file has, and the rules a
front matter breaks (shared by the Qiita file, the Zenn article and the book's chapters)."""

from __future__ import annotations

import re
from pathlib import Path


def read_front_matter(path: Path) -> dict[str, str]:
    """The values of an existing front matter's top-level keys, as written: a one-line value
    stripped, a value that continues on indented lines (a list, say) kept whole, from the text
    after its colon. CRLF files read the same as LF files."""
    try:
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return {}
    match = re.match(r"---\n(.*?)\n---(\n|$)", text, re.S)
    if not match:
        return {}
    values: dict[str, str] = {}
    key = None
    for line in match.group(1).split("\n"):
        m = re.match(r"([A-Za-z_][\w-]*):(.*)$", line)
        if m:
            key = m.group(1)
            values[key] = m.group(2)
        elif key is not None and (line.startswith((" ", "\t", "-")) or not line.strip()):
            values[key] += "\n" + line
    return {k: (v.strip() if "\n" not in v.rstrip("\n") else v.rstrip("\n")) for k, v in values.items()
            if v.strip()}


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
