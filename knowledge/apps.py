from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from core import jobs

        jobs.register("knowledge.ingest", "knowledge.jobs.ingest_job", queue="celery")
        # A URL source is scraped first, and scrapes belong to the browser queue's workers.
        jobs.register("knowledge.ingest_url", "knowledge.jobs.ingest_url_job", queue="browser")
        jobs.register("knowledge.reembed", "knowledge.jobs.reembed_job", queue="celery")
