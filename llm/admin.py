from django.contrib import admin

from llm.forms import BackendForm
from llm.models import Backend, BenchmarkResult
from llm.services import backend_save


@admin.register(Backend)
class BackendAdmin(admin.ModelAdmin):
    form = BackendForm
    list_display = ("name", "kind", "base_url", "enabled", "weight", "max_concurrency", "has_api_key", "updated_at")
    list_filter = ("kind", "enabled", "from_environment")
    search_fields = ("name", "base_url")
    readonly_fields = ("from_environment", "created_at", "updated_at")

    @admin.display(boolean=True, description="API key")
    def has_api_key(self, obj: Backend) -> bool:
        return obj.has_api_key

    def save_model(self, request, obj, form, change) -> None:
        backend_save(user=request.user, backend=obj, api_key=form.api_key_value())


@admin.register(BenchmarkResult)
class BenchmarkResultAdmin(admin.ModelAdmin):
    list_display = (
        "model",
        "backend",
        "runs",
        "ttft_ms_median",
        "tokens_per_s_median",
        "latency_ms_median",
        "created_at",
    )
    list_filter = ("backend", "created_at")
    search_fields = ("model", "backend__name")
    list_select_related = ("backend",)
    date_hierarchy = "created_at"
