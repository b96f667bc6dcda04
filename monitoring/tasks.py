"""Beat keeps history bounded; every worker process tree samples its host (see sampler.py)."""

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown


@shared_task(name="monitoring.maintain")
def maintain() -> dict:
    """Roll raw samples up into minute and hour averages, then prune by retention."""
    from monitoring.history import maintain as run

    return run()


@worker_ready.connect
def _sampler_start(**_kwargs) -> None:
    from monitoring.sampler import sampler_start

    sampler_start()


@worker_shutdown.connect
def _sampler_stop(**_kwargs) -> None:
    from monitoring.sampler import sampler_stop

    sampler_stop()
