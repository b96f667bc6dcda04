"""The one JSON shape of a conversation and of a message, for the HTTP API and /ws alike."""

from __future__ import annotations

from chat.models import Conversation, Message
from chat.selectors import position_of


def conversation_json(c: Conversation) -> dict:
    """Prefetch `knowledge_bases` when listing many."""
    return {
        "id": c.pk,
        "title": c.title,
        "updated_at": c.updated_at.isoformat(),
        "message_count": getattr(c, "message_count", None),
        "model": c.model,
        "system_prompt": c.system_prompt,
        "knowledge_base_ids": sorted(kb.pk for kb in c.knowledge_bases.all()),
    }


def message_json(m: Message, *, version_ids: list[int] | None = None) -> dict:
    """`version_ids`: all versions of this answer, oldest first (from `selectors.version_ids`)."""
    data = {
        "id": m.pk,
        "role": m.role,
        "content": m.content,
        "model": m.model,
        "status": m.status,
        "created_at": m.created_at.isoformat(),
        "rating": m.rating,
        "position": position_of(m),
    }
    if m.citations:
        data["citations"] = m.citations
    if m.validation:
        data["validation"] = m.validation
    if version_ids and len(version_ids) > 1:
        data["version_ids"] = version_ids
    return data
