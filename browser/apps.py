import contextlib

from django.apps import AppConfig


class BrowserConfig(AppConfig):
    name = "browser"
    verbose_name = "Browser service"

    def ready(self) -> None:
        from core import jobs

        # Browser jobs run on their own queue, so a long scrape never holds up chat or health pings.
        jobs.register("browser.scrape", "browser.jobs.scrape_job", queue="browser")
        jobs.register("browser.automate", "browser.jobs.automate_job", queue="browser")

        from celery.signals import worker_process_shutdown, worker_shutdown

        worker_process_shutdown.connect(_pool_close, weak=False)  # prefork children
        worker_shutdown.connect(_pool_close, weak=False)  # the solo pool's one process


def _pool_close(**_kwargs) -> None:
    """A worker process that ends closes its browsers (and their proxies) instead of orphaning them."""
    from browser.jobs import _BROWSER_THREAD
    from browser.pool import close_pool

    # The browsers belong to the browser thread: close them there.
    with contextlib.suppress(Exception):  # shutting down: the driver's exit takes its browsers with it
        _BROWSER_THREAD.submit(close_pool).result(timeout=30)
