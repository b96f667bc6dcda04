from django.contrib import admin

from chat.models import Conversation, Message


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("role", "status", "model", "content", "rating", "hidden", "created_at")
    readonly_fields = ("created_at",)
    show_change_link = True


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "model", "updated_at", "created_at")
    list_filter = ("updated_at", "model")
    search_fields = ("title", "user__username", "system_prompt")
    list_select_related = ("user",)
    date_hierarchy = "updated_at"
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "conversation",
        "role",
        "status",
        "model",
        "backend",
        "rating",
        "version_of",
        "hidden",
        "created_at",
    )
    list_filter = ("role", "status", "rating", "hidden", "model", "backend")
    search_fields = ("content", "conversation__title", "conversation__user__username")
    list_select_related = ("conversation",)
    readonly_fields = ("attempts", "created_at", "updated_at")
    raw_id_fields = ("version_of",)
    date_hierarchy = "created_at"
