from celery import shared_task

from core.jobs import EXECUTE_TASK, job_run


@shared_task(name="core.ping", acks_late=False)
def ping() -> str:
    """The health check's round trip: proves a worker takes tasks and results come back."""
    return "pong"


@shared_task(name=EXECUTE_TASK, acks_late=True)
def job_execute(job_id: int) -> str | None:
    """Run one job row; a redelivered message finds the row claimed and does nothing."""
    job = job_run(job_id)
    return job.status if job is not None else None
