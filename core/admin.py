from django.contrib import admin

from core.models import ApiToken, AuditEvent, Job


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("name", "prefix", "user__username", "user__email")
    readonly_fields = ("prefix", "token_hash", "created_at", "last_used_at")
    list_select_related = ("user",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False  # a token's secret is shown once, to its owner, on the tokens page


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "user", "ip_address")
    list_filter = ("action", "created_at")
    search_fields = ("action", "user__username", "ip_address")
    readonly_fields = ("created_at", "action", "user", "detail", "ip_address")
    list_select_related = ("user",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "title", "user", "status", "progress", "attempts", "created_at", "finished_at")
    list_filter = ("kind", "status", "created_at")
    search_fields = ("title", "user__username", "idempotency_key")
    readonly_fields = ("created_at", "started_at", "finished_at", "updated_at", "heartbeat_at", "worker", "attempts")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
