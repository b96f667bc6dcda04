from celery import shared_task

from orchestration.services import jobs_requeue_stale


@shared_task(name="orchestration.requeue_stale", acks_late=False)
def requeue_stale() -> list[int]:
    """Beat: queue again the orchestration runs whose worker died, so they finish (once) on another."""
    return jobs_requeue_stale()
