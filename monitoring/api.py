"""Monitoring's JSON API: metric history, the hosts reporting, alerts. Errors in the core.http envelope."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.errors import InputError
from core.http import json_api
from monitoring import history, selectors
from monitoring.metrics import host_name
from monitoring.serializers import alert_event_json

ALERTS_MAX = 100


@json_api
@require_GET
def history_series(request: HttpRequest) -> JsonResponse:
    range_name = request.GET.get("range", "1h")
    if range_name not in history.RANGES:
        raise InputError(f"range must be one of {', '.join(history.RANGES)}", field="range")
    host = request.GET.get("host") or host_name()
    return JsonResponse(history.series(host=host, range_name=range_name))


@json_api
@require_GET
def hosts(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"this_host": host_name(), "hosts": sorted({host_name(), *history.hosts()})})


@json_api
@require_GET
def alert_list(request: HttpRequest) -> JsonResponse:
    """Open alerts (for every page's header) and, with ?all=1, the recent history."""
    events = selectors.event_list(open_only=request.GET.get("all") != "1")[:ALERTS_MAX]
    return JsonResponse(
        {
            "open_count": selectors.event_open_count(),
            "alerts": [alert_event_json(e) for e in events],
            "now": timezone.now().isoformat(),
        }
    )
