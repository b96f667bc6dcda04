"""The orchestrator's input rules: its two errors, the limits, the option rules and the checks every write
(services.py) and every workflow step (steps.py) run on what the caller sent.

Each check returns the value cleaned or raises OrchestrationInputError naming the field and what to fix (a
400). OrchestrationConflict is for a request that is well formed but cannot be done now (a 409): the task or
run already ended, a running task cannot be deleted.
"""

from __future__ import annotations

import math
from typing import Any

from core.errors import Conflict, InputError
from knowledge.selectors import kb_list_owned

NAME_MAX = 100
PROMPT_MAX = 100_000
SYSTEM_MAX = 50_000
TITLE_MAX = 300
ALL_LOADED = "all_loaded"
OPTION_RULES: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "max_tokens": (int, 1, 32_768),
    "review_max_tokens": (int, 16, 8_192),
    "hallucination_check": (bool, 0, 1),
}


class OrchestrationInputError(InputError):
    """The request cannot be done as asked; the message names the field and what to fix."""


class OrchestrationConflict(Conflict):
    """The request is well formed but the task or run is not in a state that allows it (409)."""


def name_check(value, what: str = "name") -> str:
    """A name of at most NAME_MAX characters, its white space collapsed."""
    if not isinstance(value, str) or not value.strip():
        raise OrchestrationInputError(f"{what}: give a name")
    value = " ".join(value.split())
    if len(value) > NAME_MAX:
        raise OrchestrationInputError(f"{what}: at most {NAME_MAX} characters")
    return value


def text_check(value, what: str, limit: int, *, required: bool = True) -> str:
    """Text of at most `limit` characters ("" for None when not required)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise OrchestrationInputError(f"{what}: give some text")
    if len(value) > limit:
        raise OrchestrationInputError(f"{what}: at most {limit:,} characters")
    return value


def ids_check(value, what: str) -> list[int]:
    """A list of ids, each once, in the order given ([] for None)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise OrchestrationInputError(f"{what}: a list of ids, e.g. [1, 2]")
    return list(dict.fromkeys(value))


def options_check(value) -> dict:
    """A task's model options, each checked against OPTION_RULES and converted to its type."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OrchestrationInputError('options: an object, e.g. {"temperature": 0.7}')
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in OPTION_RULES:
            raise OrchestrationInputError(f"options: unknown option {key!r} (known: {', '.join(OPTION_RULES)})")
        kind, low, high = OPTION_RULES[key]
        if raw is None:
            continue
        if kind is bool:
            if not isinstance(raw, bool):
                raise OrchestrationInputError(f"options.{key}: true or false")
            out[key] = raw
            continue
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (kind is int and not float(raw).is_integer()):
            raise OrchestrationInputError(
                f"options.{key}: a {'whole ' if kind is int else ''}number from {low:g} to {high:g}"
            )
        if not math.isfinite(raw) or not low <= raw <= high:
            raise OrchestrationInputError(f"options.{key}: from {low:g} to {high:g}")
        out[key] = kind(raw)
    return out


def choice_check(value, choices, what: str, default: str) -> str:
    """One of `choices`, or `default` when none is given."""
    if value is None or value == "":
        return default
    if value not in choices:
        raise OrchestrationInputError(f"{what}: one of {', '.join(choices)}, not {value!r}")
    return value


def knowledge_bases_check(user, value, what: str = "knowledge_base_ids") -> list[int]:
    """Ids of knowledge bases the user owns."""
    ids = ids_check(value, what)
    owned = set(kb_list_owned(user=user, ids=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in owned]
    if missing:
        raise OrchestrationInputError(f"{what}: you have no knowledge base {missing[0]}")
    return ids
