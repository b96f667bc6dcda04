from django.contrib import admin

from monitoring.models import AlertEvent, AlertRule, Sample


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "metric", "threshold", "duration_s", "host", "enabled")
    list_editable = ("threshold", "duration_s", "enabled")
    list_filter = ("metric", "enabled")


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    list_display = ("opened_at", "message", "host", "subject", "peak", "resolved_at")
    list_filter = ("rule", "host", ("resolved_at", admin.EmptyFieldListFilter))
    readonly_fields = [f.name for f in AlertEvent._meta.fields]
    date_hierarchy = "opened_at"

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    list_display = ("ts", "host", "resolution", "cpu_percent", "memory_percent", "disk_percent", "count")
    list_filter = ("resolution", "host")
    date_hierarchy = "ts"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
