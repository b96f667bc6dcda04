from django.apps import AppConfig


class OrchestrationConfig(AppConfig):
    name = "orchestration"
    verbose_name = "Orchestrator"

    def ready(self) -> None:
        from core import jobs  # here, not at the top: core.jobs imports models, not loadable before ready()

        # Orchestration runs wait on models for minutes: their own queue keeps them from holding up
        # chat, health pings and scrapes.
        jobs.register("orchestration.task", "orchestration.jobs.task_job", queue="orchestration")
        jobs.register("orchestration.workflow", "orchestration.jobs.workflow_job", queue="orchestration")
