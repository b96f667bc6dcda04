"""A workflow's steps: the step types, their fields, and the check a workflow's steps pass before it is saved.

Step types (every step has a `name`, unique in the workflow, and a `type`):
- prompt:          {"prompt", "model"?, "system"?, "temperature"?, "max_tokens"?} → the model's answer
- cross_validate:  {"prompt", "models", "strategy"?, "tiebreaker"?, "judge_model"?, "knowledge_base_ids"?,
                    "options"?} → the chosen answer; also `confidence`, `method`, `task_id`
- scrape:          {"url"} → the page's readable text; also `title`, `url`
- retrieve:        {"query", "knowledge_base_ids", "k"?} → the best chunks as numbered sources; also `hits`
- transform:       {"template_id" or "template", "variables"?} → the template rendered (no model call)
- branch:          {"value", "op"?, "threshold", "then"?, "else"?} → "then" or "else"; jumps to the step named
                   by `then`/`else` when the value compares true/false ("next" by default, "end" stops)

Text fields take placeholders: `{{ inputs.NAME }}` (the run's inputs, declared on the workflow) and
`{{ steps.NAME.output }}` or any other field of an earlier step's result (`{{ steps.check.confidence }}`).
A placeholder may only name an earlier step, and branches only jump forward, so every run ends.
runner/workflow.py runs them.
"""

from __future__ import annotations

import operator
import re
from typing import Any

from orchestration import variables
from orchestration.models import Task, Template
from orchestration.validation import (
    ALL_LOADED,
    OrchestrationInputError,
    knowledge_bases_check,
    options_check,
)

STEP_TYPES = ("prompt", "cross_validate", "scrape", "retrieve", "transform", "branch")
STEP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_STEPS = 50
TEXT_MAX = 100_000
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq, "!=": operator.ne}
# type -> field -> required
FIELDS: dict[str, dict[str, bool]] = {
    "prompt": {"prompt": True, "model": False, "system": False, "temperature": False, "max_tokens": False},
    "cross_validate": {
        "prompt": True,
        "models": True,
        "strategy": False,
        "tiebreaker": False,
        "judge_model": False,
        "knowledge_base_ids": False,
        "options": False,
    },
    "scrape": {"url": True},
    "retrieve": {"query": True, "knowledge_base_ids": True, "k": False},
    "transform": {"template_id": False, "template": False, "variables": False},
    "branch": {"value": True, "op": False, "threshold": True, "then": False, "else": False},
}
# type -> the fields that take placeholders
TEMPLATED = {
    "prompt": ("prompt", "system"),
    "cross_validate": ("prompt",),
    "scrape": ("url",),
    "retrieve": ("query",),
    "transform": ("template",),
    "branch": ("value",),
}


def _placeholders_check(text: str, where: str, inputs: set[str], earlier: list[str]) -> None:
    for path in variables.placeholders(text):
        parts = path.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            if parts[1] not in inputs:
                declared = ", ".join(sorted(inputs)) or "none"
                raise OrchestrationInputError(
                    f"{where}: {{{{ {path} }}}} is not a declared input (declared: {declared})"
                )
        elif parts[0] == "steps" and len(parts) >= 3:
            if parts[1] not in earlier:
                names = ", ".join(earlier) or "none"
                raise OrchestrationInputError(f"{where}: {{{{ {path} }}}} names no earlier step (earlier: {names})")
        else:
            raise OrchestrationInputError(
                f"{where}: {{{{ {path} }}}}: use {{{{ inputs.NAME }}}} or {{{{ steps.NAME.output }}}}"
            )


def steps_validate(*, user, steps: Any, inputs: list[dict]) -> list[dict]:
    """The steps checked (types, fields, references) and normalised; OrchestrationInputError names the step."""
    if not isinstance(steps, list) or not steps:
        raise OrchestrationInputError(
            'steps: a list of steps, e.g. [{"name": "answer", "type": "prompt", "prompt": "…"}]'
        )
    if len(steps) > MAX_STEPS:
        raise OrchestrationInputError(f"steps: at most {MAX_STEPS}")
    names = []
    for i, step in enumerate(steps):
        name = step.get("name") if isinstance(step, dict) else None
        if not isinstance(name, str) or not STEP_NAME.match(name):
            raise OrchestrationInputError(
                f"steps[{i}]: name: lower-case letters, digits and _ (at most 40, starting with a letter)"
            )
        if name in names:
            raise OrchestrationInputError(f"steps[{i}]: the name {name!r} is used twice")
        names.append(name)
    declared = {s["name"] for s in inputs}
    out = []
    for i, step in enumerate(steps):
        name = step["name"]
        where = f"step {name!r}"
        kind = step.get("type")
        if kind not in STEP_TYPES:
            raise OrchestrationInputError(f"{where}: type: one of {', '.join(STEP_TYPES)}, not {kind!r}")
        allowed = FIELDS[kind]
        extra = sorted(set(step) - set(allowed) - {"name", "type"})
        if extra:
            raise OrchestrationInputError(
                f"{where}: unknown field {extra[0]!r} for a {kind} step (fields: {', '.join(allowed)})"
            )
        for field, required in allowed.items():
            if required and step.get(field) in (None, "", []):
                raise OrchestrationInputError(f"{where}: {field} is required for a {kind} step")
        clean = {"name": name, "type": kind, **{k: step[k] for k in allowed if step.get(k) is not None}}
        for field in TEMPLATED[kind]:
            if field in clean:
                if not isinstance(clean[field], str) or len(clean[field]) > TEXT_MAX:
                    raise OrchestrationInputError(f"{where}: {field}: text of at most {TEXT_MAX:,} characters")
                _placeholders_check(clean[field], f"{where}: {field}", declared, names[:i])
        try:
            _kind_check(user, clean, names[i + 1 :], where, declared, names[:i])
            if "knowledge_base_ids" in clean:
                clean["knowledge_base_ids"] = knowledge_bases_check(
                    user, clean["knowledge_base_ids"], f"{where}: knowledge_base_ids"
                )
            if "options" in clean:
                clean["options"] = options_check(clean["options"])
        except OrchestrationInputError as exc:
            message = str(exc)
            raise OrchestrationInputError(message if message.startswith(where) else f"{where}: {message}") from None
        out.append(clean)
    return out


def _kind_check(user, step: dict, later: list[str], where: str, inputs: set[str], earlier: list[str]) -> None:
    kind = step["type"]
    if kind in ("prompt", "cross_validate") and "model" in step and not isinstance(step["model"], str):
        raise OrchestrationInputError("model: a model name")
    if kind == "prompt":
        temperature = step.get("temperature")
        if "temperature" in step and (
            isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2
        ):
            raise OrchestrationInputError("temperature: a number from 0 to 2")
        max_tokens = step.get("max_tokens")
        if "max_tokens" in step and (
            not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= 32_768
        ):
            raise OrchestrationInputError("max_tokens: a whole number from 1 to 32768")
    if kind == "cross_validate":
        models = step["models"]
        if models != ALL_LOADED and (not isinstance(models, list) or not all(isinstance(m, str) and m for m in models)):
            raise OrchestrationInputError(f'models: a list of model names, or "{ALL_LOADED}"')
        for field, choices in (("strategy", Task.Strategy.values), ("tiebreaker", Task.Tiebreaker.values)):
            if field in step and step[field] not in choices:
                raise OrchestrationInputError(f"{field}: one of {', '.join(choices)}")
    if kind == "retrieve" and "k" in step and (not isinstance(step["k"], int) or not 1 <= step["k"] <= 50):
        raise OrchestrationInputError("k: a whole number from 1 to 50")
    if kind == "transform":
        has_id, has_text = "template_id" in step, "template" in step
        if has_id == has_text:
            raise OrchestrationInputError(
                "give template_id (one of your templates) or template (inline text), one of them"
            )
        mapping = step.get("variables", {})
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise OrchestrationInputError("variables: an object of template variable → text (placeholders allowed)")
        for key, text in mapping.items():
            _placeholders_check(text, f"variables.{key}", inputs, earlier)
        if has_id:
            template_id = step["template_id"]
            template = (
                Template.objects.filter(user=user, pk=template_id).first() if isinstance(template_id, int) else None
            )
            if template is None:
                raise OrchestrationInputError(f"template_id: you have no template {step['template_id']}")
            declared = {s["name"] for s in template.variables}
            unknown = sorted(set(mapping) - declared)
            if unknown:
                raise OrchestrationInputError(f"variables: the template has no variable {unknown[0]!r}")
        elif mapping:
            raise OrchestrationInputError("variables: only with template_id (an inline template uses placeholders)")
    if kind == "branch":
        if step.get("op", ">=") not in OPS:
            raise OrchestrationInputError(f"op: one of {' '.join(OPS)}")
        threshold = step["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise OrchestrationInputError("threshold: a number")
        for field in ("then", "else"):
            target = step.get(field, "next")
            if target not in ("next", "end") and target not in later:
                raise OrchestrationInputError(
                    f'{field}: "next", "end" or the name of a later step (later: {", ".join(later) or "none"})'
                )
