"""The knowledge pages (render only; the page modules call the JSON API) and the JSON API itself.

Every read goes through knowledge.selectors, so another user's base or source is a 404 here.
"""

from __future__ import annotations

import time
from functools import wraps

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.auth import api_view
from core.http import BadJSON, json_body
from knowledge import retrieval, selectors, services
from knowledge.models import Chunk, KnowledgeBase, Source

# --- shaping ---


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def base_json(kb: KnowledgeBase) -> dict:
    return {
        "id": kb.pk, "name": kb.name, "description": kb.description, "embedding_model": kb.embedding_model,
        "source_count": getattr(kb, "source_count", None), "chunk_count": getattr(kb, "chunk_count", None),
        "created_at": _iso(kb.created_at), "updated_at": _iso(kb.updated_at), "url": f"/knowledge/{kb.pk}/",
    }  # fmt: skip


def source_json(source: Source) -> dict:
    return {
        "id": source.pk, "kb_id": source.kb_id, "kind": source.kind, "title": source.display_title,
        "original_name": source.original_name, "mime": source.mime, "size_bytes": source.size_bytes,
        "status": source.status, "error": source.error, "chunk_count": source.chunk_count, "url": source.url,
        "job_id": source.job_id, "created_at": _iso(source.created_at), "updated_at": _iso(source.updated_at),
        "page_url": f"/knowledge/{source.kb_id}/sources/{source.pk}/",
    }  # fmt: skip


def chunk_json(chunk: Chunk) -> dict:
    return {"index": chunk.index, "heading": chunk.heading, "text": chunk.text, "token_count": chunk.token_count}


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def json_api(view):
    """api_view (401 JSON when not logged in) plus a JSON 404 for anything not the caller's."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            return _error(str(exc) or "Not found.", 404)

    return api_view(wrapper)


# --- pages ---


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "knowledge/index.html", {"bases": selectors.kb_list(user=request.user)})


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    kb = selectors.kb_get(user=request.user, pk=pk)
    context = {"kb": kb, "sources": selectors.source_list(user=request.user, kb=kb),
               "max_upload_mb": settings.KNOWLEDGE_MAX_UPLOAD_MB}  # fmt: skip
    return render(request, "knowledge/detail.html", context)


@require_GET
def source_page(request: HttpRequest, kb_id: int, pk: int) -> HttpResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    if source.kb_id != kb_id:
        raise Http404("No such source in this knowledge base.")
    kb = selectors.kb_get(user=request.user, pk=kb_id)
    chunks = selectors.chunk_list(user=request.user, source=source)
    return render(request, "knowledge/source.html", {"kb": kb, "source": source, "chunks": chunks})


# --- bases ---


@json_api
@require_http_methods(["GET", "POST"])
def api_bases(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"bases": [base_json(kb) for kb in selectors.kb_list(user=request.user)]})
    try:
        body = json_body(request)
        kb = services.kb_create(user=request.user, name=body.get("name"), description=body.get("description", ""))
    except (BadJSON, services.KnowledgeInputError) as exc:
        return _error(str(exc))
    return JsonResponse({"base": base_json(selectors.kb_get(user=request.user, pk=kb.pk))}, status=201)


@json_api
@require_http_methods(["GET", "PATCH", "DELETE"])
def api_base(request: HttpRequest, pk: int) -> HttpResponse:
    kb = selectors.kb_get(user=request.user, pk=pk)
    if request.method == "DELETE":
        services.kb_delete(kb=kb)
        return HttpResponse(status=204)
    if request.method == "PATCH":
        try:
            body = json_body(request)
            services.kb_update(kb=kb, name=body.get("name"), description=body.get("description"))
        except (BadJSON, services.KnowledgeInputError) as exc:
            return _error(str(exc))
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
            return _error(f"the upload is larger than {services.FILES_PER_UPLOAD} files of "
                          f"{settings.KNOWLEDGE_MAX_UPLOAD_MB} MB", 413)  # fmt: skip
        capped = CappedUploadHandler(request, cap=cap)
        request.upload_handlers.insert(0, capped)
    return _sources_post(request, kb, capped)


@csrf_protect
def _sources_post(request: HttpRequest, kb: KnowledgeBase, capped: CappedUploadHandler | None) -> JsonResponse:
    try:
        if capped is not None:
            files = request.FILES.getlist("file")
            if capped.too_large is not None:
                name = services.extract.display_name(capped.too_large)
                return _error(f"{name} is larger than {settings.KNOWLEDGE_MAX_UPLOAD_MB} MB")
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
            return _error('kind: "text" (with title and text) or "url" (with url); files go as multipart `file`')
    except (BadJSON, services.KnowledgeInputError) as exc:
        return _error(str(exc))
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
    except services.KnowledgeInputError as exc:
        return _error(str(exc), 409)
    return JsonResponse({"job_id": job.pk, "source": source_json(source)}, status=201)


@json_api
@require_POST
def api_source_reingest(request: HttpRequest, pk: int) -> JsonResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    try:
        job = services.source_reingest(user=request.user, source=source)
    except services.KnowledgeInputError as exc:
        return _error(str(exc), 409)
    return JsonResponse({"job_id": job.pk, "source": source_json(source)}, status=201)


@json_api
@require_POST
def api_base_reembed(request: HttpRequest, pk: int) -> JsonResponse:
    kb = selectors.kb_get(user=request.user, pk=pk)
    try:
        body = json_body(request)
        job = services.kb_reembed(user=request.user, kb=kb, model=body.get("model"))
    except (BadJSON, services.KnowledgeInputError) as exc:
        return _error(str(exc))
    return JsonResponse({"job_id": job.pk}, status=201)


# --- search ---


def _search(request: HttpRequest, kb_ids: list[int]) -> JsonResponse:
    query = (request.GET.get("q") or "").strip()
    if not query:
        return _error("q: give a search query, e.g. ?q=how+do+I+install")
    if len(query) > 2000:
        return _error("q: at most 2000 characters")
    try:
        k = int(request.GET.get("k") or 5)
    except ValueError:
        return _error("k: a whole number of results, 1 to 50")
    if not 1 <= k <= retrieval.K_MAX:
        return _error(f"k: 1 to {retrieval.K_MAX}")
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
        return _error("kb: knowledge base ids, e.g. ?kb=1&kb=2")
    if not kb_ids:  # none named: all of the caller's bases
        kb_ids = list(selectors.kb_list(user=request.user).values_list("pk", flat=True))
    return _search(request, kb_ids)
