"""Typed validation of a TOML table against a frozen dataclass (the config's schema).

Like mkdocs, every problem is collected (``where: message``) so the caller reports them all
at once; an unknown key names the known ones, with a suggestion when it looks like a typo.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal


def validate(cls: type, table: Any, where: str, problems: list[str], skip: set[str] = frozenset(),
             as_text: set[str] = frozenset()) -> dict:
    """*table* checked against the dataclass *cls*: converted values by field name; every problem is
    appended to *problems* (unknown keys with a suggestion, wrong types); *as_text* fields are read as str."""
    if not isinstance(table, dict):
        problems.append(f"{where}: expected a table, got {type(table).__name__}")
        return {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{where}.{key}: unknown key{hint}; known keys: {', '.join(sorted(fields))}")
            continue
        hint_type = hints[name]
        if name in as_text:
            hint_type = str
        converted = _check(hint_type, value, f"{where}.{key}", problems)
        if converted is not _BAD:
            out[name] = converted
    return out


_BAD = object()


def _check(hint: Any, value: Any, where: str, problems: list[str]) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        fields = validate(hint, value, where, problems)
        missing = [f.name for f in dataclasses.fields(hint)
                   if f.name not in fields and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            return _BAD
        return hint(**fields)
    if origin is Literal:
        if value in args:
            return value
        problems.append(f"{where}: must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
        return _BAD
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            scratch: list[str] = []
            result = _check(arg, value, where, scratch)
            if not scratch:
                return result
        problems.append(f"{where}: unexpected value {value!r}")
        return _BAD
    if origin is tuple and dataclasses.is_dataclass(args[0]):
        if not isinstance(value, list):
            problems.append(f"{where}: must be a list of tables, got {value!r}")
            return _BAD
        return tuple(_check(args[0], v, f"{where}[{i}]", problems) for i, v in enumerate(value))
    if origin is tuple:
        if not isinstance(value, list) or not all(_check(args[0], v, where, []) is not _BAD for v in value):
            problems.append(f"{where}: must be a list of {getattr(args[0], '__name__', args[0])}, got {value!r}")
            return _BAD
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{where}: must be a table, got {value!r}")
            return _BAD
        return dict(value)
    if hint is Any:
        return value
    if hint is int and (not isinstance(value, int) or isinstance(value, bool)):
        problems.append(f"{where}: must be a whole number, got {value!r}")
        return _BAD
    if hint is float and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        problems.append(f"{where}: must be a number, got {value!r}")
        return _BAD
    if hint in (str, bool) and not isinstance(value, hint):
        problems.append(f"{where}: must be {'text' if hint is str else 'true or false'}, got {value!r}")
        return _BAD
    return value
