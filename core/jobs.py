"""Job rows and the `task:*` protocol: create, claim once, report progress, finish, cancel, retry.

Every change is saved first and then published to the channel-layer group `task.<id>`, so a
`task:subscribe`r in any daphne process sees it; a subscriber arriving late reads the row.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta

from asgiref.sync import async_to_sync
from celery import current_app
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import Conflict, InputError
from core.models import Job

log = logging.getLogger(__name__)

LOG_MAX_CHARS = 100_000
# A running job whose heartbeat is older than this is presumed dead and may be claimed again.
STALE_AFTER = timedelta(seconds=getattr(settings, "JOB_STALE_AFTER_S", 300))

EXECUTE_TASK = "core.job_execute"  # defined in core.tasks
# kind → dotted path of `handler(job, report) -> dict`; apps register theirs at import.
HANDLERS: dict[str, str] = {}
QUEUES: dict[str, str] = {}


class JobError(InputError):
    """Bad input for a job operation (400); the message says what to fix."""


class JobStateConflict(Conflict, JobError):
    """The job is not in a state that allows this (409): it already ended, or is still running."""


class IdempotencyKeyConflict(Conflict, JobError):
    """The caller's idempotency key already names a job of another kind: the request cannot be replayed (409)."""


class JobCancelled(Exception):
    """Raised inside a handler when the user asked to cancel; the job ends `cancelled`."""


def group_name(job_id: int) -> str:
    return f"task.{job_id}"


def job_state(job: Job) -> dict:
    """The `task:update` payload of protocol.md (plus `kind`, `title` and `error` for pages)."""
    return {
        "task_id": job.pk,
        "status": job.status,
        "progress": round(job.progress, 4),
        "subtasks": job.subtasks,
        "result": job.result if job.is_finished else None,
        "updated_at": job.updated_at.isoformat() if job.updated_at else None,
        "kind": job.kind,
        "title": job.title,
        "error": job.error,
    }


def publish(job: Job) -> None:
    """Tell subscribers once the change is committed (at once outside a transaction): a subscriber that
    reads the row on hearing of it must find what it heard. The state is taken now, sent then."""
    state = job_state(job)
    transaction.on_commit(lambda: _send(job.pk, state))


def _send(job_id: int, state: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(job_id), {"type": "task.update", "state": state})
    except Exception:
        log.warning("could not publish task %s update", job_id, exc_info=True)


def register(kind: str, handler: str, *, queue: str = "celery") -> None:
    HANDLERS[kind] = handler
    QUEUES[kind] = queue


def job_create(
    *,
    user,
    kind: str,
    title: str,
    params: dict | None = None,
    idempotency_key: str | None = None,
    subtasks: list[dict] | None = None,
    retry_of: Job | None = None,
    enqueue: bool = True,
) -> Job:
    """Store a job and queue it. The same user's same idempotency key returns the job that already exists
    (keys are per user: another user's key is no concern of this one's); raises IdempotencyKeyConflict when
    that job is of another kind, JobError for an unknown kind."""
    if kind not in HANDLERS:
        raise JobError(f"unknown job kind {kind!r}")
    if idempotency_key:
        existing = Job.objects.filter(idempotency_key=idempotency_key, user=user).first()
        if existing is not None:
            return _replayed(existing, kind)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                user=user,
                kind=kind,
                title=title[:300],
                params=params or {},
                idempotency_key=idempotency_key,
                subtasks=subtasks or [],
                retry_of=retry_of,
            )
    except IntegrityError:
        # The same user's request with the same key, a moment ago: that job stands. A locking read sees it
        # even where this transaction's snapshot is older than its commit (MySQL's repeatable read).
        with transaction.atomic():
            existing = Job.objects.select_for_update().filter(idempotency_key=idempotency_key, user=user).first()
        if existing is None:
            raise
        return _replayed(existing, kind)
    if enqueue:
        transaction.on_commit(lambda: job_enqueue(job))
    return job


def _replayed(existing: Job, kind: str) -> Job:
    if existing.kind != kind:
        raise IdempotencyKeyConflict(
            f"this Idempotency-Key was already used for another request (job {existing.pk}, {existing.kind}); "
            "use a new key for a new request"
        )
    return existing


def job_enqueue(job: Job, *, queue: str | None = None) -> None:
    """The one way onto a queue: the kind's own, unless `queue` says otherwise (operators, tests). Sent by the
    task's name: core.tasks runs jobs (it imports this module), this module only names the task."""
    current_app.send_task(EXECUTE_TASK, args=[job.pk], queue=queue or QUEUES.get(job.kind, "celery"))


def job_claim(job_id: int) -> Job | None:
    """Take a job for this worker: pending, or running with a dead heartbeat. None: not ours to run."""
    now = timezone.now()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    claimable = Q(status=Job.Status.PENDING) | Q(status=Job.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    with transaction.atomic():
        updated = Job.objects.filter(claimable, pk=job_id, cancel_requested=False).update(
            status=Job.Status.RUNNING, worker=worker, heartbeat_at=now, started_at=now, updated_at=now
        )
    if not updated:
        return None
    Job.objects.filter(pk=job_id).update(attempts=F("attempts") + 1)  # in the database: two claims count two
    job = Job.objects.get(pk=job_id)
    publish(job)
    return job


class Reporter:
    """What a handler gets: progress, subtasks and log lines, each saved and published."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def cancelled(self) -> bool:
        return Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled()

    def log(self, line: str) -> None:
        self.update(log_line=line)

    def update(
        self,
        *,
        progress: float | None = None,
        subtasks: list[dict] | None = None,
        log_line: str | None = None,
        subtask: dict | None = None,
    ) -> None:
        job = self.job
        fields = ["heartbeat_at", "updated_at"]
        if progress is not None:
            job.progress = max(0.0, min(1.0, float(progress)))
            fields.append("progress")
        if subtasks is not None:
            job.subtasks = subtasks
            fields.append("subtasks")
        if subtask is not None:
            rows = [s for s in job.subtasks if s.get("id") != subtask["id"]]
            index = next((i for i, s in enumerate(job.subtasks) if s.get("id") == subtask["id"]), len(rows))
            rows.insert(index, subtask)
            job.subtasks = rows
            fields.append("subtasks")
        if log_line:
            stamp = timezone.now().strftime("%H:%M:%S")
            job.log = (job.log + f"{stamp} {log_line}\n")[-LOG_MAX_CHARS:]
            fields.append("log")
        job.heartbeat_at = timezone.now()
        job.save(update_fields=list(dict.fromkeys(fields)))
        publish(job)


def job_finish(job: Job, status: str, *, result: dict | None = None, error: str = "") -> Job:
    """End a job; the row keeps its log, subtasks and whatever result there is, whatever the outcome."""
    job.status = status
    job.result = result
    job.error = error[:2000]
    job.finished_at = timezone.now()
    if status == Job.Status.SUCCEEDED:
        job.progress = 1.0
    job.save(update_fields=["status", "result", "error", "finished_at", "progress", "updated_at"])
    publish(job)
    return job


def job_run(job_id: int, resolve: Callable[[str], Callable] | None = None) -> Job | None:
    """Claim and run a job with its kind's handler; every outcome is stored on the row."""
    from django.utils.module_loading import import_string

    job = job_claim(job_id)
    if job is None:
        log.info("job %s is not claimable (finished, running elsewhere or cancelled)", job_id)
        return None
    handler = (resolve or import_string)(HANDLERS[job.kind])
    reporter = Reporter(job)
    try:
        result = handler(job, reporter)
    except JobCancelled:
        return job_finish(job, Job.Status.CANCELLED, result=getattr(reporter, "partial", None), error="cancelled")
    except Exception as exc:  # noqa: BLE001 - the row records every failure for the page
        log.warning("job %s (%s) failed: %s", job.pk, job.kind, exc)
        reporter.log(f"failed: {exc}")
        return job_finish(
            job, Job.Status.FAILED, result=getattr(reporter, "partial", None), error=str(exc) or repr(exc)
        )
    if reporter.cancelled():
        # The handler checks for a cancel while it works; one that came after it finished is too late to stop
        # anything, and calling the job cancelled would contradict what it wrote (a task's answer, the chunks).
        reporter.log("a cancel request came after the work had finished; the result stands")
    return job_finish(job, Job.Status.SUCCEEDED, result=result)


def job_cancel(job: Job) -> Job:
    """Ask a job to stop: a pending one ends at once, a running one at its next check."""
    if job.is_finished:
        raise JobStateConflict(f"job {job.pk} already ended ({job.status})")
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.cancel_requested = True
    if Job.objects.filter(pk=job.pk, status=Job.Status.PENDING).update(status=Job.Status.CANCELLED):
        job.refresh_from_db()
        job.finished_at = timezone.now()
        job.error = "cancelled before it started"
        job.save(update_fields=["finished_at", "error", "updated_at"])
        publish(job)
    return job


def job_retry(job: Job) -> Job:
    """Run a finished job again as a new job, so the first keeps its log and result."""
    if not job.is_finished:
        raise JobStateConflict(f"job {job.pk} is still {job.status}; cancel it or wait for it to end")
    if job.status == Job.Status.SUCCEEDED:
        raise JobStateConflict(f"job {job.pk} succeeded; start a new one instead")
    return job_create(user=job.user, kind=job.kind, title=job.title, params=job.params, retry_of=job)
