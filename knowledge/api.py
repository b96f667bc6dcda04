"""The knowledge JSON API (for the pages and for scripts with an API token). Thin: parse, call one service
or selector, shape the answer; errors are core.http's envelope, and another user's base or source is 404.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import Conflict, InputError
from core.http import error_response, json_api, json_body
from knowledge import retrieval, selectors, services
from knowledge.models import KnowledgeBase
from knowledge.serializers import base_json, chunk_json, source_json

# --- bases ---


@json_api
@require_http_methods(["GET", "POST"])
def api_bases(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"bases": [base_json(kb) for kb in selectors.kb_list(user=request.user)]})
    body = json_body(request)
    kb = services.kb_create(user=request.user, name=body.get("name"), description=body.get("description", ""))
    return JsonResponse({"base": base_json(selectors.kb_get(user=request.user, pk=kb.pk))}, status=201)


@json_api
@require_http_methods(["GET", "PATCH", "DELETE"])
def api_base(request: HttpRequest, pk: int) -> HttpResponse:
    kb = selectors.kb_get(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.kb_delete(kb=kb)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        body = json_body(request)
        services.kb_update(kb=kb, name=body.get("name"), description=body.get("description"))
        kb = selectors.kb_get(user=request.user, pk=pk)
    return JsonResponse({"base": base_json(kb)})


class CappedUploadHandler(FileUploadHandler):
    """Stops storing an uploaded file as soon as it passes the size cap, so a huge upload is refused
    with our message instead of being written to a temporary file in full first."""

    def __init__(self, request=None, cap: int = 0) -> None:
        super().__init__(request)
        self.cap = cap
        self.size = 0
        self.too_large: str | None = None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.size += len(raw_data)
        if self.size > self.cap:
            self.too_large = self.file_name
            # Not a connection reset: the rest of the body is read and dropped, so the client gets our answer.
            raise StopUpload(connection_reset=False)
        return raw_data  # the next handlers (memory, then temporary file) keep it

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt  # checked in _sources_post, after our upload handler is in place (Django's documented way)
@json_api
@require_http_methods(["GET", "POST"])
def api_base_sources(request: HttpRequest, pk: int) -> HttpResponse:
    kb = selectors.kb_get(user=request.user, pk=pk)
    if request.method == "GET":
        return JsonResponse({"sources": [source_json(s) for s in selectors.source_list(user=request.user, kb=kb)]})
    capped = None
    if request.content_type == "multipart/form-data":
        cap = services.max_upload_bytes()
        limit = services.FILES_PER_UPLOAD * cap + 1024 * 1024
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            message = (
                f"the upload is larger than {services.FILES_PER_UPLOAD} files of {settings.KNOWLEDGE_MAX_UPLOAD_MB} MB"
            )
            return error_response(message, 413, "too_large", "file")
        capped = CappedUploadHandler(request, cap=cap)
        request.upload_handlers.insert(0, capped)
    return _sources_post(request, kb, capped)


@csrf_protect
def _sources_post(request: HttpRequest, kb: KnowledgeBase, capped: CappedUploadHandler | None) -> JsonResponse:
    if capped is not None:
        files = request.FILES.getlist("file")
        if capped.too_large is not None:
            name = services.extract.display_name(capped.too_large)
            raise services.KnowledgeInputError(
                f"{name} is larger than {settings.KNOWLEDGE_MAX_UPLOAD_MB} MB", field="file"
            )
        sources = services.sources_add_files(user=request.user, kb=kb, uploads=files)
        return JsonResponse(
            {"sources": [source_json(s) for s in sources], "jobs": [s.job_id for s in sources]}, status=201
        )
    body = json_body(request)
    kind = body.get("kind")
    if kind == "text":
        source = services.source_add_text(user=request.user, kb=kb, title=body.get("title"), text=body.get("text"))
    elif kind == "url":
        source = services.source_add_url(user=request.user, kb=kb, url=body.get("url"))
    else:
        raise services.KnowledgeInputError(
            'kind: "text" (with title and text) or "url" (with url); files go as multipart `file`', field="kind"
        )
    return JsonResponse({"source": source_json(source), "job_id": source.job_id}, status=201)


# --- sources ---


@json_api
@require_http_methods(["GET", "DELETE"])
def api_source(request: HttpRequest, pk: int) -> HttpResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.source_delete(source=source)
        return HttpResponse(status=204)
    chunks = selectors.chunk_list(user=request.user, source=source)
    return JsonResponse({"source": source_json(source), "chunks": [chunk_json(c) for c in chunks]})


@json_api
@require_POST
def api_source_rescrape(request: HttpRequest, pk: int) -> JsonResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    try:
        job = services.source_rescrape(user=request.user, source=source)
    except services.KnowledgeInputError as exc:  # valid, but not for this source or not now
        raise Conflict(str(exc)) from exc
    return JsonResponse({"job_id": job.pk, "source": source_json(source)}, status=201)


@json_api
@require_POST
def api_source_reingest(request: HttpRequest, pk: int) -> JsonResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    try:
        job = services.source_reingest(user=request.user, source=source)
    except services.KnowledgeInputError as exc:  # valid, but not for this source or not now
        raise Conflict(str(exc)) from exc
    return JsonResponse({"job_id": job.pk, "source": source_json(source)}, status=201)


@json_api
@require_POST
def api_base_reembed(request: HttpRequest, pk: int) -> JsonResponse:
    kb = selectors.kb_get(user=request.user, pk=pk)
    body = json_body(request)
    job = services.kb_reembed(user=request.user, kb=kb, model=body.get("model"))
    return JsonResponse({"job_id": job.pk}, status=201)


# --- search ---


def _search(request: HttpRequest, kb_ids: list[int]) -> JsonResponse:
    query = (request.GET.get("q") or "").strip()
    if not query:
        raise InputError("q: give a search query, e.g. ?q=how+do+I+install", field="q")
    if len(query) > 2000:
        raise InputError("q: at most 2000 characters", field="q")
    try:
        k = int(request.GET.get("k") or 5)
    except ValueError:
        raise InputError("k: a whole number of results, 1 to 50", field="k") from None
    if not 1 <= k <= retrieval.K_MAX:
        raise InputError(f"k: 1 to {retrieval.K_MAX}", field="k")
    started = time.perf_counter()
    result = retrieval.search_detailed(user=request.user, kb_ids=kb_ids, query=query, k=k)
    took_ms = round((time.perf_counter() - started) * 1000, 1)
    answer: dict = {"hits": result.hits, "took_ms": took_ms}
    if result.warnings:
        answer["warnings"] = result.warnings
    return JsonResponse(answer)


@json_api
@require_GET
def api_base_search(request: HttpRequest, pk: int) -> JsonResponse:
    kb = selectors.kb_get(user=request.user, pk=pk)
    return _search(request, [kb.pk])


@json_api
@require_GET
def api_search(request: HttpRequest) -> JsonResponse:
    raw = request.GET.getlist("kb")
    try:
        kb_ids = [int(v) for v in raw]
    except ValueError:
        raise InputError("kb: knowledge base ids, e.g. ?kb=1&kb=2", field="kb") from None
    if not kb_ids:  # none named: all of the caller's bases
        kb_ids = list(selectors.kb_list(user=request.user).values_list("pk", flat=True))
    return _search(request, kb_ids)
