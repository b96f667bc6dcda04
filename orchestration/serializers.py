"""The orchestrator's JSON shapes: what the API (api.py) answers and what the pages (views.py) hand their
scripts as their first state."""

from __future__ import annotations

from orchestration import verdicts
from orchestration.models import Instruction, Status, Subtask, Task, Template, Workflow, WorkflowRun
from orchestration.runner.common import checklist_entry


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def answer_json(row: Subtask) -> dict:
    slot = int(row.key.split("-")[1])
    data = row.data or {}
    return {
        "slot": slot,
        "label": verdicts.label(slot),
        "model": row.model,
        "status": row.status,
        "content": row.content,
        "error": row.error,
        "latency_ms": row.latency_ms,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "agreement_score": row.agreement_score,
        "hallucination_score": row.hallucination_score,
        "hallucination": data.get("hallucination"),
        "flags": data.get("flags", []),
        "backend": data.get("backend"),
        "finish_reason": data.get("finish_reason"),
        "started_at": _iso(row.started_at),
        "completed_at": _iso(row.completed_at),
    }


def review_json(row: Subtask) -> dict:
    _, reviewer, target = row.key.split("-")
    data = row.data or {}
    return {
        "reviewer": int(reviewer),
        "target": int(target),
        "reviewer_label": verdicts.label(int(reviewer)),
        "target_label": verdicts.label(int(target)),
        "model": row.model,
        "status": row.status,
        "verdict": data.get("verdict"),
        "reasons": data.get("reasons", ""),
        "claims": data.get("claims", []),
        "raw": row.content,
        "error": row.error,
        "latency_ms": row.latency_ms,
        "completed_at": _iso(row.completed_at),
    }


def ballot_json(row: Subtask) -> dict:
    voter = int(row.key.split("-")[1])
    data = row.data or {}
    return {
        "voter": voter,
        "voter_label": verdicts.label(voter),
        "model": row.model,
        "status": row.status,
        "choice": data.get("choice"),
        "choice_label": data.get("label"),
        "reason": data.get("reason", ""),
        "raw": row.content,
        "error": row.error,
        "latency_ms": row.latency_ms,
        "completed_at": _iso(row.completed_at),
    }


def task_json(task: Task, *, detail: bool = False) -> dict:
    out = {
        "id": task.pk,
        "job_id": task.job_id,
        "title": task.title,
        "status": task.status,
        "progress": 1.0 if task.status == Status.SUCCEEDED else round(task.progress, 4),
        "prompt": task.prompt,
        "system_prompt": task.system_prompt,
        "template_id": task.template_id,
        "variables": task.variables,
        "instruction_ids": [i.pk for i in task.instructions.all()],
        "models": task.model_names,
        "strategy": task.strategy,
        "tiebreaker": task.tiebreaker,
        "judge_model": task.judge_model,
        "knowledge_base_ids": task.knowledge_base_ids,
        "options": task.options,
        "final_answer": task.final_answer,
        "confidence": task.confidence,
        "decision": task.decision,
        "error": task.error,
        "workflow_run_id": task.workflow_run_id,
        "step_name": task.step_name,
        "created_at": _iso(task.created_at),
        "started_at": _iso(task.started_at),
        "finished_at": _iso(task.finished_at),
        "url": f"/orchestration/api/tasks/{task.pk}",
    }
    if detail:
        rows = list(task.subtasks.all())
        out.update(
            subtasks=[{**checklist_entry(r), "started_at": _iso(r.started_at), "error": r.error} for r in rows],
            answers=[answer_json(r) for r in rows if r.kind == Subtask.Kind.ANSWER],
            reviews=[review_json(r) for r in rows if r.kind == Subtask.Kind.REVIEW],
            ballots=[ballot_json(r) for r in rows if r.kind == Subtask.Kind.VOTE],
            agreement=task.agreement,
            metrics=task.metrics,
            sources=task.sources,
            log=task.job.log if task.job is not None and task.workflow_run_id is None else "",
        )
    return out


def instruction_json(item: Instruction) -> dict:
    return {
        "id": item.pk,
        "name": item.name,
        "content": item.content,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
    }


def template_json(item: Template) -> dict:
    return {
        "id": item.pk,
        "name": item.name,
        "description": item.description,
        "body": item.body,
        "variables": item.variables,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
    }


def workflow_json(item: Workflow) -> dict:
    return {
        "id": item.pk,
        "name": item.name,
        "description": item.description,
        "inputs": item.inputs,
        "steps": item.steps,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
        "runs_url": f"/orchestration/api/workflows/{item.pk}/runs",
    }


def run_json(run: WorkflowRun) -> dict:
    return {
        "id": run.pk,
        "job_id": run.job_id,
        "workflow_id": run.workflow_id,
        "workflow_name": run.workflow.name,
        "status": run.status,
        "progress": round(run.job.progress, 4) if run.job else 0.0,
        "inputs": run.inputs,
        "steps": run.steps,
        "outputs": run.outputs,
        "result": run.result,
        "error": run.error,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "url": f"/orchestration/api/runs/{run.pk}",
    }


def run_detail_json(run: WorkflowRun, tasks) -> dict:
    """A run with its step tasks (id, step name, status)."""
    return {**run_json(run), "tasks": [{"id": t.pk, "step_name": t.step_name, "status": t.status} for t in tasks]}
