"""Running tasks and workflows: task.py (a task's answers and checks), deciding.py (agreement, decision, metrics),
common.py (the plan and the summary), job.py (a task inside its job: the cancel watcher and the heartbeat) and
workflow.py (a workflow run's steps). Only the task runner's names are re-exported here: runner/workflow.py
imports services, which imports runner.common, so it is imported from its module (orchestration.jobs does)."""

from orchestration.runner.common import TaskError, checklist_entry, min_answers, plan, planned_checklist, task_summary
from orchestration.runner.task import TaskRunner

__all__ = ["TaskError", "TaskRunner", "checklist_entry", "min_answers", "plan", "planned_checklist", "task_summary"]
