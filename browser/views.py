"""The browser pages: run a scrape or an automation, follow a job live, download its files."""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from browser import jobs as browser_jobs
from browser import selectors
from browser.serializers import job_json

EXAMPLE_SCRIPT = """[
  {"action": "goto", "url": "https://example.com/"},
  {"action": "wait_for", "selector": "h1"},
  {"action": "extract", "selector": "h1", "as": "text"},
  {"action": "screenshot"}
]"""


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    recent = selectors.job_list(user=request.user)[:30]
    return render(request, "browser/index.html", {"jobs": recent, "example_script": EXAMPLE_SCRIPT})


@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.job_get(user=request.user, pk=pk)
    return render(request, "browser/job.html", {"job": job, "job_json": job_json(job)})


@require_GET
def job_file(request: HttpRequest, pk: int, name: str) -> FileResponse:
    job = selectors.job_get(user=request.user, pk=pk)
    path = browser_jobs.job_file(job, name)
    if path is None:
        raise Http404("No such file for this job.")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type not in ("image/png", "application/pdf"):
        content_type = "application/octet-stream"
    response = FileResponse(
        path.open("rb"), content_type=content_type, as_attachment="download" in request.GET, filename=path.name
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
