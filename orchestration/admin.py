from django.contrib import admin

from orchestration.models import Instruction, Subtask, Task, Template, Workflow, WorkflowRun


@admin.register(Instruction)
class InstructionAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "updated_at"]
    search_fields = ["name", "content", "user__username"]
    raw_id_fields = ["user"]


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "updated_at"]
    search_fields = ["name", "description", "body", "user__username"]
    raw_id_fields = ["user"]


class SubtaskInline(admin.TabularInline):
    model = Subtask
    extra = 0
    can_delete = False
    fields = ["key", "kind", "model", "status", "latency_ms", "agreement_score", "hallucination_score", "completed_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "strategy", "status", "confidence", "created_at", "finished_at"]
    list_filter = ["status", "strategy", "tiebreaker"]
    search_fields = ["title", "prompt", "user__username"]
    raw_id_fields = ["user", "job", "workflow_run", "template"]
    filter_horizontal = ["instructions"]
    readonly_fields = ["decision", "agreement", "metrics", "sources", "created_at", "started_at", "finished_at"]
    inlines = [SubtaskInline]


@admin.register(Subtask)
class SubtaskAdmin(admin.ModelAdmin):
    """Subtasks are what a run produced: read-only here."""

    list_display = ["__str__", "kind", "model", "status", "latency_ms", "agreement_score", "hallucination_score"]
    list_filter = ["kind", "status"]
    search_fields = ["key", "model", "content"]
    raw_id_fields = ["task"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "updated_at"]
    search_fields = ["name", "description", "user__username"]
    raw_id_fields = ["user"]


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["workflow__name", "user__username"]
    raw_id_fields = ["user", "workflow", "job"]
    readonly_fields = ["outputs", "result", "created_at", "started_at", "finished_at"]
