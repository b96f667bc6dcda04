"""Validation of client frames (shared/protocol.md): a missing or mistyped field is `bad_request`
naming the field; unknown extra fields are ignored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chat.protocol import BAD_REQUEST, ProtocolError

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


def validate(frame: dict, fields: dict[str, Field], *, prefix: str = "") -> dict:
    clean: dict[str, Any] = {}
    for name, spec in fields.items():
        label = f"{prefix}{name}"
        value = frame.get(name, MISSING)
        if value is MISSING or (value is None and spec.nullable):
            if spec.required and value is MISSING:
                raise ProtocolError(BAD_REQUEST, f"field '{label}' is required")
            clean[name] = spec.default if value is MISSING else None
            continue
        if not _type_ok(spec.kind, value):
            what = (
                "a list of integers"
                if spec.kind == "int_list"
                else f"{'an' if spec.kind == 'int' else 'a'} {spec.kind}"
            )
            raise ProtocolError(BAD_REQUEST, f"field '{label}' must be {what}")
        if spec.kind == "int_list" and spec.max is not None and len(value) > spec.max:
            raise ProtocolError(BAD_REQUEST, f"field '{label}' may hold at most {spec.max:g} items")
        size = len(value) if spec.kind == "str" else value if spec.kind in {"int", "number"} else None
        if size is not None and spec.min is not None and size < spec.min:
            unit = " characters" if spec.kind == "str" else ""
            raise ProtocolError(BAD_REQUEST, f"field '{label}' must be at least {spec.min:g}{unit}")
        if size is not None and spec.max is not None and size > spec.max:
            unit = " characters" if spec.kind == "str" else ""
            raise ProtocolError(BAD_REQUEST, f"field '{label}' must be at most {spec.max:g}{unit}")
        clean[name] = value
    return clean


OPTIONS = {
    "temperature": Field("number", nullable=True, min=0, max=2),
    "max_tokens": Field("int", nullable=True, min=1, max=32768),
    "top_p": Field("number", nullable=True, min=0, max=1),
}

CHAT_SEND = {
    "content": Field("str", required=True, min=1, max=32000),
    "conversation_id": Field("int", nullable=True),
    "model": Field("str", nullable=True, max=200),
    "system": Field("str", nullable=True, max=32000),
    "options": Field("object", nullable=True),
    "validate": Field("bool", nullable=True, default=False),
    # addition (docs/protocol-additions.md): ground the answers in these knowledge bases
    "knowledge_base_ids": Field("int_list", nullable=True, max=20),
}
CHAT_CANCEL = {"message_id": Field("int", required=True)}
CHAT_RESUME = {"message_id": Field("int", required=True), "after_seq": Field("int", nullable=True, min=-1, default=-1)}
CHAT_HISTORY = {
    "conversation_id": Field("int", nullable=True),
    "limit": Field("int", nullable=True, min=1, max=500, default=50),
    "before": Field("int", nullable=True),
}
TASK_ID = {"task_id": Field("int", required=True)}
