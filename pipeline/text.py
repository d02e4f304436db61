"""Small text helpers shared by the stages."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def clean_traceback(lines: list[str] | str) -> str:
    """A kernel traceback (a list of ANSI-coloured chunks) as plain text."""
    if isinstance(lines, str):
        lines = [lines]
    return strip_ansi("\n".join(lines)).rstrip()
