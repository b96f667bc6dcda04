from celery import shared_task


@shared_task(name="core.ping", acks_late=False)
def ping() -> str:
    """The health check's round trip: proves a worker takes tasks and results come back."""
    return "pong"
