from django.urls import path
from django.views.generic import RedirectView

from core import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", api.healthz, name="healthz"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("api/me", api.api_me, name="api_me"),
    path("tasks/", RedirectView.as_view(url="/orchestration/", permanent=False), name="tasks"),
]

# Capabilities whose apps have not landed yet; each app's own urls replace its line here.
for _slug in ("integrations", "training", "terminal"):
    urlpatterns.append(path(f"{_slug}/", views.section, {"slug": _slug}, name=f"section_{_slug}"))
