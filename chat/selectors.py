"""Reads of chat data. Every read takes the user: anyone else's conversation does not exist."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from chat.models import Conversation, Message


class NotFound(Exception):
    """The object does not exist for this user (it may exist for another)."""


def conversation_list(*, user: AbstractBaseUser, search: str = "") -> QuerySet[Conversation]:
    qs = Conversation.objects.filter(user=user).annotate(message_count=Count("messages"))
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(messages__content__icontains=search)).distinct()
    return qs.order_by("-updated_at", "-id")


def conversation_get(*, user: AbstractBaseUser, pk: int) -> Conversation:
    found = Conversation.objects.filter(user=user, pk=pk).first()
    if found is None:
        raise NotFound(f"conversation {pk}")
    return found


def message_get(*, user: AbstractBaseUser, pk: int) -> Message:
    found = Message.objects.select_related("conversation").filter(conversation__user=user, pk=pk).first()
    if found is None:
        raise NotFound(f"message {pk}")
    return found


def message_page(
    *, conversation: Conversation, limit: int = 50, before: int | None = None
) -> tuple[list[Message], bool]:
    """The `limit` messages before `before` (a message id), oldest first, and whether there are older ones."""
    qs = conversation.messages.order_by("-id")
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs[: limit + 1])
    has_more = len(rows) > limit
    return list(reversed(rows[:limit])), has_more


def history_for_model(*, conversation: Conversation, upto: Message, max_messages: int = 40) -> list[dict]:
    """The conversation as the model sees it: system prompt, then the last messages before `upto`."""
    rows = list(
        conversation.messages.filter(id__lt=upto.id, role__in=["user", "assistant"])
        .exclude(status=Message.Status.FAILED)
        .order_by("-id")[:max_messages]
    )
    messages = [{"role": m.role, "content": m.content} for m in reversed(rows) if m.content]
    while messages and messages[-1]["role"] == "assistant":  # a regenerated answer replaces these
        messages.pop()
    if conversation.system_prompt:
        messages.insert(0, {"role": "system", "content": conversation.system_prompt})
    return messages
