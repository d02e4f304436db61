"""Records to JSON values and back, generically, from the dataclasses' own type hints.

``encode`` turns any record (a frozen dataclass) into plain JSON values; ``decode`` reads
them back into the type it is given, field by field: nested records, ``X | None``,
``tuple[X, ...]``, ``dict[str, X]``, ``Literal[...]`` (the value must be one of them),
``Path``, and unions of records told apart by their ``kind`` field. Anything else is a
``ValueError`` naming the field, so a hand-edited or foreign file is refused, never half-read.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path
from typing import Any, Literal


def encode(value: Any) -> Any:
    """Plain JSON values of a record (or any dataclass): tables, lists, text for paths."""
    if dataclasses.is_dataclass(value):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(hint: Any, data: Any, where: str = "") -> Any:
    """*data* (what ``encode`` wrote) as a value of type *hint*; ValueError names the field."""
    where = where or getattr(hint, "__name__", str(hint))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _decode_dataclass(hint, data, where)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) > 1 and all(dataclasses.is_dataclass(a) for a in options):  # told apart by "kind"
            kinds = {a.__dataclass_fields__["kind"].default: a for a in options}
            if not isinstance(data, dict) or data.get("kind") not in kinds:
                raise ValueError(f"{where}: kind must be one of {', '.join(kinds)}")
            return decode(kinds[data["kind"]], data, where)
        return decode(options[0], data, where)
    if origin is Literal:
        if data not in args:
            raise ValueError(f"{where}: {data!r} is not one of {', '.join(map(repr, args))}")
        return data
    if origin is tuple:
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(data)}")
        return tuple(decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data)))
    if origin is dict:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a table, got {type(data).__name__}")
        return {k: decode(args[1], v, f"{where}.{k}") for k, v in data.items()} if args else dict(data)
    if hint is Path:
        if not isinstance(data, str):
            raise ValueError(f"{where}: expected a path, got {type(data).__name__}")
        return Path(data)
    if hint in (str, bool) and not isinstance(data, hint):
        raise ValueError(f"{where}: expected {hint.__name__}, got {type(data).__name__}")
    if hint is int and (not isinstance(data, int) or isinstance(data, bool)):
        raise ValueError(f"{where}: expected a whole number, got {data!r}")
    if hint is float and (not isinstance(data, (int, float)) or isinstance(data, bool)):
        raise ValueError(f"{where}: expected a number, got {data!r}")
    return data  # Any


def _decode_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a table, got {type(data).__name__}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    values = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{where}: missing field {name}")
            continue
        value = decode(hints[name], data[name], f"{where}.{name}")
        if f.init:
            values[name] = value
        elif value != f.default:
            raise ValueError(f"{where}.{name}: must be {f.default!r}")
    return cls(**values)
