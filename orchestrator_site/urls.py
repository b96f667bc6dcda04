from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from llm import v1 as llm_v1
from monitoring import views as monitoring_views

# The admin's own login form would authenticate around allauth's failed-login limits: one login page for all
# (set before admin.site.urls below, which captures the view).
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", include("core.urls")),
    path("chat/", include("chat.urls")),
    path("models/", include("llm.urls")),
    path("v1/models", llm_v1.models, name="v1_models"),
    path("v1/chat/completions", llm_v1.chat_completions, name="v1_chat_completions"),
    path("v1/embeddings", llm_v1.embeddings, name="v1_embeddings"),
    path("browser/", include("browser.urls")),
    path("knowledge/", include("knowledge.urls")),
    path("orchestration/", include("orchestration.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("metrics", monitoring_views.metrics, name="metrics"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "AI Orchestrator administration"
admin.site.site_title = "AI Orchestrator admin"
