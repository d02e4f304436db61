"""Small text helpers shared by the stages."""

from __future__ import annotations

import json
import os
import re
import site
import sys
import sysconfig
from pathlib import Path

from pipeline.markdown.scanner import UNWANTED

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


# ---------------------------------------------------------------------------
# Text from notebooks where it becomes a title, a setting or a terminal line
# ---------------------------------------------------------------------------

def clean_text(text: str) -> str:
    """*text* as one line with no control character, lone surrogate or noncharacter (they are
    dropped; tabs and line breaks become spaces; runs of spaces become one)."""
    return " ".join(UNWANTED.sub("", re.sub(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]", " ", text)).split())


def quoted(value: str) -> str:
    """*value* as a double-quoted string that TOML and YAML both read back as *value*: JSON's
    escapes, with every control character (DEL and C1 included) and noncharacter escaped as
    \\uXXXX (\\UXXXXXXXX above U+FFFF), which TOML or YAML would refuse raw. A lone surrogate (no
    TOML or YAML escape can say it) becomes U+FFFD."""
    value = re.sub("[\ud800-\udfff]", "\ufffd", value)
    text = json.dumps(value, ensure_ascii=False)
    return UNWANTED.sub(lambda m: f"\\u{ord(m.group()):04x}" if ord(m.group()) < 0x10000 else f"\\U{ord(m.group()):08x}",
                         text)


def terminal_text(text: str) -> str:
    """*text* fit for a terminal: line breaks and tabs kept, every other control character (ESC,
    C1's CSI included) shown as its escape (``\\x1b``), lone surrogates and noncharacters likewise,
    so nothing a notebook holds can move the cursor, recolour or rewrite the screen."""
    return UNWANTED.sub(lambda m: m.group() if m.group() in "\n\t" else repr(m.group())[1:-1], text)


def readable_name(name: str) -> str:
    """A file or folder name as words: a leading number and "_"/"-" separators dropped, the first
    letter capitalised ("01_first_experiment" -> "First experiment")."""
    words = re.sub(r"[_\-\s]+", " ", re.sub(r"^\d+[_\-\s.]+(?=\D)", "", clean_text(name))).strip()
    return words[:1].upper() + words[1:] if words else clean_text(name)
