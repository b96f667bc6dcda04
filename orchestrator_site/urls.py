from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("core.urls")),
    path("chat/", include("chat.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "AI Orchestrator administration"
admin.site.site_title = "AI Orchestrator admin"
