"""Declared input fields, checked one way for /ws frames (shared/protocol.md) and the JSON APIs: a missing
or mistyped field is an InputError (400 / `bad_request`) naming the field; unknown extra keys are ignored.
Services then take the clean values as typed keyword arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InputError

MISSING = object()


@dataclass(frozen=True)
class Field:
    kind: str  # str | int | number | bool | object | int_list
    required: bool = False
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    default: Any = None


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "int_list":
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    raise ValueError(kind)


def validate(data: dict, fields: dict[str, Field], *, prefix: str = "", error: type[InputError] = InputError) -> dict:
    """The declared fields of `data`, checked and defaulted (extra keys ignored); the first problem is
    `error` naming the field, e.g. "field 'options.top_p' must be at most 1"."""
    clean: dict[str, Any] = {}
    for name, spec in fields.items():
        label = f"{prefix}{name}"
        value = data.get(name, MISSING)
        if value is MISSING or (value is None and spec.nullable):
            if spec.required and value is MISSING:
                raise error(f"field '{label}' is required", field=label)
            clean[name] = spec.default if value is MISSING else None
            continue
        if not _type_ok(spec.kind, value):
            what = (
                "a list of integers"
                if spec.kind == "int_list"
                else f"{'an' if spec.kind == 'int' else 'a'} {spec.kind}"
            )
            raise error(f"field '{label}' must be {what}", field=label)
        if spec.kind == "int_list" and spec.max is not None and len(value) > spec.max:
            raise error(f"field '{label}' may hold at most {spec.max:g} items", field=label)
        size = len(value) if spec.kind == "str" else value if spec.kind in {"int", "number"} else None
        if size is not None and spec.min is not None and size < spec.min:
            unit = " characters" if spec.kind == "str" else ""
            raise error(f"field '{label}' must be at least {spec.min:g}{unit}", field=label)
        if size is not None and spec.max is not None and size > spec.max:
            unit = " characters" if spec.kind == "str" else ""
            raise error(f"field '{label}' must be at most {spec.max:g}{unit}", field=label)
        clean[name] = value
    return clean
