"""The orchestrator's JSON API (for the pages and for scripts with an API token); the schema is served at
/orchestration/api/openapi.json (openapi.py). Thin: parse, call one service or selector, shape the answer.

Errors are {"error": message, "code": bad_request | not_found | conflict}; anything that is not the
caller's answers 404 not_found, exactly as if it did not exist. Follow a task or a workflow run live over
/ws with `task:subscribe` and its `job_id`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import json_api, json_body
from orchestration import openapi, selectors, services
from orchestration.models import Status
from orchestration.serializers import (
    instruction_json,
    run_detail_json,
    run_json,
    task_json,
    template_json,
    workflow_json,
)
from orchestration.validation import OrchestrationInputError

LIMIT_DEFAULT = 50


def _page(request: HttpRequest, qs, shape) -> dict:
    try:
        limit = int(request.GET.get("limit") or LIMIT_DEFAULT)
        offset = int(request.GET.get("offset") or 0)
    except ValueError:
        raise OrchestrationInputError("limit and offset: whole numbers") from None
    if not 1 <= limit <= selectors.LIST_MAX or offset < 0:
        raise OrchestrationInputError(f"limit: 1 to {selectors.LIST_MAX}; offset: 0 or more")
    total = qs.count()
    return {"items": [shape(x) for x in qs[offset : offset + limit]], "total": total, "limit": limit, "offset": offset}


# --- tasks ---


@json_api
@require_http_methods(["GET", "POST"])
def api_tasks(request: HttpRequest) -> JsonResponse:
    """GET: the caller's tasks, newest first (?status=&strategy=&q=&limit=&offset=). POST: create and queue one."""
    if request.method == "GET":
        status = request.GET.get("status") or None
        if status and status not in Status.values:
            raise OrchestrationInputError(f"status: one of {', '.join(Status.values)}")
        qs = selectors.task_list(
            user=request.user,
            status=status,
            strategy=request.GET.get("strategy") or None,
            query=(request.GET.get("q") or "").strip() or None,
        ).prefetch_related("instructions")
        return JsonResponse(_page(request, qs, task_json))
    body = json_body(request)
    known = {
        "prompt",
        "template_id",
        "variables",
        "instruction_ids",
        "system_prompt",
        "models",
        "strategy",
        "tiebreaker",
        "judge_model",
        "knowledge_base_ids",
        "options",
        "title",
    }
    unknown = sorted(set(body) - known)
    if unknown:
        raise OrchestrationInputError(f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(known))})")
    task = services.task_create(user=request.user, idempotency_key=request.headers.get("Idempotency-Key"), **body)
    return JsonResponse({"task": task_json(selectors.task_get(user=request.user, pk=task.pk), detail=True)}, status=201)


@json_api
@require_http_methods(["GET", "DELETE"])
def api_task(request: HttpRequest, pk: int) -> HttpResponse:
    """One task with its answers, reviews, ballots, agreement matrix, decision and metrics; DELETE
    removes a finished one."""
    task = selectors.task_get(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.task_delete(task=task)
        return HttpResponse(status=204)
    return JsonResponse({"task": task_json(task, detail=True)})


@json_api
@require_POST
def api_task_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    """Stop a task: pending ends at once, running within about a second (model calls in flight are cancelled)."""
    task = selectors.task_get(user=request.user, pk=pk)
    services.task_cancel(task=task)
    return JsonResponse({"task": task_json(selectors.task_get(user=request.user, pk=pk), detail=True)})


@json_api
@require_POST
def api_task_rerun(request: HttpRequest, pk: int) -> JsonResponse:
    """The same prompt, models and options again, as a new task."""
    task = selectors.task_get(user=request.user, pk=pk)
    again = services.task_rerun(task=task)
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
    item = services.template_create(
        user=request.user,
        name=body.get("name"),
        body=body.get("body"),
        variables=body.get("variables"),
        description=body.get("description", ""),
    )
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
        item = services.template_update(
            template=item,
            name=body.get("name"),
            body=body.get("body"),
            variables=body.get("variables"),
            description=body.get("description"),
        )
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
    item = services.workflow_create(
        user=request.user,
        name=body.get("name"),
        steps=body.get("steps"),
        inputs=body.get("inputs"),
        description=body.get("description", ""),
    )
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
        item = services.workflow_update(
            workflow=item,
            name=body.get("name"),
            steps=body.get("steps"),
            inputs=body.get("inputs"),
            description=body.get("description"),
        )
    return JsonResponse({"workflow": workflow_json(item)})


@json_api
@require_http_methods(["GET", "POST"])
def api_workflow_runs(request: HttpRequest, pk: int) -> JsonResponse:
    """GET: this workflow's runs, newest first. POST {inputs}: run it (its steps as they are now)."""
    workflow = selectors.workflow_get(user=request.user, pk=pk)
    if request.method == "GET":
        return JsonResponse(_page(request, selectors.run_list(user=request.user, workflow=workflow), run_json))
    body = json_body(request)
    run = services.workflow_run_start(
        workflow=workflow, inputs=body.get("inputs"), idempotency_key=request.headers.get("Idempotency-Key")
    )
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
    return JsonResponse({"run": run_detail_json(run, tasks)})


@json_api
@require_POST
def api_run_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    run = selectors.run_get(user=request.user, pk=pk)
    services.run_cancel(run=run)
    return JsonResponse({"run": run_json(selectors.run_get(user=request.user, pk=pk))})


@json_api
@require_GET
def api_openapi(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3.1 description of this API."""
    return JsonResponse(openapi.schema())
