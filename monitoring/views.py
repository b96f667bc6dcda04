"""The monitoring dashboard, its JSON API (history, hosts, alerts) and Prometheus' /metrics."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.auth import api_view, unauthorized
from monitoring import alerts, history
from monitoring.metrics import host_name
from monitoring.models import AlertEvent, AlertRule


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    return render(
        request,
        "monitoring/dashboard.html",
        {
            "interval_s": settings.MONITORING_INTERVAL_S,
            "this_host": host_name(),
            "hosts": sorted({host_name(), *history.hosts()}),
            "rules": AlertRule.objects.filter(enabled=True),
            "alerts": [  # every open one, and the recent history
                alerts.event_dict(e)
                for e in sorted(
                    {
                        *AlertEvent.objects.filter(resolved_at__isnull=True).select_related("rule")[:50],
                        *AlertEvent.objects.select_related("rule")[:20],
                    },
                    key=lambda e: e.opened_at,
                    reverse=True,
                )
            ],
        },
    )


@api_view
@require_GET
def api_history(request: HttpRequest) -> JsonResponse:
    range_name = request.GET.get("range", "1h")
    if range_name not in history.RANGES:
        return JsonResponse({"error": f"range must be one of {', '.join(history.RANGES)}"}, status=400)
    host = request.GET.get("host") or host_name()
    return JsonResponse(history.series(host=host, range_name=range_name))


@api_view
@require_GET
def api_hosts(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"this_host": host_name(), "hosts": sorted({host_name(), *history.hosts()})})


@api_view
@require_GET
def api_alerts(request: HttpRequest) -> JsonResponse:
    """Open alerts (for every page's header) and, with ?all=1, the recent history."""
    events = AlertEvent.objects.select_related("rule")
    if request.GET.get("all") != "1":
        events = events.filter(resolved_at__isnull=True)
    rows = [alerts.event_dict(e) for e in events[:100]]
    open_count = AlertEvent.objects.filter(resolved_at__isnull=True).count()
    return JsonResponse({"open_count": open_count, "alerts": rows, "now": timezone.now().isoformat()})


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape target: its own METRICS_TOKEN, or a staff user's token or session."""
    from monitoring.prometheus import exposition

    if not getattr(request, "metrics_scraper", False):
        if not request.user.is_authenticated:
            return unauthorized("Send `Authorization: Bearer <METRICS_TOKEN>` (or a staff user's API token).")
        if not request.user.is_staff:
            return JsonResponse({"error": "forbidden", "message": "Only staff may read /metrics."}, status=403)
    return HttpResponse(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
