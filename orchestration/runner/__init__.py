"""Running one task (task.py: answers and checks; deciding.py: agreement, decision, metrics; common.py: the plan
and the summary)."""

from orchestration.runner.common import TaskError, checklist_entry, min_answers, plan, planned_checklist, task_summary
from orchestration.runner.task import TaskRunner

__all__ = ["TaskError", "TaskRunner", "checklist_entry", "min_answers", "plan", "planned_checklist", "task_summary"]
