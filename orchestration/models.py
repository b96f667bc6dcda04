"""Tasks answered by several models and cross-checked, their subtasks, and what a user keeps to reuse:
instructions (standing system prompts), templates (prompts with typed variables) and workflows (ordered steps).

A task or a workflow run is executed by a core Job (kind `orchestration.task` / `orchestration.workflow`);
the job row carries status, progress and the subtask checklist that `task:update` publishes, these rows
carry what the run produced (answers, reviews, the decision, the metrics).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Status(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


class Instruction(models.Model):
    """A standing system prompt a user reuses across tasks (\"answer in French\", \"cite sources\")."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="instructions")
    name = models.CharField(max_length=100)
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="instruction_name_unique_per_user")]

    def __str__(self) -> str:
        return self.name


class Template(models.Model):
    """A reusable prompt with `{{name}}` placeholders; `variables` declares each one's type (variables.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompt_templates")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    body = models.TextField()
    variables = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="template_name_unique_per_user")]

    def __str__(self) -> str:
        return self.name


class Workflow(models.Model):
    """Ordered steps (steps.py, run by runner/workflow.py); each step's output is a variable for the later ones."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    inputs = models.JSONField(default=list, blank=True, help_text="Typed variables given at each run.")
    steps = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="workflow_name_unique_per_user")]

    def __str__(self) -> str:
        return self.name


class WorkflowRun(models.Model):
    """One run of a workflow: the steps as they were when it started (editing the workflow later does not
    rewrite history), the inputs, and each step's state and output."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workflow_runs")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    job = models.OneToOneField("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    inputs = models.JSONField(default=dict, blank=True)
    steps = models.JSONField(default=list)
    # name -> {"status", "output", other fields of the step's result, "started_at", "completed_at", "error"}
    outputs = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.workflow} run #{self.pk}"


class Task(models.Model):
    """One prompt sent to several models; the answers are reviewed by the other models and one is chosen."""

    class Strategy(models.TextChoices):
        CROSS_VALIDATE = "cross_validate", "Cross-validate (each answer reviewed by the others)"
        VOTE = "vote", "Vote (each model picks the best of the others' answers)"
        JUDGE = "judge", "Judge (a judge model picks the best answer)"

    class Tiebreaker(models.TextChoices):
        JUDGE = "judge"
        VOTE = "vote"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orchestration_tasks")
    # A standalone task has its own job; the tasks of a workflow's cross_validate steps share the run's job.
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    workflow_run = models.ForeignKey(WorkflowRun, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    step_name = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300)
    prompt = models.TextField()
    system_prompt = models.TextField(blank=True, help_text="The instructions, joined, as sent to every model.")
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    variables = models.JSONField(default=dict, blank=True)
    instructions = models.ManyToManyField(Instruction, blank=True, related_name="tasks")
    model_names = models.JSONField(default=list, help_text="One answer per entry; a model may appear twice.")
    strategy = models.CharField(max_length=16, choices=Strategy.choices, default=Strategy.CROSS_VALIDATE)
    tiebreaker = models.CharField(max_length=8, choices=Tiebreaker.choices, default=Tiebreaker.JUDGE)
    judge_model = models.CharField(max_length=200, blank=True)
    knowledge_base_ids = models.JSONField(default=list, blank=True)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.FloatField(default=0.0)
    final_answer = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True)
    decision = models.JSONField(null=True, blank=True)
    agreement = models.JSONField(null=True, blank=True, help_text="The agreement matrix and per-answer scores.")
    metrics = models.JSONField(null=True, blank=True)
    sources = models.JSONField(default=list, blank=True, help_text="Citations of the knowledge-base chunks used.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["user", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow_run", "step_name"],
                name="one_task_per_workflow_step",
                condition=models.Q(workflow_run__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class Subtask(models.Model):
    """One model call of a task: an answer, a review of another model's answer, a ballot, or the decision."""

    class Kind(models.TextChoices):
        ANSWER = "answer"
        REVIEW = "review"
        VOTE = "vote"
        DECISION = "decision"

    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"
        SKIPPED = "skipped"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="subtasks")
    key = models.CharField(max_length=64, help_text="answer-0, review-1-0 (model 1 reviews answer 0), vote-2, decision")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=300)
    model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    content = models.TextField(blank=True, help_text="The answer, or the raw text of a review, ballot or ruling.")
    data = models.JSONField(default=dict, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    agreement_score = models.FloatField(null=True, blank=True)
    hallucination_score = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "position"]
        constraints = [models.UniqueConstraint(fields=["task", "key"], name="subtask_key_unique_per_task")]

    def __str__(self) -> str:
        return f"{self.key} of task {self.task_id}"
