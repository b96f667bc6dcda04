"""The OpenAPI 3.1 description of the orchestrator's JSON API, served at /orchestration/api/openapi.json.

Written by hand beside the API (api.py: plain Django functions; no API framework to
generate it from), and kept honest by tests/orchestration/test_openapi.py, which checks that every route is
described and validates real responses against these schemas.
"""

from __future__ import annotations

from functools import cache

from orchestration.steps import STEP_TYPES
from orchestration.variables import TYPES

STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"]
SUBTASK_STATUSES = [*STATUSES, "skipped"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict, required: list[str] | None = None, **extra) -> dict:
    schema = {"type": "object", "properties": properties, **extra}
    schema["required"] = list(properties) if required is None else required
    return schema


def _null(schema: dict) -> dict:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741 - a schema, not a variable
N = {"type": "number"}
B = {"type": "boolean"}
DT = {"type": "string", "format": "date-time"}
ANY_OBJ = {"type": "object"}


def _schemas() -> dict:
    variable = _obj(
        {
            "name": S,
            "type": {"type": "string", "enum": list(TYPES)},
            "required": B,
            "default": {},
            "choices": _null({"type": "array", "items": S}),
            "description": S,
        },
        required=["name", "type"],
    )
    subtask = _obj(
        {
            "id": S,
            "title": S,
            "status": {"type": "string", "enum": SUBTASK_STATUSES},
            "completed_at": _null(DT),
            "kind": {"type": "string", "enum": ["answer", "review", "vote", "decision"]},
            "model": S,
            "started_at": _null(DT),
            "error": S,
        }
    )
    answer = _obj(
        {
            "slot": I,
            "label": S,
            "model": S,
            "status": {"type": "string", "enum": SUBTASK_STATUSES},
            "content": S,
            "error": S,
            "latency_ms": _null(N),
            "prompt_tokens": _null(I),
            "completion_tokens": _null(I),
            "agreement_score": _null(N),
            "hallucination_score": _null(N),
            "hallucination": _null(ANY_OBJ),
            "flags": {"type": "array", "items": _obj({"code": S, "reason": S})},
            "backend": _null(S),
            "finish_reason": _null(S),
            "started_at": _null(DT),
            "completed_at": _null(DT),
        }
    )
    claim = _obj({"claim": S, "verdict": S, "reason": S})
    review = _obj(
        {
            "reviewer": I,
            "target": I,
            "reviewer_label": S,
            "target_label": S,
            "model": S,
            "status": {"type": "string", "enum": SUBTASK_STATUSES},
            "verdict": _null({"type": "string", "enum": ["agree", "disagree", "unparsed"]}),
            "reasons": S,
            "claims": {"type": "array", "items": claim},
            "raw": S,
            "error": S,
            "latency_ms": _null(N),
            "completed_at": _null(DT),
        }
    )
    ballot = _obj(
        {
            "voter": I,
            "voter_label": S,
            "model": S,
            "status": {"type": "string", "enum": SUBTASK_STATUSES},
            "choice": _null(I),
            "choice_label": _null(S),
            "reason": S,
            "raw": S,
            "error": S,
            "latency_ms": _null(N),
            "completed_at": _null(DT),
        }
    )
    decision = _obj(
        {
            "method": {"type": "string", "enum": ["single", "consensus", "judge", "vote", "fallback"]},
            "winner": I,
            "label": S,
            "model": S,
            "support": _null(N),
            "reasoning": S,
            "judge_model": _null(S),
            "votes": {"type": "object", "additionalProperties": I},
        },
        required=["method", "winner", "label", "model", "support", "reasoning"],
    )
    agreement = _obj(
        {
            "labels": {"type": "array", "items": S},
            "models": {"type": "array", "items": S},
            "matrix": {"type": "array", "items": {"type": "array", "items": _null(I)}},
            "verdicts": {"type": "array", "items": {"type": "array", "items": S}},
            "scores": {"type": "array", "items": _null(N)},
        }
    )
    task = _obj(
        {
            "id": I,
            "job_id": _null(I),
            "title": S,
            "status": {"type": "string", "enum": STATUSES},
            "progress": N,
            "prompt": S,
            "system_prompt": S,
            "template_id": _null(I),
            "variables": ANY_OBJ,
            "instruction_ids": {"type": "array", "items": I},
            "models": {"type": "array", "items": S},
            "strategy": {"type": "string", "enum": ["cross_validate", "vote", "judge"]},
            "tiebreaker": {"type": "string", "enum": ["judge", "vote"]},
            "judge_model": S,
            "knowledge_base_ids": {"type": "array", "items": I},
            "options": ANY_OBJ,
            "final_answer": S,
            "confidence": _null(N),
            "decision": _null(_ref("Decision")),
            "error": S,
            "workflow_run_id": _null(I),
            "step_name": S,
            "created_at": DT,
            "started_at": _null(DT),
            "finished_at": _null(DT),
            "url": S,
        },
        description="`job_id` is the id to follow with /ws `task:subscribe` (its `task_id`).",
    )
    detail = {
        "allOf": [
            _ref("Task"),
            _obj(
                {
                    "subtasks": {"type": "array", "items": _ref("Subtask")},
                    "answers": {"type": "array", "items": _ref("Answer")},
                    "reviews": {"type": "array", "items": _ref("Review")},
                    "ballots": {"type": "array", "items": _ref("Ballot")},
                    "agreement": _null(_ref("Agreement")),
                    "metrics": _null(
                        _obj(
                            {
                                "answers": _obj({"asked": I, "succeeded": I, "failed": I}),
                                "tokens": _obj({"prompt": I, "completion": I}),
                                "model_time_ms": N,
                                "slowest_answer_ms": N,
                                "critical_path_ms": N,
                                "wall_ms": N,
                                "overhead_ms": _null(N),
                                "resumed": B,
                                "reviews": {"type": "object", "additionalProperties": I},
                            },
                            required=["answers", "tokens", "model_time_ms", "wall_ms"],
                        )
                    ),
                    "sources": {"type": "array", "items": ANY_OBJ},
                    "log": S,
                }
            ),
        ]
    }
    task_create = _obj(
        {
            "prompt": {**S, "description": "The question; or give template_id and variables instead."},
            "template_id": I,
            "variables": {**ANY_OBJ, "description": "Values of the template's variables."},
            "instruction_ids": {"type": "array", "items": I, "description": "Standing system prompts, in order."},
            "system_prompt": {**S, "description": "Added after the instructions."},
            "models": {
                "oneOf": [{"type": "array", "items": S, "minItems": 1}, {"const": "all_loaded"}],
                "description": "One answer per entry (a model may repeat); default all_loaded.",
            },
            "strategy": {"type": "string", "enum": ["cross_validate", "vote", "judge"], "default": "cross_validate"},
            "tiebreaker": {"type": "string", "enum": ["judge", "vote"], "default": "judge"},
            "judge_model": S,
            "knowledge_base_ids": {"type": "array", "items": I},
            "options": _obj(
                {"temperature": N, "max_tokens": I, "review_max_tokens": I, "hallucination_check": B},
                required=[],
                additionalProperties=False,
            ),
            "title": S,
        },
        required=[],
        additionalProperties=False,
    )
    instruction = _obj({"id": I, "name": S, "content": S, "created_at": DT, "updated_at": DT})
    template = _obj(
        {
            "id": I,
            "name": S,
            "description": S,
            "body": S,
            "variables": {"type": "array", "items": variable},
            "created_at": DT,
            "updated_at": DT,
        }
    )
    step = _obj(
        {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
            "type": {"type": "string", "enum": list(STEP_TYPES)},
        },
        required=["name", "type"],
        description="See orchestration/steps.py and the README for each type's fields.",
    )
    workflow = _obj(
        {
            "id": I,
            "name": S,
            "description": S,
            "inputs": {"type": "array", "items": variable},
            "steps": {"type": "array", "items": step},
            "created_at": DT,
            "updated_at": DT,
            "runs_url": S,
        }
    )
    run = _obj(
        {
            "id": I,
            "job_id": _null(I),
            "workflow_id": I,
            "workflow_name": S,
            "status": {"type": "string", "enum": STATUSES},
            "progress": N,
            "inputs": ANY_OBJ,
            "steps": {"type": "array", "items": step},
            "outputs": {"type": "object", "additionalProperties": _obj({"status": S}, required=["status"])},
            "result": _null(ANY_OBJ),
            "error": S,
            "created_at": DT,
            "started_at": _null(DT),
            "finished_at": _null(DT),
            "url": S,
        }
    )
    return {
        "Error": _obj({"error": S, "code": {"type": "string", "enum": ["bad_request", "not_found", "conflict"]}}),
        "Unauthorized": _obj({"error": {"const": "unauthorized"}, "message": S}),
        "Variable": variable,
        "Subtask": subtask,
        "Answer": answer,
        "Review": review,
        "Ballot": ballot,
        "Decision": decision,
        "Agreement": agreement,
        "Task": task,
        "TaskDetail": detail,
        "TaskCreate": task_create,
        "Instruction": instruction,
        "Template": template,
        "Step": step,
        "Workflow": workflow,
        "Run": run,
    }


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _wrap(key: str, name: str) -> dict:
    return _obj({key: _ref(name)})


def _list(key: str, name: str) -> dict:
    return _obj({key: {"type": "array", "items": _ref(name)}})


def _page(name: str) -> dict:
    return _obj({"items": {"type": "array", "items": _ref(name)}, "total": I, "limit": I, "offset": I})


ERR = _json(_ref("Error"), "Bad input: the message names the field")
NOT_FOUND = _json(_ref("Error"), "Not found (or not yours)")
CONFLICT = _json(_ref("Error"), "Already ended")
ID = [{"name": "pk", "in": "path", "required": True, "schema": I}]
PAGING = [
    {"name": "limit", "in": "query", "schema": {**I, "minimum": 1, "maximum": 200, "default": 50}},
    {"name": "offset", "in": "query", "schema": {**I, "minimum": 0, "default": 0}},
]
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": S,
    "description": "Your same key returns what your first request with it made (keys are per user); a key "
    "already used for another kind of request is 409 conflict.",
}


def _op(summary: str, responses: dict, *, body: dict | None = None, params: list | None = None) -> dict:
    op = {"summary": summary, "responses": {**responses, "401": _json(_ref("Unauthorized"), "Not logged in")}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _crud(key: str, name: str, body_props: dict, required: list[str]) -> tuple[dict, dict]:
    create = _obj(body_props, required=required, additionalProperties=True)
    patch = _obj(body_props, required=[], additionalProperties=True)
    collection = {
        "get": _op(f"List your {key}s", {"200": _json(_list(f"{key}s", name))}),
        "post": _op(f"Create a {key}", {"201": _json(_wrap(key, name), "Created"), "400": ERR}, body=create),
    }
    item = {
        "parameters": ID,
        "get": _op(f"One {key}", {"200": _json(_wrap(key, name)), "404": NOT_FOUND}),
        "patch": _op(f"Change a {key}", {"200": _json(_wrap(key, name)), "400": ERR, "404": NOT_FOUND}, body=patch),
        "delete": _op(f"Delete a {key}", {"204": {"description": "Deleted"}, "404": NOT_FOUND}),
    }
    return collection, item


@cache
def schema() -> dict:
    """The whole document (built once per process)."""
    base = "/orchestration/api"
    instructions, instruction = _crud("instruction", "Instruction", {"name": S, "content": S}, ["name", "content"])
    templates, template = _crud(
        "template",
        "Template",
        {"name": S, "body": S, "description": S, "variables": {"type": "array", "items": _ref("Variable")}},
        ["name", "body"],
    )
    workflows, workflow = _crud(
        "workflow",
        "Workflow",
        {
            "name": S,
            "description": S,
            "inputs": {"type": "array", "items": _ref("Variable")},
            "steps": {"type": "array", "items": _ref("Step")},
        },
        ["name", "steps"],
    )
    task_filters = [
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": STATUSES}},
        {"name": "strategy", "in": "query", "schema": {"type": "string", "enum": ["cross_validate", "vote", "judge"]}},
        {"name": "q", "in": "query", "schema": S, "description": "Words in the title or prompt"},
        *PAGING,
    ]
    paths = {
        f"{base}/openapi.json": {"get": _op("This document", {"200": _json(ANY_OBJ)})},
        f"{base}/models": {
            "get": _op(
                "Chat models a task can use",
                {"200": _json(_obj({"models": {"type": "array", "items": _obj({"id": S, "loaded": B})}})), "400": ERR},
            )
        },
        f"{base}/tasks": {
            "get": _op("List your tasks, newest first", {"200": _json(_page("Task")), "400": ERR}, params=task_filters),
            "post": _op(
                "Create a task and queue it",
                {"201": _json(_wrap("task", "TaskDetail"), "Created"), "400": ERR, "409": CONFLICT},
                body=_ref("TaskCreate"),
                params=[IDEMPOTENCY],
            ),
        },
        f"{base}/tasks/{{pk}}": {
            "parameters": ID,
            "get": _op(
                "One task: answers, reviews, ballots, agreement matrix, decision, metrics",
                {"200": _json(_wrap("task", "TaskDetail")), "404": NOT_FOUND},
            ),
            "delete": _op(
                "Delete a finished task with its answers and reviews (a running one: cancel it first)",
                {"204": {"description": "Deleted"}, "404": NOT_FOUND, "409": CONFLICT},
            ),
        },
        f"{base}/tasks/{{pk}}/cancel": {
            "parameters": ID,
            "post": _op(
                "Cancel a task (running model calls are stopped)",
                {"200": _json(_wrap("task", "TaskDetail")), "404": NOT_FOUND, "409": CONFLICT},
            ),
        },
        f"{base}/tasks/{{pk}}/rerun": {
            "parameters": ID,
            "post": _op(
                "Ask the same again as a new task",
                {"201": _json(_wrap("task", "TaskDetail"), "Created"), "404": NOT_FOUND, "409": CONFLICT},
            ),
        },
        f"{base}/instructions": instructions,
        f"{base}/instructions/{{pk}}": instruction,
        f"{base}/templates": templates,
        f"{base}/templates/{{pk}}": template,
        f"{base}/templates/{{pk}}/render": {
            "parameters": ID,
            "post": _op(
                "Render a template with values (checked as a task would check them)",
                {"200": _json(_obj({"prompt": S, "variables": ANY_OBJ})), "400": ERR, "404": NOT_FOUND},
                body=_obj({"variables": ANY_OBJ}, required=[]),
            ),
        },
        f"{base}/workflows": workflows,
        f"{base}/workflows/{{pk}}": workflow,
        f"{base}/workflows/{{pk}}/runs": {
            "parameters": ID,
            "get": _op(
                "This workflow's runs, newest first", {"200": _json(_page("Run")), "404": NOT_FOUND}, params=PAGING
            ),
            "post": _op(
                "Run the workflow",
                {"201": _json(_wrap("run", "Run"), "Created"), "400": ERR, "404": NOT_FOUND, "409": CONFLICT},
                body=_obj({"inputs": ANY_OBJ}, required=[]),
                params=[IDEMPOTENCY],
            ),
        },
        f"{base}/runs": {
            "get": _op("All your workflow runs, newest first", {"200": _json(_page("Run"))}, params=PAGING)
        },
        f"{base}/runs/{{pk}}": {
            "parameters": ID,
            "get": _op(
                "One workflow run with its step outputs",
                {
                    "200": _json(
                        _obj(
                            {
                                "run": {
                                    "allOf": [
                                        _ref("Run"),
                                        _obj(
                                            {
                                                "tasks": {
                                                    "type": "array",
                                                    "items": _obj({"id": I, "step_name": S, "status": S}),
                                                }
                                            }
                                        ),
                                    ]
                                }
                            }
                        )
                    ),
                    "404": NOT_FOUND,
                },
            ),
        },
        f"{base}/runs/{{pk}}/cancel": {
            "parameters": ID,
            "post": _op(
                "Cancel a workflow run", {"200": _json(_wrap("run", "Run")), "404": NOT_FOUND, "409": CONFLICT}
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI Orchestrator — orchestration API",
            "version": "1",
            "description": (
                "Send one prompt to several models, have them check each other's answers, get one answer with a "
                "confidence. Authenticate with a session or `Authorization: Bearer <API token>`. Follow a task "
                "live over the /ws WebSocket: `task:subscribe` with the task's `job_id`."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (user menu → API tokens)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
        },
    }
