"""The orchestrator's pages. Each renders its first state (read through selectors, so another user's task,
workflow or run is the 404 page) and leaves the rest to its ES module, which calls the JSON API (api.py)
and follows jobs over /ws. The history is filtered on the server, so it works as plain links."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orchestration import selectors
from orchestration.models import Status, Task
from orchestration.serializers import (
    instruction_json,
    run_detail_json,
    run_json,
    task_json,
    template_json,
    workflow_json,
)

HISTORY_PAGE = 25
RUNS_SHOWN = 20


def _choices(choices) -> list[dict]:
    return [{"value": value, "label": label} for value, label in choices]


def _form_data(request: HttpRequest) -> dict:
    """What the new-task form and the workflow builder offer: the user's templates and instructions, the
    strategies and tiebreakers (the models and knowledge bases are fetched by the page: they may be slow)."""
    return {
        "templates": [template_json(t) for t in selectors.template_list(user=request.user)],
        "instructions": [instruction_json(i) for i in selectors.instruction_list(user=request.user)],
        "strategies": _choices(Task.Strategy.choices),
        "tiebreakers": _choices([("judge", "A judge model decides"), ("vote", "The most agreeing reviews win")]),
        "max_models": settings.ORCHESTRATION_MAX_MODELS,
        "default_judge": settings.ORCHESTRATION_JUDGE_MODEL,
    }


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The user's tasks, newest first, filtered by status, strategy and text."""
    status = request.GET.get("status") or ""
    strategy = request.GET.get("strategy") or ""
    query = " ".join((request.GET.get("q") or "").split())[:200]
    status = status if status in Status.values else ""
    strategy = strategy if strategy in Task.Strategy.values else ""
    tasks = selectors.task_list(
        user=request.user, status=status or None, strategy=strategy or None, query=query or None
    )
    page = Paginator(tasks, HISTORY_PAGE).get_page(request.GET.get("page"))
    filters = {k: v for k, v in (("status", status), ("strategy", strategy), ("q", query)) if v}
    context = {
        "page": page,
        "filters": filters,
        "status": status,
        "strategy": strategy,
        "query": query,
        "statuses": Status.choices,
        "strategies": Task.Strategy.choices,
        "has_any": bool(filters) or page.paginator.count > 0,
    }
    return render(request, "orchestration/index.html", context)


@require_GET
def task_new(request: HttpRequest) -> HttpResponse:
    """The new-task form; ?template=ID starts it on that template, ?from=ID copies a task's settings."""
    data = _form_data(request)
    data["initial"] = {"template_id": None}
    template_id = request.GET.get("template", "")
    if template_id.isdigit() and any(t["id"] == int(template_id) for t in data["templates"]):
        data["initial"]["template_id"] = int(template_id)
    source = request.GET.get("from", "")
    if source.isdigit():
        task = selectors.task_list(user=request.user, workflow_steps=True).filter(pk=int(source)).first()
        if task is not None:
            data["initial"] = task_json(task)
    return render(request, "orchestration/task_new.html", {"form_data": data})


@require_GET
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The live view of one task (answers side by side, reviews, the matrix, the decision)."""
    task = selectors.task_get(user=request.user, pk=pk)
    return render(request, "orchestration/task.html", {"task": task, "task_json": task_json(task, detail=True)})


@require_GET
def workflow_list(request: HttpRequest) -> HttpResponse:
    """The user's workflows, each with its step count and its latest run."""
    latest = selectors.run_list(user=request.user).filter(workflow=OuterRef("pk")).order_by("-created_at", "-pk")
    workflows = selectors.workflow_list(user=request.user).annotate(
        last_run_status=Subquery(latest.values("status")[:1]), last_run_at=Subquery(latest.values("created_at")[:1])
    )
    rows = [{"workflow": w, "step_count": len(w.steps or [])} for w in workflows]
    return render(request, "orchestration/workflows.html", {"rows": rows})


def _builder(request: HttpRequest, workflow_data: dict | None) -> HttpResponse:
    data = _form_data(request)
    data["workflow"] = workflow_data
    data["runs"] = []
    if workflow_data is not None:
        runs = selectors.run_list(user=request.user).filter(workflow_id=workflow_data["id"])[:RUNS_SHOWN]
        data["runs"] = [run_json(r) for r in runs]
    return render(request, "orchestration/workflow.html", {"form_data": data, "workflow": workflow_data})


@require_GET
def workflow_new(request: HttpRequest) -> HttpResponse:
    return _builder(request, None)


@require_GET
def workflow_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The builder for a saved workflow, with its run form and run history."""
    return _builder(request, workflow_json(selectors.workflow_get(user=request.user, pk=pk)))


@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The live view of one workflow run: each step's state and output."""
    run = selectors.run_get(user=request.user, pk=pk)
    tasks = selectors.task_list(user=request.user, workflow_steps=True).filter(workflow_run=run)
    return render(request, "orchestration/run.html", {"run": run, "run_json": run_detail_json(run, tasks)})


@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    """Prompt templates: list, create, edit (body and typed variables), delete."""
    items = [template_json(t) for t in selectors.template_list(user=request.user)]
    return render(request, "orchestration/prompt_templates.html", {"items": items})


@require_GET
def instruction_list(request: HttpRequest) -> HttpResponse:
    """Instructions (standing system prompts): list, create, edit, delete."""
    items = [instruction_json(i) for i in selectors.instruction_list(user=request.user)]
    return render(request, "orchestration/instructions.html", {"items": items})
