"""Writes: instructions, templates, tasks (validated, then queued as a job), workflows and their runs, cancel,
and the sweep that queues again the runs whose worker died.

Everything that can be checked before a job is queued is checked here, so bad input is an
OrchestrationInputError naming the field (a 400), never a job that fails later.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core import jobs
from core.models import Job
from llm.catalogue import catalogue_get, models_by_id
from orchestration import variables
from orchestration.models import Instruction, Status, Task, Template, Workflow, WorkflowRun
from orchestration.runner.common import planned_checklist
from orchestration.steps import steps_validate
from orchestration.validation import (
    ALL_LOADED,
    PROMPT_MAX,
    SYSTEM_MAX,
    TITLE_MAX,
    OrchestrationConflict,
    OrchestrationInputError,
    choice_check,
    ids_check,
    knowledge_bases_check,
    name_check,
    options_check,
    text_check,
)

KINDS = ("orchestration.task", "orchestration.workflow")


def _unique(save) -> Any:
    try:
        with transaction.atomic():
            return save()
    except IntegrityError:
        raise OrchestrationInputError("name: you already have one with this name; choose another") from None


# --- instructions ---


def instruction_create(*, user, name, content) -> Instruction:
    """A standing system prompt of the user's; the name is unique among theirs."""
    name, content = name_check(name), text_check(content, "content", SYSTEM_MAX)
    return _unique(lambda: Instruction.objects.create(user=user, name=name, content=content))


def instruction_update(*, instruction: Instruction, name=None, content=None) -> Instruction:
    if name is not None:
        instruction.name = name_check(name)
    if content is not None:
        instruction.content = text_check(content, "content", SYSTEM_MAX)
    return _unique(lambda: instruction.save() or instruction)


def instruction_delete(*, instruction: Instruction) -> None:
    instruction.delete()


# --- templates ---


def _template_fields(body, raw_variables) -> tuple[str, list[dict]]:
    body = text_check(body, "body", PROMPT_MAX)
    try:
        specs = variables.specs_validate(raw_variables)
    except variables.VariableError as exc:
        raise OrchestrationInputError(str(exc)) from None
    declared = {s["name"] for s in specs}
    for name in variables.placeholders(body):
        if name not in declared:
            raise OrchestrationInputError(
                f"body: {{{{ {name} }}}} is not a declared variable (declared: {', '.join(sorted(declared)) or 'none'})"
            )
    return body, specs


def template_create(*, user, name, body, variables=None, description="") -> Template:
    """A prompt with typed variables; every placeholder of the body must be declared."""
    name = name_check(name)
    body, specs = _template_fields(body, variables)
    description = text_check(description or "", "description", 2000, required=False)
    return _unique(
        lambda: Template.objects.create(user=user, name=name, body=body, variables=specs, description=description)
    )


def template_update(*, template: Template, name=None, body=None, variables=None, description=None) -> Template:
    if name is not None:
        template.name = name_check(name)
    if body is not None or variables is not None:
        template.body, template.variables = _template_fields(
            template.body if body is None else body, template.variables if variables is None else variables
        )
    if description is not None:
        template.description = text_check(description, "description", 2000, required=False)
    return _unique(lambda: template.save() or template)


def template_delete(*, template: Template) -> None:
    template.delete()


def template_render(*, template: Template, values) -> tuple[str, dict]:
    """(the prompt, the values as converted); OrchestrationInputError names a missing or wrong-typed variable."""
    try:
        converted = variables.values_validate(template.variables, values)
        return variables.render(template.body, converted), converted
    except (variables.VariableError, variables.RenderError) as exc:
        raise OrchestrationInputError(str(exc)) from None


# --- models ---


def catalogue_models() -> dict[str, bool]:
    """Model id → loaded, for chat models across the enabled backends (the gateway's 5-minute catalogue)."""
    try:
        by_id = models_by_id(async_to_sync(catalogue_get)())
    except Exception as exc:  # noqa: BLE001 - a backend down is the user's to know about, in words
        raise OrchestrationInputError(f"models: the list of models could not be read ({exc})") from None
    return {
        model: any(i.loaded for i in infos if i.kind == "llm")
        for model, infos in by_id.items()
        if any(i.kind == "llm" for i in infos)
    }


def models_resolve(value, *, what: str = "models") -> list[str]:
    """The models a task asks (a list, a model may repeat for several samples) or every loaded one."""
    known = catalogue_models()
    if value == ALL_LOADED:
        loaded = sorted(m for m, is_loaded in known.items() if is_loaded)
        if not loaded:
            raise OrchestrationInputError(f"{what}: no model is loaded on any backend; load one or name them")
        return loaded[: settings.ORCHESTRATION_MAX_MODELS]
    if not isinstance(value, list) or not value or not all(isinstance(m, str) and m.strip() for m in value):
        raise OrchestrationInputError(f'{what}: a list of model names, or "{ALL_LOADED}"')
    if len(value) > settings.ORCHESTRATION_MAX_MODELS:
        raise OrchestrationInputError(f"{what}: at most {settings.ORCHESTRATION_MAX_MODELS} (ORCHESTRATION_MAX_MODELS)")
    models = [m.strip() for m in value]
    for model in models:
        if model not in known:
            listed = ", ".join(sorted(known)[:20]) or "none"
            raise OrchestrationInputError(f"{what}: no backend serves the model {model!r} (available: {listed})")
    return models


# --- tasks ---


def _title_from(prompt: str) -> str:
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "Task")
    return first if len(first) <= 80 else first[:79].rstrip() + "…"


def task_create(
    *,
    user,
    prompt=None,
    template_id=None,
    variables=None,
    instruction_ids=None,
    system_prompt=None,
    models=None,
    strategy=None,
    tiebreaker=None,
    judge_model=None,
    knowledge_base_ids=None,
    options=None,
    title=None,
    idempotency_key: str | None = None,
    workflow_run: WorkflowRun | None = None,
    step_name: str = "",
    enqueue: bool = True,
) -> Task:
    """Check everything, store the task and queue its job (a workflow step's task is run by its workflow's job
    instead). The same idempotency key returns the task already made. Raises OrchestrationInputError."""
    if idempotency_key:
        # A workflow's step tasks share its run's job (and key): they are not a replay of this request.
        existing = Task.objects.filter(
            user=user, job__idempotency_key=idempotency_key, workflow_run__isnull=True
        ).first()
        if existing is not None:
            return existing
    template = None
    values: dict = {}
    if template_id is not None:
        if prompt not in (None, ""):
            raise OrchestrationInputError("give either prompt or template_id, not both")
        if not isinstance(template_id, int) or isinstance(template_id, bool):
            raise OrchestrationInputError("template_id: the id of one of your templates")
        template = Template.objects.filter(user=user, pk=template_id).first()
        if template is None:
            raise OrchestrationInputError(f"template_id: you have no template {template_id}")
        prompt, values = template_render(template=template, values=variables)
        if not prompt.strip():
            raise OrchestrationInputError("the template renders to an empty prompt; fill in its variables")
    else:
        if variables not in (None, {}):
            raise OrchestrationInputError("variables: only with template_id")
        prompt = text_check(prompt, "prompt", PROMPT_MAX)
    if len(prompt) > PROMPT_MAX:
        raise OrchestrationInputError(f"prompt: at most {PROMPT_MAX:,} characters once rendered")
    ids = ids_check(instruction_ids, "instruction_ids")
    instructions = {i.pk: i for i in Instruction.objects.filter(user=user, pk__in=ids)}
    missing = [i for i in ids if i not in instructions]
    if missing:
        raise OrchestrationInputError(f"instruction_ids: you have no instruction {missing[0]}")
    extra = text_check(system_prompt, "system_prompt", SYSTEM_MAX, required=False)
    system = "\n\n".join([*(instructions[i].content.strip() for i in ids), extra.strip()]).strip()
    strategy = choice_check(strategy, Task.Strategy.values, "strategy", Task.Strategy.CROSS_VALIDATE)
    tiebreaker = choice_check(tiebreaker, Task.Tiebreaker.values, "tiebreaker", Task.Tiebreaker.JUDGE)
    model_names = models_resolve(models if models is not None else ALL_LOADED)
    if judge_model not in (None, ""):
        if not isinstance(judge_model, str):
            raise OrchestrationInputError("judge_model: a model name")
        models_resolve([judge_model], what="judge_model")
    kb_ids = knowledge_bases_check(user, knowledge_base_ids)
    opts = options_check(options)
    if title is not None and not isinstance(title, str):
        raise OrchestrationInputError("title: text")
    title = (" ".join((title or "").split()) or _title_from(prompt))[:TITLE_MAX]
    with transaction.atomic():
        task = Task.objects.create(
            user=user,
            title=title,
            prompt=prompt,
            system_prompt=system,
            template=template,
            variables=values,
            model_names=model_names,
            strategy=strategy,
            tiebreaker=tiebreaker,
            judge_model=judge_model or "",
            knowledge_base_ids=kb_ids,
            options=opts,
            workflow_run=workflow_run,
            step_name=step_name,
            job=workflow_run.job if workflow_run is not None else None,
        )
        task.instructions.set(instructions.values())
        if workflow_run is None:
            job = jobs.job_create(
                user=user,
                kind="orchestration.task",
                title=title,
                params={"task_id": task.pk},
                idempotency_key=idempotency_key,
                enqueue=enqueue,
                subtasks=planned_checklist(task),
            )
            if job.params.get("task_id") != task.pk:  # the key was taken a moment ago: that task stands
                task.delete()
                return Task.objects.get(job=job)
            task.job = job
            task.save(update_fields=["job"])
    return task


def task_cancel(*, task: Task) -> Task:
    """Ask a running task to stop (in-flight model calls are cancelled within about a second)."""
    if task.workflow_run_id is not None:
        raise OrchestrationConflict("this task is a step of a workflow run: cancel the run")
    if task.is_finished or task.job is None:
        raise OrchestrationConflict(f"task {task.pk} already ended ({task.status})")
    try:
        jobs.job_cancel(task.job)
    except jobs.JobError as exc:
        raise OrchestrationConflict(str(exc)) from None
    task.job.refresh_from_db()
    if task.job.status == Job.Status.CANCELLED:  # it had not started: nothing will run to record it
        Task.objects.filter(pk=task.pk, finished_at__isnull=True).update(
            status=Status.CANCELLED, error="cancelled before it started", finished_at=timezone.now()
        )
        task.refresh_from_db()
    return task


def task_delete(*, task: Task) -> None:
    """Delete a finished task with its answers, reviews, decision and its job's log."""
    if task.workflow_run_id is not None:
        raise OrchestrationConflict("this task is a step of a workflow run and is kept with the run")
    if not task.is_finished:
        raise OrchestrationConflict(f"task {task.pk} is still {task.status}: cancel it first")
    with transaction.atomic():
        job_id = task.job_id
        task.delete()  # its subtasks go with it
        if job_id is not None:
            Job.objects.filter(pk=job_id).delete()


def task_rerun(*, task: Task) -> Task:
    """The same question to the same models again, as a new task (the first keeps its results). A task that
    cannot be asked again as it was (a model gone since) is a conflict, not bad input: the caller sent none."""
    if task.workflow_run_id is not None:
        raise OrchestrationConflict("this task is a step of a workflow run: run the workflow again")
    try:
        return task_create(
            user=task.user,
            prompt=task.prompt,
            system_prompt=task.system_prompt,
            models=list(task.model_names),
            strategy=task.strategy,
            tiebreaker=task.tiebreaker,
            judge_model=task.judge_model or None,
            knowledge_base_ids=list(task.knowledge_base_ids),
            options=dict(task.options),
            title=task.title,
        )
    except OrchestrationInputError as exc:
        raise OrchestrationConflict(exc.message, field=exc.field) from None


# --- workflows ---


def workflow_create(*, user, name, steps, inputs=None, description="") -> Workflow:
    """A saved workflow; its steps are checked now (types, fields, references to earlier steps)."""
    name = name_check(name)
    specs = _input_specs(inputs)
    steps = steps_validate(user=user, steps=steps, inputs=specs)
    description = text_check(description or "", "description", 2000, required=False)
    return _unique(
        lambda: Workflow.objects.create(user=user, name=name, inputs=specs, steps=steps, description=description)
    )


def workflow_update(*, workflow: Workflow, name=None, steps=None, inputs=None, description=None) -> Workflow:
    if name is not None:
        workflow.name = name_check(name)
    if inputs is not None:
        workflow.inputs = _input_specs(inputs)
    if steps is not None or inputs is not None:
        workflow.steps = steps_validate(
            user=workflow.user, steps=workflow.steps if steps is None else steps, inputs=workflow.inputs
        )
    if description is not None:
        workflow.description = text_check(description, "description", 2000, required=False)
    return _unique(lambda: workflow.save() or workflow)


def workflow_delete(*, workflow: Workflow) -> None:
    for run in workflow.runs.select_related("job").filter(status__in=[Status.PENDING, Status.RUNNING]):
        run_cancel(run=run)
    workflow.delete()


def _input_specs(raw) -> list[dict]:
    try:
        return variables.specs_validate(raw, where="inputs")
    except variables.VariableError as exc:
        raise OrchestrationInputError(str(exc)) from None


def workflow_run_start(*, workflow: Workflow, inputs=None, idempotency_key: str | None = None) -> WorkflowRun:
    """Check the inputs against the workflow's declared ones and queue a run of its current steps."""
    user = workflow.user
    if idempotency_key:
        existing = WorkflowRun.objects.filter(user=user, job__idempotency_key=idempotency_key).first()
        if existing is not None and existing.workflow_id != workflow.pk:
            raise jobs.IdempotencyKeyConflict(
                f"this Idempotency-Key was already used to run another workflow (run {existing.pk}); "
                "use a new key for a new request"
            )
        if existing is not None:
            return existing
    try:
        values = variables.values_validate(workflow.inputs, inputs)
    except variables.VariableError as exc:
        raise OrchestrationInputError(f"inputs: {exc}") from None
    with transaction.atomic():
        run = WorkflowRun.objects.create(user=user, workflow=workflow, inputs=values, steps=workflow.steps)
        job = jobs.job_create(
            user=user,
            kind="orchestration.workflow",
            title=f"Workflow {workflow.name}"[:TITLE_MAX],
            params={"run_id": run.pk},
            idempotency_key=idempotency_key,
            subtasks=[
                {
                    "id": s["name"],
                    "title": f"{s['type']}: {s['name']}",
                    "status": "pending",
                    "completed_at": None,
                    "kind": s["type"],
                    "model": s.get("model", ""),
                }
                for s in workflow.steps
            ],
        )
        if job.params.get("run_id") != run.pk:
            run.delete()
            return WorkflowRun.objects.get(job=job)
        run.job = job
        run.save(update_fields=["job"])
    return run


def run_cancel(*, run: WorkflowRun) -> WorkflowRun:
    if run.status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED) or run.job is None:
        raise OrchestrationConflict(f"run {run.pk} already ended ({run.status})")
    try:
        jobs.job_cancel(run.job)
    except jobs.JobError as exc:
        raise OrchestrationConflict(str(exc)) from None
    run.job.refresh_from_db()
    if run.job.status == Job.Status.CANCELLED:
        WorkflowRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(
            status=Status.CANCELLED, error="cancelled before it started", finished_at=timezone.now()
        )
        run.refresh_from_db()
    return run


# --- recovery ---


def jobs_requeue_stale(*, stale_after: timedelta | None = None, queue: str | None = None) -> list[int]:
    """Queue again the orchestration jobs whose worker died (running with an old heartbeat) or whose message
    was lost (pending for as long). Claiming is conditional, so a job queued twice still runs once; the run
    resumes from its stored subtasks. `queue` overrides the kind's queue (operators, tests). Returns job ids."""
    cutoff = timezone.now() - (stale_after or jobs.STALE_AFTER)
    stale = Job.objects.filter(kind__in=KINDS, cancel_requested=False).filter(
        Q(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff) | Q(status=Job.Status.PENDING, created_at__lt=cutoff)
    )
    ids = []
    for job in stale.only("pk", "kind"):
        jobs.job_enqueue(job, queue=queue)
        ids.append(job.pk)
    return ids
