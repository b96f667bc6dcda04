"""Chat's small JSON API (the conversation itself streams over /ws): list and edit conversations, rate,
regenerate and flip answers, and who is connected. Errors in the core.http envelope."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import connections, generation, selectors, serializers, services
from core.http import BadJSON, json_api, json_body
from core.schema import Field, validate
from core.selectors import usernames
from core.validation import MODEL_ID_MAX

LIST_MAX = 100
SEARCH_MAX = 200


def _body(request: HttpRequest) -> dict:
    try:
        return json_body(request)
    except BadJSON as exc:
        raise services.ChatInputError(field="body", message=str(exc)) from None


SETTINGS = {
    "system_prompt": Field("str", nullable=True, max=32000, default=""),
    "model": Field("str", nullable=True, max=MODEL_ID_MAX, default=""),
    "knowledge_base_ids": Field("int_list", nullable=True, max=20),
}
REGENERATE = {"validate": Field("bool", nullable=True, default=False)}


@json_api
@require_GET
def conversation_list(request: HttpRequest) -> JsonResponse:
    search = request.GET.get("q", "").strip()[:SEARCH_MAX]
    rows = selectors.conversation_list(user=request.user, search=search).prefetch_related("knowledge_bases")
    return JsonResponse({"conversations": [serializers.conversation_json(c) for c in rows[:LIST_MAX]]})


@json_api
@require_http_methods(["PATCH", "DELETE"])
def conversation_detail(request: HttpRequest, pk: int) -> JsonResponse:
    if request.method == "DELETE":
        services.conversation_delete(user=request.user, pk=pk)
        return JsonResponse({"deleted": pk})
    body = _body(request)
    if "title" in body:
        found = services.conversation_rename(user=request.user, pk=pk, title=str(body["title"]))
    else:
        fields = validate(body, SETTINGS, error=services.ChatInputError)
        found = services.conversation_update_settings(
            user=request.user,
            pk=pk,
            system_prompt=fields["system_prompt"] or "",
            model=fields["model"] or "",
            knowledge_base_ids=fields["knowledge_base_ids"],
        )
    return JsonResponse(serializers.conversation_json(found))


@json_api
@require_POST
def message_rate(request: HttpRequest, pk: int) -> JsonResponse:
    body = _body(request)
    message = services.message_rate(
        user=request.user, pk=pk, rating=body.get("rating"), note=str(body.get("note") or "")
    )
    return JsonResponse({"id": message.pk, "rating": message.rating, "note": message.rating_note})


def _with_versions(message) -> dict:
    versions = selectors.version_ids([message])
    return serializers.message_json(message, version_ids=versions.get(message.pk))


@json_api
@require_POST
async def message_regenerate(request: HttpRequest, pk: int) -> JsonResponse:
    """A new answer to the same question, in the old one's place (which stays as a version);
    written in this process, follow it with chat:resume."""
    body = _body(request) if request.body else {}
    check = validate(body, REGENERATE, error=services.ChatInputError)["validate"] or False
    user = await database_sync_to_async(lambda: request.user)()
    message = await database_sync_to_async(services.message_regenerate)(user=user, pk=pk)
    conversation = await database_sync_to_async(lambda: message.conversation)()
    kb_ids = [kb async for kb in conversation.knowledge_bases.values_list("pk", flat=True)]
    await generation.answer_start(
        user=user, conversation=conversation, assistant=message, validate=check, kb_ids=kb_ids
    )
    payload = await database_sync_to_async(_with_versions)(message)
    return JsonResponse(
        {"assistant_message_id": message.pk, "conversation_id": conversation.pk, "replaces": pk, "message": payload},
        status=202,
    )


@json_api
@require_POST
def message_show(request: HttpRequest, pk: int) -> JsonResponse:
    """Flip an answer to another of its versions; the reply is the version now shown."""
    return JsonResponse(_with_versions(services.message_show(user=request.user, pk=pk)))


@json_api
@require_GET
def connection_counts(request: HttpRequest) -> JsonResponse:
    if not request.user.is_staff:
        raise PermissionDenied("Only staff see who is connected.")
    counts = async_to_sync(connections.connections_count)()
    names = usernames(ids=counts)
    users = [{"user_id": uid, "username": names.get(uid, "?"), "connections": n} for uid, n in sorted(counts.items())]
    return JsonResponse({"connections": sum(counts.values()), "users": users})
