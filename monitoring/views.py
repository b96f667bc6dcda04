"""The monitoring dashboard and Prometheus' /metrics."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.http import error_response, unauthorized
from monitoring import history, selectors
from monitoring.metrics import host_name
from monitoring.prometheus import exposition
from monitoring.serializers import alert_event_json


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    context = {
        "interval_s": settings.MONITORING_INTERVAL_S,
        "this_host": host_name(),
        "hosts": sorted({host_name(), *history.hosts()}),
        "rules": selectors.rule_list(),
        "alerts": [alert_event_json(e) for e in selectors.events_for_dashboard()],
    }
    return render(request, "monitoring/dashboard.html", context)


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape target: its own METRICS_TOKEN, or a staff user's token or session."""
    if not getattr(request, "metrics_scraper", False):
        if not request.user.is_authenticated:
            return unauthorized("Send `Authorization: Bearer <METRICS_TOKEN>` (or a staff user's API token).")
        if not request.user.is_staff:
            return error_response("Only staff may read /metrics.", 403, "forbidden")
    return HttpResponse(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
