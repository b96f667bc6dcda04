from django.contrib import admin

from knowledge.models import Chunk, KnowledgeBase, Source


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "embedding_model", "updated_at"]
    list_filter = ["embedding_model"]
    search_fields = ["name", "description", "user__username"]
    raw_id_fields = ["user"]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kb", "kind", "mime", "size_bytes", "status", "chunk_count", "updated_at"]
    list_filter = ["kind", "status", "mime"]
    search_fields = ["title", "original_name", "url", "kb__name"]
    raw_id_fields = ["kb", "job"]
    readonly_fields = ["stored_name", "sha256", "size_bytes", "mime", "chunk_count", "created_at", "updated_at"]


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    """Chunks are derived from their source: read-only here, re-ingest the source to change them."""

    list_display = ["__str__", "kb", "source", "index", "heading", "token_count", "embedding_model"]
    list_filter = ["embedding_model"]
    search_fields = ["text", "heading"]
    exclude = ["embedding"]
    readonly_fields = ["source", "kb", "index", "text", "heading", "token_count", "embedding_model", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
