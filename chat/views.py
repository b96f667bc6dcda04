"""The chat page and its small JSON API (the conversation itself streams over /ws)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import connections, generation, selectors, serializers, services
from core.auth import api_view
from core.http import BadJSON, json_body


def _body(request: HttpRequest) -> dict:
    try:
        return json_body(request)
    except BadJSON as exc:
        raise services.ChatInputError("body", str(exc)) from None


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@require_GET
def index(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    conversations = selectors.conversation_list(user=request.user)[:100]
    current = None
    if conversation_id is not None:
        try:
            current = selectors.conversation_get(user=request.user, pk=conversation_id)
        except selectors.NotFound:
            return render(request, "404.html", status=404)
    # The knowledge bases attached to the conversation: the settings panel ticks them before its list loads.
    kb_ids = sorted(current.knowledge_bases.values_list("pk", flat=True)) if current else []
    return render(
        request, "chat/index.html", {"conversations": conversations, "current": current, "current_kb_ids": kb_ids}
    )


@api_view
@require_GET
def conversations(request: HttpRequest) -> JsonResponse:
    rows = selectors.conversation_list(
        user=request.user, search=request.GET.get("q", "").strip()[:200]
    ).prefetch_related("knowledge_bases")[:100]
    return JsonResponse({"conversations": [serializers.conversation_json(c) for c in rows]})


@api_view
@require_http_methods(["PATCH", "DELETE"])
def conversation(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        if request.method == "DELETE":
            services.conversation_delete(user=request.user, pk=pk)
            return JsonResponse({"deleted": pk})
        body = _body(request)
        if "title" in body:
            found = services.conversation_rename(user=request.user, pk=pk, title=str(body["title"]))
        else:
            kb_ids = body.get("knowledge_base_ids")
            if kb_ids is not None and (
                not isinstance(kb_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in kb_ids)
            ):
                raise services.ChatInputError("knowledge_base_ids", "knowledge_base_ids must be a list of integers")
            found = services.conversation_update_settings(
                user=request.user, pk=pk, system_prompt=str(body.get("system_prompt") or ""),
                model=str(body.get("model") or ""), knowledge_base_ids=kb_ids,
            )  # fmt: skip
    except selectors.NotFound:
        return _error(404, "No such conversation.")
    except services.ChatInputError as exc:
        return _error(400, str(exc))
    return JsonResponse(serializers.conversation_json(found))


@api_view
@require_POST
def message_rate(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        body = _body(request)
        message = services.message_rate(
            user=request.user, pk=pk, rating=body.get("rating"), note=str(body.get("note") or "")
        )
    except selectors.NotFound:
        return _error(404, "No such message.")
    except services.ChatInputError as exc:
        return _error(400, str(exc))
    return JsonResponse({"id": message.pk, "rating": message.rating, "note": message.rating_note})


def _with_versions(message) -> dict:
    versions = selectors.version_ids([message])
    return serializers.message_json(message, version_ids=versions.get(message.pk))


@api_view
@require_POST
async def message_regenerate(request: HttpRequest, pk: int) -> JsonResponse:
    """A new answer to the same question, in the old one's place (which stays as a version);
    written in this process, follow it with chat:resume."""
    try:
        body = _body(request) if request.body else {}
        validate = body.get("validate", False)
        if not isinstance(validate, bool):
            raise services.ChatInputError("validate", "validate must be true or false")
        user = await database_sync_to_async(lambda: request.user)()
        message = await database_sync_to_async(services.message_regenerate)(user=user, pk=pk)
    except selectors.NotFound:
        return _error(404, "No such message.")
    except services.ChatInputError as exc:
        return _error(400, str(exc))
    conversation = await database_sync_to_async(lambda: message.conversation)()
    kb_ids = [kb async for kb in conversation.knowledge_bases.values_list("pk", flat=True)]
    await generation.answer_start(
        user=user, conversation=conversation, assistant=message, validate=validate, kb_ids=kb_ids
    )
    payload = await database_sync_to_async(_with_versions)(message)
    return JsonResponse(
        {"assistant_message_id": message.pk, "conversation_id": conversation.pk, "replaces": pk, "message": payload},
        status=202,
    )


@api_view
@require_POST
def message_show(request: HttpRequest, pk: int) -> JsonResponse:
    """Flip an answer to another of its versions; the reply is the version now shown."""
    try:
        message = services.message_show(user=request.user, pk=pk)
    except selectors.NotFound:
        return _error(404, "No such message.")
    except services.ChatInputError as exc:
        return _error(400, str(exc))
    return JsonResponse(_with_versions(message))


@api_view
@require_GET
def connection_counts(request: HttpRequest) -> JsonResponse:
    if not request.user.is_staff:
        return _error(403, "Only staff see who is connected.")
    counts = async_to_sync(connections.connections_count)()
    from django.contrib.auth import get_user_model

    names = dict(get_user_model().objects.filter(pk__in=counts).values_list("pk", "username"))
    return JsonResponse({"connections": sum(counts.values()), "users": [
        {"user_id": uid, "username": names.get(uid, "?"), "connections": n} for uid, n in sorted(counts.items())
    ]})  # fmt: skip
