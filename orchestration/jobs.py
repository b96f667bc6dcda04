"""The job handlers of the core.jobs kinds `orchestration.task` and `orchestration.workflow`, registered by
apps.py under these dotted paths; runner/job.py and runner/workflow.py do the running."""

from __future__ import annotations

from core.jobs import Reporter
from core.models import Job
from orchestration.models import Task
from orchestration.runner.job import run_task
from orchestration.runner.workflow import workflow_job

__all__ = ["task_job", "workflow_job"]


def task_job(job: Job, report: Reporter) -> dict:
    task = Task.objects.get(pk=job.params["task_id"], job=job)
    return run_task(task, report)
