"""The browser's JSON API: start a scrape or an automation, list, read, cancel and retry jobs.
Errors in the one envelope of core.http."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from browser import selectors, services
from browser.serializers import job_json
from core import jobs
from core.http import json_api, json_body

LIST_MAX = 50


@json_api
@require_POST
def scrape(request: HttpRequest) -> JsonResponse:
    body = json_body(request)
    job = services.scrape_start(
        user=request.user,
        url=body.get("url"),
        options=body.get("options"),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return JsonResponse({"job": job_json(job)}, status=201)


@json_api
@require_POST
def automate(request: HttpRequest) -> JsonResponse:
    body = json_body(request)
    job = services.automate_start(
        user=request.user,
        steps=body.get("steps"),
        options=body.get("options"),
        title=body.get("title") or "",
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return JsonResponse({"job": job_json(job)}, status=201)


@json_api
@require_GET
def job_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"jobs": [job_json(j) for j in selectors.job_list(user=request.user)[:LIST_MAX]]})


@json_api
@require_GET
def job_detail(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"job": job_json(selectors.job_get(user=request.user, pk=pk))})


@json_api
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    job = jobs.job_cancel(selectors.job_get(user=request.user, pk=pk))
    return JsonResponse({"job": job_json(job)})


@json_api
@require_POST
def job_retry(request: HttpRequest, pk: int) -> JsonResponse:
    job = jobs.job_retry(selectors.job_get(user=request.user, pk=pk))
    return JsonResponse({"job": job_json(job)}, status=201)
