"""Small text helpers shared by the stages."""

from __future__ import annotations

import os
import re
import site
import sys
import sysconfig
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def clean_traceback(lines: list[str] | str) -> str:
    """A kernel traceback (a list of ANSI-coloured chunks) as plain text."""
    if isinstance(lines, str):
        lines = [lines]
    return strip_ansi("\n".join(lines)).rstrip()


def path_replacements(root: Path) -> list[tuple[str, str]]:
    """Machine-specific folders and what an article shows instead (longest first):
    the project root becomes ".", site-packages folders "site-packages", the home folder "~"."""
    pairs = [(str(root), ".")]
    folders = set(site.getsitepackages()) | {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        folders.add(site.getusersitepackages())
    pairs += [(f, "site-packages") for f in folders if f]
    pairs += [(sys.prefix, "<python>"), (os.path.expanduser("~"), "~")]
    return sorted({(a, b) for a, b in pairs if a and a not in ("/", ".")}, key=lambda p: len(p[0]), reverse=True)


def scrub_paths(text: str, replacements: list[tuple[str, str]]) -> str:
    """Outputs printed paths of this machine (warnings, tracebacks); keep them out of an article."""
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def safe_url(url: str | None) -> str:
    """*url* without a user:password part, for messages."""
    if not url:
        return "https://api.openai.com/v1"
    from urllib.parse import urlparse, urlunparse

    try:
        parts = urlparse(url)
        if parts.username or parts.password:
            host = parts.hostname or ""
            netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
            return urlunparse(parts._replace(netloc=netloc))
    except ValueError:  # a malformed port: keep what follows the last "@"
        pass
    return re.sub(r"//[^/@\s]*@", "//***@", url)
