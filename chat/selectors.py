"""Reads of chat data. Every read takes the user: anyone else's conversation does not exist."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce

from chat.models import Conversation, Message
from core.errors import NotFound


def conversation_list(*, user: AbstractBaseUser, search: str = "") -> QuerySet[Conversation]:
    qs = Conversation.objects.filter(user=user).annotate(
        message_count=Count("messages", filter=Q(messages__hidden=False))
    )
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(messages__content__icontains=search)).distinct()
    return qs.order_by("-updated_at", "-id")


def conversation_get(*, user: AbstractBaseUser, pk: int) -> Conversation:
    found = Conversation.objects.filter(user=user, pk=pk).first()
    if found is None:
        raise NotFound("No such conversation.")
    return found


def message_get(*, user: AbstractBaseUser, pk: int) -> Message:
    found = Message.objects.select_related("conversation").filter(conversation__user=user, pk=pk).first()
    if found is None:
        raise NotFound("No such message.")
    return found


def position_of(message: Message) -> int:
    """Where a message stands in its conversation: a regenerated answer takes its first version's place."""
    return message.version_of_id or message.pk


def shown_messages(conversation: Conversation) -> QuerySet[Message]:
    """The conversation as it reads: one version of each answer, with `position` to order it by."""
    return conversation.messages.filter(hidden=False).annotate(position=Coalesce("version_of_id", "id"))


def message_page(
    *, conversation: Conversation, limit: int = 50, before: int | None = None
) -> tuple[list[Message], bool]:
    """The `limit` shown messages before position `before`, oldest first, and whether there are older ones."""
    qs = shown_messages(conversation).order_by("-position")
    if before is not None:
        qs = qs.filter(position__lt=before)
    rows = list(qs[: limit + 1])
    has_more = len(rows) > limit
    return list(reversed(rows[:limit])), has_more


def version_ids(messages: list[Message]) -> dict[int, list[int]]:
    """For each answer among `messages`: the ids of all its versions, oldest first (one query)."""
    roots = {position_of(m) for m in messages if m.role == Message.Role.ASSISTANT}
    if not roots:
        return {}
    groups: dict[int, list[int]] = {root: [] for root in roots}
    rows = Message.objects.filter(Q(pk__in=roots) | Q(version_of_id__in=roots)).order_by("id")
    for pk, root in rows.values_list("pk", "version_of_id"):
        groups[root or pk].append(pk)
    return {m.pk: groups[position_of(m)] for m in messages if m.role == Message.Role.ASSISTANT}


def history_for_model(*, conversation: Conversation, upto: Message, max_messages: int = 40) -> list[dict]:
    """The conversation as the model sees it: system prompt, then the shown messages before `upto`."""
    rows = list(
        shown_messages(conversation)
        .filter(position__lt=position_of(upto), role__in=["user", "assistant"])
        .exclude(status=Message.Status.FAILED)
        .order_by("-position")[:max_messages]
    )
    messages = [{"role": m.role, "content": m.content} for m in reversed(rows) if m.content]
    while messages and messages[-1]["role"] == "assistant":  # an answer after the question is not context
        messages.pop()
    if conversation.system_prompt:
        messages.insert(0, {"role": "system", "content": conversation.system_prompt})
    return messages


def knowledge_base_ids(*, conversation: Conversation) -> list[int]:
    return sorted(conversation.knowledge_bases.values_list("pk", flat=True))
