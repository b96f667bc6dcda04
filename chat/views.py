"""The chat page; its JSON API is chat/api.py and the conversation itself streams over /ws."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chat import selectors

SIDEBAR_MAX = 100


@require_GET
def index(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    conversations = selectors.conversation_list(user=request.user)[:SIDEBAR_MAX]
    current = None
    if conversation_id is not None:
        current = selectors.conversation_get(user=request.user, pk=conversation_id)  # NotFound: the 404 page
    # The knowledge bases attached to the conversation: the settings panel ticks them before its list loads.
    kb_ids = selectors.knowledge_base_ids(conversation=current) if current else []
    context = {"conversations": conversations, "current": current, "current_kb_ids": kb_ids}
    return render(request, "chat/index.html", context)
