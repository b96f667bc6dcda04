"""What the task runner's parts share: limits, the plan of subtasks, the checklist entries and the task's
summary."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from llm import gateway
from orchestration import verdicts
from orchestration.models import Subtask, Task

log = logging.getLogger("orchestration.runner")

ANSWER_MAX_TOKENS = 1024
REVIEW_MAX_TOKENS = 512
DECISION_MAX_TOKENS = 512
EMPTY_RETRIES = 1
STREAM_PUBLISH_S = 0.5
PREVIEW_CHARS = 8000
ERROR_MAX = 500

State = Subtask.State
DONE = (State.SUCCEEDED, State.FAILED, State.CANCELLED, State.SKIPPED)
Publish = Callable[[list[dict], float, str], Awaitable[None]]  # (checklist, progress, new log lines)


class TaskError(Exception):
    """The task cannot go on (too few answers); the message says why and what to do."""


def min_answers(asked: int) -> int:
    """How many answers a task needs to go on: ORCHESTRATION_MIN_ANSWERS, or all of them when fewer were asked."""
    return max(1, min(settings.ORCHESTRATION_MIN_ANSWERS, asked))


def _now():
    return timezone.now()


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, gateway.GatewayError):
        return exc.message[:ERROR_MAX]
    if isinstance(exc, TimeoutError):
        return "timed out"
    return (str(exc) or type(exc).__name__)[:ERROR_MAX]


def _tokens(usage: dict, key: str) -> int | None:
    value = (usage or {}).get(key)
    return value if isinstance(value, int) and value >= 0 else None


def plan(task: Task) -> list[tuple[str, str, str, str]]:
    """(key, kind, title, model) of every subtask the task will have, in checklist order."""
    models, label = list(task.model_names), verdicts.label
    n = len(models)
    planned = [(f"answer-{i}", Subtask.Kind.ANSWER, f"Answer {label(i)} · {m}", m) for i, m in enumerate(models)]
    if n >= 2 and task.strategy == Task.Strategy.CROSS_VALIDATE:
        planned += [
            (f"review-{i}-{j}", Subtask.Kind.REVIEW, f"{label(i)} reviews {label(j)} · {models[i]}", models[i])
            for i in range(n)
            for j in range(n)
            if i != j
        ]
    if n >= 2 and task.strategy == Task.Strategy.VOTE:
        planned += [(f"vote-{i}", Subtask.Kind.VOTE, f"{label(i)} votes · {m}", m) for i, m in enumerate(models)]
    planned.append(("decision", Subtask.Kind.DECISION, "Decision", ""))
    return planned


def planned_checklist(task: Task) -> list[dict]:
    """The checklist before anything ran (every subtask pending), for the job's first `task:update`."""
    return [
        {"id": key, "title": title, "status": "pending", "completed_at": None, "kind": kind, "model": model}
        for key, kind, title, model in plan(task)
    ]


def checklist_entry(row: Subtask) -> dict:
    """One subtask as `task:update` carries it: {id, title, status} plus completed_at, kind and model."""
    return {
        "id": row.key,
        "title": row.title,
        "status": row.status,
        "completed_at": _iso(row.completed_at),
        "kind": row.kind,
        "model": row.model,
    }


async def _user_of(task: Task):
    return await get_user_model().objects.aget(pk=task.user_id)


def _report_summary(report) -> dict:
    """What a task keeps of a detector report: the verdict, the signals and the doubtful sentences only."""
    data = report.to_dict()
    return {
        "score": data["score"],
        "verdict": data["verdict"],
        "mode": data["mode"],
        "signals": {name: {"score": s["score"], "used": s["used"]} for name, s in data["signals"].items()},
        "flagged": [s for s in data["sentences"] if s["label"] != "supported"][:20],
        "ms": data["ms"],
    }


def task_summary(task: Task) -> dict:
    """The job's result for a finished task (what `task:update` carries at the end)."""
    decision = task.decision or {}
    return {
        "task_id": task.pk,
        "status": task.status,
        "final_answer": task.final_answer,
        "confidence": task.confidence,
        "method": decision.get("method"),
        "winner": decision.get("label"),
        "model": decision.get("model"),
        "error": task.error or None,
    }
