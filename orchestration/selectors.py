"""Reads of tasks, templates, instructions, workflows and runs. Every read takes the user: another user's
row is Http404, exactly as if it did not exist."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from orchestration.models import Instruction, Subtask, Task, Template, Workflow, WorkflowRun

LIST_MAX = 200


def task_list(
    *,
    user,
    status: str | None = None,
    strategy: str | None = None,
    query: str | None = None,
    workflow_steps: bool = False,
) -> QuerySet[Task]:
    """The user's tasks, newest first; a workflow's step tasks only when asked for."""
    qs = Task.objects.filter(user=user).select_related("job")
    if not workflow_steps:
        qs = qs.filter(workflow_run__isnull=True)
    if status:
        qs = qs.filter(status=status)
    if strategy:
        qs = qs.filter(strategy=strategy)
    if query:
        qs = qs.filter(Q(title__icontains=query) | Q(prompt__icontains=query))
    return qs


def task_get(*, user, pk: int) -> Task:
    task = (
        Task.objects.filter(user=user, pk=pk)
        .select_related("job", "template")
        .prefetch_related(Prefetch("subtasks", queryset=Subtask.objects.order_by("position")), "instructions")
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


def instruction_list(*, user) -> QuerySet[Instruction]:
    return Instruction.objects.filter(user=user)


def instruction_get(*, user, pk: int) -> Instruction:
    found = instruction_list(user=user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such instruction.")
    return found


def template_list(*, user) -> QuerySet[Template]:
    return Template.objects.filter(user=user)


def template_get(*, user, pk: int) -> Template:
    found = template_list(user=user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such template.")
    return found


def workflow_list(*, user) -> QuerySet[Workflow]:
    return Workflow.objects.filter(user=user)


def workflow_get(*, user, pk: int) -> Workflow:
    found = workflow_list(user=user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such workflow.")
    return found


def run_list(*, user, workflow: Workflow | None = None) -> QuerySet[WorkflowRun]:
    qs = WorkflowRun.objects.filter(user=user).select_related("workflow", "job")
    return qs.filter(workflow=workflow) if workflow is not None else qs


def run_get(*, user, pk: int) -> WorkflowRun:
    found = run_list(user=user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such workflow run.")
    return found
