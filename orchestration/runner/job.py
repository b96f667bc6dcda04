"""Running one task inside a job: the task's runner with, beside its model calls, a watcher that notices a
cancel request within CANCEL_POLL_S and cancels the calls in flight, and that keeps the job's heartbeat fresh
so a live run is never taken for a dead one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.utils import timezone

from core import jobs
from core.jobs import JobCancelled, Reporter
from core.models import Job
from orchestration.models import Status, Task
from orchestration.runner.common import task_summary
from orchestration.runner.task import TaskRunner

CANCEL_POLL_S = 0.5


def heartbeat_s() -> float:
    """A quarter of the time after which a silent job is presumed dead (at most 10 s)."""
    return max(0.2, min(10.0, jobs.STALE_AFTER.total_seconds() / 4))


async def watched(work: Awaitable, job_id: int):
    """Await `work` while watching the job: a cancel request cancels it (JobCancelled is raised); the heartbeat
    is refreshed meanwhile."""
    main = asyncio.ensure_future(work)
    cancelled = False

    async def watch() -> None:
        nonlocal cancelled
        beat = time.monotonic()
        while not main.done():
            await asyncio.sleep(CANCEL_POLL_S)
            if await Job.objects.filter(pk=job_id, cancel_requested=True).aexists():
                cancelled = True
                main.cancel()
                return
            if time.monotonic() - beat >= heartbeat_s():
                beat = time.monotonic()
                await Job.objects.filter(pk=job_id).aupdate(heartbeat_at=timezone.now())

    watcher = asyncio.ensure_future(watch())
    try:
        return await main
    except asyncio.CancelledError:
        if cancelled:
            raise JobCancelled() from None
        raise
    finally:
        watcher.cancel()


def _publisher(task: Task, report: Reporter, progress: Callable[[float], None] | None):
    """Where a task's changes go: its own job's checklist and progress, or (a workflow step) the run's progress."""

    def standalone(checklist: list[dict], fraction: float, log_lines: str) -> None:
        report.update(progress=fraction, subtasks=checklist, log_line=log_lines or None)
        Task.objects.filter(pk=task.pk).update(progress=fraction)

    def step(checklist: list[dict], fraction: float, log_lines: str) -> None:
        Task.objects.filter(pk=task.pk).update(progress=fraction)
        if progress is not None:
            progress(fraction)

    sync = step if task.workflow_run_id else standalone
    return sync_to_async(sync)


def run_task(task: Task, report: Reporter, *, progress: Callable[[float], None] | None = None) -> dict:
    """Run (or resume, or just report) a task inside the calling job, blocking until it ends (its model calls
    run on an event loop of their own); JobCancelled when cancelled."""
    if task.status == Status.SUCCEEDED:
        return task_summary(task)  # finished by an earlier attempt just before its worker died
    if task.status == Status.FAILED:
        raise RuntimeError(task.error or "the task failed")
    if task.status == Status.CANCELLED:
        raise JobCancelled()
    task.progress = max(task.progress, report.job.progress if not task.workflow_run_id else 0.0)
    runner = TaskRunner(task, publish=_publisher(task, report, progress))

    async def main() -> dict:
        try:
            return await watched(runner.run(), report.job.pk)
        except JobCancelled:
            await runner.end_unfinished(Status.CANCELLED, "cancelled")
            # A cancel can land while the final result is being written (the write goes on in its thread):
            # then the task has succeeded, and its job says so too.
            task_now = await Task.objects.aget(pk=task.pk)
            if task_now.status == Status.SUCCEEDED:
                return task_summary(task_now)
            raise
        except Exception as exc:
            await runner.end_unfinished(Status.FAILED, str(exc) or type(exc).__name__)
            raise

    try:
        return asyncio.run(main())
    finally:
        report.partial = task_summary(Task.objects.get(pk=task.pk))
