"""Cell outputs as a terminal would show them, in linear time, within a size limit.

nbclient's own ``coalesce_streams`` rewrites carriage returns and backspaces
with regular expressions that take quadratic time on one long line
(``print("A" * 300_000)`` took 30 s, 10 MB ran for ten minutes, outside every
timeout), so the executor turns it off and calls ``normalize_outputs`` instead,
right after each cell, inside the experiment's time limit. ``execute.use_stored``
applies the same function to notebooks whose stored outputs are published.
"""

from __future__ import annotations

from typing import Any

CUT_MARK = "\n... [output cut: {shown:,} of {total:,} characters shown; tool.pipeline.max_output_chars]\n"


def terminal_text(text: str) -> str:
    """``\\r`` starts the line again and ``\\b`` takes back one character, as on a terminal
    (Jupyter's rule: the text after a line's last carriage return wins). Linear time."""
    if "\r" not in text and "\b" not in text:
        return text
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            parts = [p for p in line.split("\r")]
            # the last part with content wins; a trailing \r alone keeps what came before it
            line = next((p for p in reversed(parts) if p), "")
        if "\b" in line:
            kept: list[str] = []
            for ch in line:
                if ch == "\b":
                    if kept:
                        kept.pop()
                else:
                    kept.append(ch)
            line = "".join(kept)
        lines.append(line)
    return "\n".join(lines)


def cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + CUT_MARK.format(shown=limit, total=len(text))


def normalize_outputs(outputs: list[Any], limit: int) -> list[Any]:
    """Consecutive stream outputs of one name joined, terminal control applied, every text
    output cut to *limit* characters with a marker. Returns new output dicts (same types)."""
    import nbformat

    result: list[Any] = []
    pending: dict[str, Any] | None = None
    parts: list[str] = []

    def flush() -> None:
        nonlocal pending, parts
        if pending is not None:
            text = cap(terminal_text("".join(parts)), limit)
            result.append(nbformat.v4.new_output("stream", name=pending["name"], text=text))
        pending, parts = None, []

    for out in outputs:
        if out.get("output_type") == "stream":
            name = out.get("name", "stdout")
            if pending is None or pending["name"] != name:
                flush()
                pending = {"name": name}
            text = out.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
            continue
        flush()
        result.append(_capped(out, limit))
    flush()
    return result


def _capped(out: Any, limit: int) -> Any:
    data = out.get("data")
    if not isinstance(data, dict):
        return out
    for mime in ("text/plain", "text/markdown", "text/html"):
        value = data.get(mime)
        if isinstance(value, list):
            value = "".join(value)
        if isinstance(value, str) and len(value) > limit:
            out = _copy(out)
            out["data"][mime] = cap(value, limit)
    return out


def _copy(out: Any) -> Any:
    import copy

    return copy.deepcopy(out)
