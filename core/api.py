"""Core's JSON: /healthz (anyone may ask; details for signed-in users) and /api/me."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import health_report
from core.http import json_api
from core.serializers import me_json


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    if not request.user.is_authenticated:
        # Anyone (a load balancer) may ask; only signed-in users see addresses and error details.
        for check in report["checks"].values():
            check.pop("error", None)
        for backend in report["backends"]:
            for key in ("url", "error", "models"):
                backend.pop(key, None)
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@json_api
@require_GET
def api_me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(me_json(request.user, auth=getattr(request, "auth_method", "session")))
