"""The browser page (run a scrape or an automation, follow it live, browse results) and its JSON API."""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from browser import jobs as browser_jobs
from browser import services
from core import jobs
from core.auth import api_view
from core.http import BadJSON, json_body
from core.models import Job

KINDS = ("browser.scrape", "browser.automate")
EXAMPLE_SCRIPT = """[
  {"action": "goto", "url": "https://example.com/"},
  {"action": "wait_for", "selector": "h1"},
  {"action": "extract", "selector": "h1", "as": "text"},
  {"action": "screenshot"}
]"""


def _jobs(user):
    return Job.objects.filter(user=user, kind__in=KINDS)


def _job(request: HttpRequest, pk: int) -> Job:
    return get_object_or_404(_jobs(request.user), pk=pk)


def job_json(job: Job) -> dict:
    return {**jobs.job_state(job), "params": job.params, "log": job.log, "files": browser_jobs.files_of(job),
            "created_at": job.created_at.isoformat(), "retry_of": job.retry_of_id,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "url": f"/browser/jobs/{job.pk}/"}  # fmt: skip


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "browser/index.html", {"jobs": _jobs(request.user)[:30], "example_script": EXAMPLE_SCRIPT})


@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    return render(request, "browser/job.html", {"job": job, "job_json": job_json(job)})


@require_GET
def job_file(request: HttpRequest, pk: int, name: str) -> FileResponse:
    job = _job(request, pk)
    path = browser_jobs.job_file(job, name)
    if path is None:
        raise Http404("No such file for this job.")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type not in ("image/png", "application/pdf"):
        content_type = "application/octet-stream"
    response = FileResponse(path.open("rb"), content_type=content_type, as_attachment="download" in request.GET,
                            filename=path.name)  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@api_view
@require_POST
def api_scrape(request: HttpRequest) -> JsonResponse:
    try:
        body = json_body(request)
        job = services.scrape_start(
            user=request.user, url=body.get("url"), options=body.get("options"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )  # fmt: skip
    except (BadJSON, services.BrowserInputError) as exc:
        return _error(str(exc))
    except jobs.IdempotencyKeyConflict as exc:
        return _error(str(exc), 409)
    return JsonResponse({"job": job_json(job)}, status=201)


@api_view
@require_POST
def api_automate(request: HttpRequest) -> JsonResponse:
    try:
        body = json_body(request)
        job = services.automate_start(
            user=request.user, steps=body.get("steps"), options=body.get("options"), title=body.get("title") or "",
            idempotency_key=request.headers.get("Idempotency-Key"),
        )  # fmt: skip
    except (BadJSON, services.BrowserInputError) as exc:
        return _error(str(exc))
    except jobs.IdempotencyKeyConflict as exc:
        return _error(str(exc), 409)
    return JsonResponse({"job": job_json(job)}, status=201)


@api_view
@require_GET
def api_jobs(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"jobs": [job_json(j) for j in _jobs(request.user)[:50]]})


@api_view
@require_GET
def api_job(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"job": job_json(_job(request, pk))})


@api_view
@require_POST
def api_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        job = jobs.job_cancel(_job(request, pk))
    except jobs.JobError as exc:
        return _error(str(exc), 409)
    return JsonResponse({"job": job_json(job)})


@api_view
@require_POST
def api_retry(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        job = jobs.job_retry(_job(request, pk))
    except jobs.JobError as exc:
        return _error(str(exc), 409)
    return JsonResponse({"job": job_json(job)}, status=201)
