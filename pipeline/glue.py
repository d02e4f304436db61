"""Publish named values from an experiment so the article can cite them.

    from pipeline.glue import glue
    glue("vocab_size", tokenizer.vocab_size)

Observations then write ``{{ vocab_size }}`` instead of a number typed by hand.
The value travels inside the notebook as a display output of its own MIME type
(as MyST-NB's glue does), so the harvester finds it in the executed notebook;
nothing is shown in the notebook unless ``display=True``. Outside a Jupyter
kernel (plain ``python experiments/x.py``) glue does nothing.
"""

from __future__ import annotations

from typing import Any

GLUE_MIME = "application/vnd.pipeline.glue+json"
MODEL_MIME = "application/vnd.pipeline.model+json"


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record *value* under *name* (a Python identifier).

    Returns None, so a glue call on a cell's last line adds no output of its own.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"glue name must be a Python identifier (it becomes {{{{ name }}}} in templates), got {name!r}")
    payload = {"name": name, "value": jsonable(value), "text": _text(value)}
    publish(GLUE_MIME, payload, shown=_text(value) if display else None)


def publish(mime: str, payload: dict, shown: str | None = None) -> None:
    """Emit *payload* as a display output of type *mime*, when running in a kernel."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - ipykernel always brings IPython
        return
    if get_ipython() is None:
        return
    bundle: dict[str, Any] = {mime: payload}
    if shown is not None:
        bundle["text/plain"] = shown
    display(bundle, raw=True)


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of *value*: numbers, text, lists and tables; tensors and numpy
    values become Python numbers or lists; anything else its ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if _depth > 6:
        return str(value)
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays/scalars, torch tensors
        size = getattr(value, "size", None)
        count = size() if callable(size) else size
        try:
            numel = int(getattr(value, "numel", lambda: count)())
        except TypeError:
            numel = None
        if numel is None or numel <= 10_000:
            return jsonable(value.tolist(), _depth + 1)
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):  # torch.Size is a tuple
        return [jsonable(v, _depth + 1) for v in value]
    return str(value)


def _text(value: Any) -> str:
    """How a glued value reads in prose: floats to 4 significant digits, shapes as tuples."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if type(value).__name__ == "Size":  # torch.Size prints as "torch.Size([...])"
        return str(tuple(value))
    return str(value)


# ---------------------------------------------------------------------------
# Reading glue back (the harvester's side)
# ---------------------------------------------------------------------------

def read_glue(payload: Any) -> tuple[str, Any, str]:
    """``(name, value, text)`` from a glue payload found in a notebook; ValueError when malformed."""
    if not isinstance(payload, dict):
        raise ValueError(f"glue output is not a table: {type(payload).__name__}")
    name = payload.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"glue output without a valid name (got {name!r})")
    if "value" not in payload:
        raise ValueError(f"glue output {name!r} has no value")
    text = payload.get("text")
    return name, payload["value"], text if isinstance(text, str) else str(payload["value"])


def read_model(payload: Any, fields: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    """The fields of a model payload (see ``pipeline.lab``); ValueError when a required one is missing."""
    if not isinstance(payload, dict):
        raise ValueError(f"model output is not a table: {type(payload).__name__}")
    missing = [k for k in required if not isinstance(payload.get(k), str) or not payload.get(k)]
    if missing:
        raise ValueError(f"model output lacks {', '.join(missing)}")
    return {k: payload[k] for k in fields if k in payload}
