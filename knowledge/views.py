"""The knowledge pages (render only; the page modules call the JSON API in knowledge/api.py).

Every read goes through knowledge.selectors, so another user's base or source is a 404 here.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.errors import NotFound
from knowledge import selectors

# --- pages ---


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "knowledge/index.html", {"bases": selectors.kb_list(user=request.user)})


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    kb = selectors.kb_get(user=request.user, pk=pk)
    context = {
        "kb": kb,
        "sources": selectors.source_list(user=request.user, kb=kb),
        "max_upload_mb": settings.KNOWLEDGE_MAX_UPLOAD_MB,
    }
    return render(request, "knowledge/detail.html", context)


@require_GET
def source_page(request: HttpRequest, kb_id: int, pk: int) -> HttpResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    if source.kb_id != kb_id:
        raise NotFound("No such source in this knowledge base.")
    kb = selectors.kb_get(user=request.user, pk=kb_id)
    chunks = selectors.chunk_list(user=request.user, source=source)
    return render(request, "knowledge/source.html", {"kb": kb, "source": source, "chunks": chunks})
