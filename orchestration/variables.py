"""Typed variables (of templates and workflow inputs) and the `{{ name }}` placeholders that use them.

A variable is declared as {"name", "type", "required", "default", "choices", "description"} with type one
of str (one line), text (several lines), int, float, bool, choice. Values are checked and converted before
anything runs, so a missing or wrong-typed value is an error naming the variable, never a half-rendered
prompt. Placeholders are dotted paths looked up in a context (`{{ topic }}` in a template,
`{{ inputs.topic }}` and `{{ steps.research.output }}` in a workflow); nothing else is evaluated.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

TYPES = ("str", "text", "int", "float", "bool", "choice")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")
STR_MAX = 2_000
TEXT_MAX = 100_000
MAX_VARIABLES = 50
MAX_CHOICES = 100
DESCRIPTION_MAX = 500
SPEC_KEYS = {"name", "type", "required", "default", "choices", "description"}
TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


class VariableError(ValueError):
    """A variable's declaration or value is wrong; the message names the variable and what to fix."""


class RenderError(ValueError):
    """A placeholder names nothing that exists; the message names the placeholder."""


def specs_validate(raw: Any, *, where: str = "variables") -> list[dict]:
    """Declarations checked and normalised (every key present). Raises VariableError naming the entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise VariableError(f'{where}: a list of variables, e.g. [{{"name": "topic", "type": "str"}}]')
    if len(raw) > MAX_VARIABLES:
        raise VariableError(f"{where}: at most {MAX_VARIABLES} variables")
    specs: list[dict] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        label = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise VariableError(f"{label}: an object with at least a name and a type")
        unknown = sorted(set(item) - SPEC_KEYS)
        if unknown:
            raise VariableError(f"{label}: unknown key {unknown[0]!r} (known: {', '.join(sorted(SPEC_KEYS))})")
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise VariableError(f"{label}: name must be letters, digits and _ (at most 40, not starting with a digit)")
        label = f"variable {name!r}"
        if name in seen:
            raise VariableError(f"{label} is declared twice")
        seen.add(name)
        kind = item.get("type", "str")
        if kind not in TYPES:
            raise VariableError(f"{label}: type must be one of {', '.join(TYPES)}, not {kind!r}")
        choices = item.get("choices")
        if kind == "choice":
            if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
                raise VariableError(f"{label}: a choice needs `choices`, a list of non-empty strings")
            if len(choices) > MAX_CHOICES or len(set(choices)) != len(choices):
                raise VariableError(f"{label}: at most {MAX_CHOICES} choices, each once")
        elif choices is not None:
            raise VariableError(f"{label}: only a choice variable has `choices`")
        description = item.get("description", "")
        if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
            raise VariableError(f"{label}: description is text of at most {DESCRIPTION_MAX} characters")
        spec = {
            "name": name,
            "type": kind,
            "required": True,
            "default": None,
            "choices": choices,
            "description": description,
        }
        if "default" in item and item["default"] is not None:
            spec["default"] = value_coerce(spec, item["default"], what="default of")
        required = item.get("required", spec["default"] is None)
        if not isinstance(required, bool):
            raise VariableError(f"{label}: required is true or false")
        spec["required"] = required
        specs.append(spec)
    return specs


def value_coerce(spec: dict, value: Any, *, what: str = "") -> Any:
    """`value` as the variable's type (numbers and booleans may come as strings, as from a form)."""
    label = f"{what} variable {spec['name']!r}".strip()
    kind = spec["type"]
    if kind in ("str", "text", "choice"):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise VariableError(f"{label}: expected text, got {_json_type(value)}")
        text = value if isinstance(value, str) else str(value)
        if kind == "str":
            if "\n" in text:
                raise VariableError(f"{label}: expected one line of text (use type text for several lines)")
            if len(text) > STR_MAX:
                raise VariableError(f"{label}: at most {STR_MAX} characters")
        if kind == "text" and len(text) > TEXT_MAX:
            raise VariableError(f"{label}: at most {TEXT_MAX} characters")
        if kind == "choice" and text not in spec["choices"]:
            raise VariableError(f"{label}: expected one of {', '.join(spec['choices'])}, got {text!r}")
        return text
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
            return value.strip().lower() in TRUE
        raise VariableError(f"{label}: expected true or false, got {_shown(value)}")
    if kind == "int":
        if isinstance(value, bool):
            raise VariableError(f"{label}: expected a whole number, got {_shown(value)}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,18}\s*", value):
            return int(value)
        raise VariableError(f"{label}: expected a whole number, got {_shown(value)}")
    # float
    if isinstance(value, bool):
        raise VariableError(f"{label}: expected a number, got {_shown(value)}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise VariableError(f"{label}: expected a number, got {_shown(value)}") from None
    else:
        raise VariableError(f"{label}: expected a number, got {_shown(value)}")
    if not math.isfinite(number):
        raise VariableError(f"{label}: expected a finite number, got {_shown(value)}")
    return number


def values_validate(specs: list[dict], values: Any) -> dict:
    """Every declared variable's value, converted; defaults filled in. Raises VariableError naming the variable
    that is missing, unknown or of the wrong type."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise VariableError('variables: an object of name → value, e.g. {"topic": "tides"}')
    declared = {s["name"]: s for s in specs}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        raise VariableError(f"unknown variable {unknown[0]!r} (declared: {known})")
    out: dict[str, Any] = {}
    for spec in specs:
        name = spec["name"]
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip() and spec["type"] != "text"):
            if spec["default"] is not None:
                out[name] = spec["default"]
                continue
            if spec["required"]:
                raise VariableError(f"variable {name!r} is required ({spec['type']}{_described(spec)})")
            out[name] = "" if spec["type"] in ("str", "text", "choice") else None
            continue
        out[name] = value_coerce(spec, value)
    return out


def placeholders(text: str) -> list[str]:
    """The dotted names of the placeholders in `text`, in order of first appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text or "")))


def lookup(context: dict, path: str) -> Any:
    """The value at a dotted path; RenderError naming the first part that is not there."""
    value: Any = context
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise RenderError(f"{{{{ {path} }}}}: nothing named {'.'.join(walked)!r}")
    return value


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render(text: str, context: dict) -> str:
    """`text` with every placeholder replaced by its value; RenderError names a placeholder with no value."""
    return PLACEHOLDER.sub(lambda m: as_text(lookup(context, m.group(1))), text or "")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", type(None): "null"}.get(type(value), "a number")


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value[:40])
    return json.dumps(value)[:40] if isinstance(value, (dict, list, bool, int, float)) or value is None else repr(value)


def _described(spec: dict) -> str:
    if spec["type"] == "choice":
        return f": one of {', '.join(spec['choices'])}"
    return f": {spec['description']}" if spec["description"] else ""
