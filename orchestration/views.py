"""The orchestrator's JSON API (for the pages and for scripts with an API token); the schema is served at
/orchestration/api/openapi.json (openapi.py). Thin: parse, call one service or selector, shape the answer.

Errors are {"error": message, "code": bad_request | not_found | conflict}; anything that is not the
caller's answers 404 not_found, exactly as if it did not exist. Follow a task or a workflow run live over
/ws with `task:subscribe` and its `job_id`.
"""

from __future__ import annotations

from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import jobs
from core.auth import api_view
from core.http import BadJSON, json_body
from orchestration import openapi, selectors, services, verdicts
from orchestration.models import Instruction, Status, Subtask, Task, Template, Workflow, WorkflowRun
from orchestration.runner import checklist_entry

LIMIT_DEFAULT = 50


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _error(message: str, status: int = 400, code: str = "bad_request") -> JsonResponse:
    return JsonResponse({"error": message, "code": code}, status=status)


def json_api(view):
    """api_view (401 JSON when not logged in) + JSON errors: Http404 → 404 not_found, bad input → 400."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            return _error(str(exc) or "Not found.", 404, "not_found")
        except (BadJSON, services.OrchestrationInputError) as exc:
            return _error(str(exc))
        except jobs.IdempotencyKeyConflict as exc:
            return _error(str(exc), 409, "conflict")

    return api_view(wrapper)


def _page(request: HttpRequest, qs, shape) -> dict:
    try:
        limit = int(request.GET.get("limit") or LIMIT_DEFAULT)
        offset = int(request.GET.get("offset") or 0)
    except ValueError:
        raise services.OrchestrationInputError("limit and offset: whole numbers") from None
    if not 1 <= limit <= selectors.LIST_MAX or offset < 0:
        raise services.OrchestrationInputError(f"limit: 1 to {selectors.LIST_MAX}; offset: 0 or more")
    total = qs.count()
    return {"items": [shape(x) for x in qs[offset : offset + limit]], "total": total, "limit": limit, "offset": offset}


# --- shaping ---


def answer_json(row: Subtask) -> dict:
    slot = int(row.key.split("-")[1])
    data = row.data or {}
    return {
        "slot": slot, "label": verdicts.label(slot), "model": row.model, "status": row.status, "content": row.content,
        "error": row.error, "latency_ms": row.latency_ms, "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens, "agreement_score": row.agreement_score,
        "hallucination_score": row.hallucination_score, "hallucination": data.get("hallucination"),
        "flags": data.get("flags", []), "backend": data.get("backend"), "finish_reason": data.get("finish_reason"),
        "started_at": _iso(row.started_at), "completed_at": _iso(row.completed_at),
    }  # fmt: skip


def review_json(row: Subtask) -> dict:
    _, reviewer, target = row.key.split("-")
    data = row.data or {}
    return {
        "reviewer": int(reviewer), "target": int(target), "reviewer_label": verdicts.label(int(reviewer)),
        "target_label": verdicts.label(int(target)), "model": row.model, "status": row.status,
        "verdict": data.get("verdict"), "reasons": data.get("reasons", ""), "claims": data.get("claims", []),
        "raw": row.content, "error": row.error, "latency_ms": row.latency_ms, "completed_at": _iso(row.completed_at),
    }  # fmt: skip


def ballot_json(row: Subtask) -> dict:
    voter = int(row.key.split("-")[1])
    data = row.data or {}
    return {
        "voter": voter, "voter_label": verdicts.label(voter), "model": row.model, "status": row.status,
        "choice": data.get("choice"), "choice_label": data.get("label"), "reason": data.get("reason", ""),
        "raw": row.content, "error": row.error, "latency_ms": row.latency_ms, "completed_at": _iso(row.completed_at),
    }  # fmt: skip


def task_json(task: Task, *, detail: bool = False) -> dict:
    out = {
        "id": task.pk, "job_id": task.job_id, "title": task.title, "status": task.status,
        "progress": 1.0 if task.status == Status.SUCCEEDED else round(task.progress, 4),
        "prompt": task.prompt, "system_prompt": task.system_prompt, "template_id": task.template_id,
        "variables": task.variables, "instruction_ids": [i.pk for i in task.instructions.all()],
        "models": task.model_names, "strategy": task.strategy, "tiebreaker": task.tiebreaker,
        "judge_model": task.judge_model, "knowledge_base_ids": task.knowledge_base_ids, "options": task.options,
        "final_answer": task.final_answer, "confidence": task.confidence, "decision": task.decision,
        "error": task.error, "workflow_run_id": task.workflow_run_id, "step_name": task.step_name,
        "created_at": _iso(task.created_at), "started_at": _iso(task.started_at), "finished_at": _iso(task.finished_at),
        "url": f"/orchestration/api/tasks/{task.pk}",
    }  # fmt: skip
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
    return {"id": item.pk, "name": item.name, "content": item.content, "created_at": _iso(item.created_at),
            "updated_at": _iso(item.updated_at)}  # fmt: skip


def template_json(item: Template) -> dict:
    return {"id": item.pk, "name": item.name, "description": item.description, "body": item.body,
            "variables": item.variables, "created_at": _iso(item.created_at), "updated_at": _iso(item.updated_at)}  # fmt: skip


def workflow_json(item: Workflow) -> dict:
    return {"id": item.pk, "name": item.name, "description": item.description, "inputs": item.inputs,
            "steps": item.steps, "created_at": _iso(item.created_at), "updated_at": _iso(item.updated_at),
            "runs_url": f"/orchestration/api/workflows/{item.pk}/runs"}  # fmt: skip


def run_json(run: WorkflowRun) -> dict:
    return {
        "id": run.pk, "job_id": run.job_id, "workflow_id": run.workflow_id, "workflow_name": run.workflow.name,
        "status": run.status, "progress": round(run.job.progress, 4) if run.job else 0.0, "inputs": run.inputs,
        "steps": run.steps, "outputs": run.outputs, "result": run.result, "error": run.error,
        "created_at": _iso(run.created_at), "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
        "url": f"/orchestration/api/runs/{run.pk}",
    }  # fmt: skip


# --- tasks ---


@json_api
@require_http_methods(["GET", "POST"])
def api_tasks(request: HttpRequest) -> JsonResponse:
    """GET: the caller's tasks, newest first (?status=&strategy=&q=&limit=&offset=). POST: create and queue one."""
    if request.method == "GET":
        status = request.GET.get("status") or None
        if status and status not in Status.values:
            raise services.OrchestrationInputError(f"status: one of {', '.join(Status.values)}")
        qs = selectors.task_list(user=request.user, status=status, strategy=request.GET.get("strategy") or None,
                                 query=(request.GET.get("q") or "").strip() or None).prefetch_related("instructions")  # fmt: skip
        return JsonResponse(_page(request, qs, task_json))
    body = json_body(request)
    known = {"prompt", "template_id", "variables", "instruction_ids", "system_prompt", "models", "strategy",
             "tiebreaker", "judge_model", "knowledge_base_ids", "options", "title"}  # fmt: skip
    unknown = sorted(set(body) - known)
    if unknown:
        raise services.OrchestrationInputError(f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(known))})")
    task = services.task_create(user=request.user, idempotency_key=request.headers.get("Idempotency-Key"), **body)
    return JsonResponse({"task": task_json(selectors.task_get(user=request.user, pk=task.pk), detail=True)}, status=201)


@json_api
@require_http_methods(["GET", "DELETE"])
def api_task(request: HttpRequest, pk: int) -> HttpResponse:
    """One task with its answers, reviews, ballots, agreement matrix, decision and metrics; DELETE
    removes a finished one."""
    task = selectors.task_get(user=request.user, pk=pk)
    if request.method == "DELETE":
        try:
            services.task_delete(task=task)
        except services.OrchestrationInputError as exc:
            return _error(str(exc), 409, "conflict")
        return HttpResponse(status=204)
    return JsonResponse({"task": task_json(task, detail=True)})


@json_api
@require_POST
def api_task_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    """Stop a task: pending ends at once, running within about a second (model calls in flight are cancelled)."""
    task = selectors.task_get(user=request.user, pk=pk)
    try:
        services.task_cancel(task=task)
    except services.OrchestrationInputError as exc:
        return _error(str(exc), 409, "conflict")
    return JsonResponse({"task": task_json(selectors.task_get(user=request.user, pk=pk), detail=True)})


@json_api
@require_POST
def api_task_rerun(request: HttpRequest, pk: int) -> JsonResponse:
    """The same prompt, models and options again, as a new task."""
    task = selectors.task_get(user=request.user, pk=pk)
    try:
        again = services.task_rerun(task=task)
    except services.OrchestrationInputError as exc:
        return _error(str(exc), 409, "conflict")
    return JsonResponse(
        {"task": task_json(selectors.task_get(user=request.user, pk=again.pk), detail=True)}, status=201
    )


@json_api
@require_GET
def api_models(request: HttpRequest) -> JsonResponse:
    """The chat models a task can use, with whether each is loaded (`"models": "all_loaded"` takes those)."""
    known = services.catalogue_models()
    return JsonResponse({"models": [{"id": m, "loaded": loaded} for m, loaded in sorted(known.items())]})


# --- instructions ---


@json_api
@require_http_methods(["GET", "POST"])
def api_instructions(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse(
            {"instructions": [instruction_json(i) for i in selectors.instruction_list(user=request.user)]}
        )
    body = json_body(request)
    item = services.instruction_create(user=request.user, name=body.get("name"), content=body.get("content"))
    return JsonResponse({"instruction": instruction_json(item)}, status=201)


@json_api
@require_http_methods(["GET", "PATCH", "DELETE"])
def api_instruction(request: HttpRequest, pk: int) -> HttpResponse:
    item = selectors.instruction_get(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.instruction_delete(instruction=item)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        body = json_body(request)
        item = services.instruction_update(instruction=item, name=body.get("name"), content=body.get("content"))
    return JsonResponse({"instruction": instruction_json(item)})


# --- templates ---


@json_api
@require_http_methods(["GET", "POST"])
def api_templates(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"templates": [template_json(t) for t in selectors.template_list(user=request.user)]})
    body = json_body(request)
    item = services.template_create(user=request.user, name=body.get("name"), body=body.get("body"),
                                    variables=body.get("variables"), description=body.get("description", ""))  # fmt: skip
    return JsonResponse({"template": template_json(item)}, status=201)


@json_api
@require_http_methods(["GET", "PATCH", "DELETE"])
def api_template(request: HttpRequest, pk: int) -> HttpResponse:
    item = selectors.template_get(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.template_delete(template=item)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        body = json_body(request)
        item = services.template_update(template=item, name=body.get("name"), body=body.get("body"),
                                        variables=body.get("variables"), description=body.get("description"))  # fmt: skip
    return JsonResponse({"template": template_json(item)})


@json_api
@require_POST
def api_template_render(request: HttpRequest, pk: int) -> JsonResponse:
    """The prompt a template makes with these variables (checked exactly as a task would check them)."""
    item = selectors.template_get(user=request.user, pk=pk)
    prompt, values = services.template_render(template=item, values=json_body(request).get("variables"))
    return JsonResponse({"prompt": prompt, "variables": values})


# --- workflows ---


@json_api
@require_http_methods(["GET", "POST"])
def api_workflows(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"workflows": [workflow_json(w) for w in selectors.workflow_list(user=request.user)]})
    body = json_body(request)
    item = services.workflow_create(user=request.user, name=body.get("name"), steps=body.get("steps"),
                                    inputs=body.get("inputs"), description=body.get("description", ""))  # fmt: skip
    return JsonResponse({"workflow": workflow_json(item)}, status=201)


@json_api
@require_http_methods(["GET", "PATCH", "DELETE"])
def api_workflow(request: HttpRequest, pk: int) -> HttpResponse:
    item = selectors.workflow_get(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.workflow_delete(workflow=item)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        body = json_body(request)
        item = services.workflow_update(workflow=item, name=body.get("name"), steps=body.get("steps"),
                                        inputs=body.get("inputs"), description=body.get("description"))  # fmt: skip
    return JsonResponse({"workflow": workflow_json(item)})


@json_api
@require_http_methods(["GET", "POST"])
def api_workflow_runs(request: HttpRequest, pk: int) -> JsonResponse:
    """GET: this workflow's runs, newest first. POST {inputs}: run it (its steps as they are now)."""
    workflow = selectors.workflow_get(user=request.user, pk=pk)
    if request.method == "GET":
        return JsonResponse(_page(request, selectors.run_list(user=request.user, workflow=workflow), run_json))
    body = json_body(request)
    run = services.workflow_run_start(workflow=workflow, inputs=body.get("inputs"),
                                      idempotency_key=request.headers.get("Idempotency-Key"))  # fmt: skip
    return JsonResponse({"run": run_json(selectors.run_get(user=request.user, pk=run.pk))}, status=201)


@json_api
@require_GET
def api_runs(request: HttpRequest) -> JsonResponse:
    """Every workflow run of the caller's, newest first."""
    return JsonResponse(_page(request, selectors.run_list(user=request.user), run_json))


@json_api
@require_GET
def api_run(request: HttpRequest, pk: int) -> JsonResponse:
    run = selectors.run_get(user=request.user, pk=pk)
    tasks = selectors.task_list(user=request.user, workflow_steps=True).filter(workflow_run=run)
    return JsonResponse({"run": {**run_json(run), "tasks": [{"id": t.pk, "step_name": t.step_name,
                                                             "status": t.status} for t in tasks]}})  # fmt: skip


@json_api
@require_POST
def api_run_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    run = selectors.run_get(user=request.user, pk=pk)
    try:
        services.run_cancel(run=run)
    except services.OrchestrationInputError as exc:
        return _error(str(exc), 409, "conflict")
    return JsonResponse({"run": run_json(selectors.run_get(user=request.user, pk=pk))})


@api_view
@require_GET
def api_openapi(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3.1 description of this API."""
    return JsonResponse(openapi.schema())
