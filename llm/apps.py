from django.apps import AppConfig


class LlmConfig(AppConfig):
    name = "llm"
    verbose_name = "LLM gateway"

    def ready(self) -> None:
        from core import jobs

        jobs.register("llm.benchmark", "llm.jobs.benchmark_job", queue="celery")
        jobs.register("llm.long_text", "llm.jobs.long_text_job", queue="celery")
