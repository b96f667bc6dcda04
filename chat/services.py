"""Writes of chat data. Called from the /ws consumer, the HTTP views and the generation runner."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from chat.models import Conversation, Message
from chat.selectors import NotFound, conversation_get, message_get
from core.errors import InputError

MAX_CONTENT = 32_000
TITLE_LENGTH = 60


class ChatInputError(InputError):
    """Bad input; the message names the field and the problem."""


def title_from(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


@dataclass
class Started:
    conversation: Conversation
    user_message: Message
    assistant_message: Message
    new: bool = False  # a conversation created by this send: its history is its first message
    knowledge_base_ids: list[int] = field(default_factory=list)  # the answer is grounded in these


def knowledge_bases_check(*, user: AbstractBaseUser, ids: list[int]) -> list[int]:
    """The ids, if every one is the user's own knowledge base; otherwise an error naming the others."""
    from knowledge.selectors import kb_list_owned

    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    owned = set(kb_list_owned(user=user, ids=ids).values_list("pk", flat=True))
    unknown = [i for i in ids if i not in owned]
    if unknown:
        raise ChatInputError(
            field="knowledge_base_ids",
            message=f"no knowledge base {', '.join(map(str, unknown))} of yours (field 'knowledge_base_ids')",
        )
    return ids


@transaction.atomic
def chat_start(
    *,
    user: AbstractBaseUser,
    content: str,
    conversation_id: int | None = None,
    model: str = "",
    system: str | None = None,
    options: dict | None = None,
    knowledge_base_ids: list[int] | None = None,
) -> Started:
    """Store the user's message and the assistant's (empty, streaming) in one transaction, before
    any model is called; raises NotFound for anyone else's conversation.

    `knowledge_base_ids`: None keeps the conversation's knowledge bases, a list replaces them."""
    if not content.strip():
        raise ChatInputError(field="content", message="content must not be empty")
    if len(content) > MAX_CONTENT:
        raise ChatInputError(field="content", message=f"content is longer than {MAX_CONTENT} characters")
    kb_ids = knowledge_bases_check(user=user, ids=knowledge_base_ids) if knowledge_base_ids else []
    if conversation_id is None:
        conversation = Conversation.objects.create(
            user=user, title=title_from(content), model=model, system_prompt=system or ""
        )
        if kb_ids:
            conversation.knowledge_bases.set(kb_ids)
    else:
        conversation = Conversation.objects.select_for_update().filter(user=user, pk=conversation_id).first()
        if conversation is None:
            raise NotFound("No such conversation.")
        changed = []
        if system is not None and system != conversation.system_prompt:
            conversation.system_prompt = system
            changed.append("system_prompt")
        if model and model != conversation.model:
            conversation.model = model
            changed.append("model")
        if not conversation.title:
            conversation.title = title_from(content)
            changed.append("title")
        conversation.save(update_fields=[*changed, "updated_at"])
        if knowledge_base_ids is not None:
            conversation.knowledge_bases.set(kb_ids)
        else:
            kb_ids = list(conversation.knowledge_bases.values_list("pk", flat=True))
    user_message = Message(conversation=conversation, role=Message.Role.USER, content=content)
    assistant = Message(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model=model or conversation.model,
        options=options or {},
    )
    if connection.features.can_return_rows_from_bulk_insert:
        # One INSERT for both (ids come back in order): under load every statement on SQLite's
        # single writer is time the next send waits.
        Message.objects.bulk_create([user_message, assistant])
    else:
        user_message.save()
        assistant.save()
    return Started(conversation, user_message, assistant, new=conversation_id is None, knowledge_base_ids=kb_ids)


def message_save_progress(*, message_id: int, content: str) -> None:
    """Keep what has streamed so far, so a crash loses at most the last second."""
    Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(content=content)


def message_finish(
    *,
    message_id: int,
    content: str,
    status: str,
    finish_reason: str = "",
    error: str = "",
    model: str = "",
    backend: str = "",
    timings: dict | None = None,
    usage: dict | None = None,
    attempts: list | None = None,
    citations: list | None = None,
    validation: dict | None = None,
) -> int:
    """Final state of an assistant message; only a message still streaming changes (exactly once)."""
    timings, usage = timings or {}, usage or {}
    fields = {
        "content": content,
        "status": status,
        "finish_reason": finish_reason or "",
        "error": error[:2000],
        "ttft_ms": timings.get("ttft_ms"),
        "total_ms": timings.get("total_ms"),
        "tokens_per_second": timings.get("tokens_per_second"),
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "attempts": attempts or [],
        "updated_at": timezone.now(),
    }
    if citations:
        fields["citations"] = citations
    if validation is not None:
        fields["validation"] = validation
    if model:
        fields["model"] = model
    if backend:
        fields["backend"] = backend
    with transaction.atomic():  # one commit: on SQLite every write transaction is a turn at the one writer
        updated = Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(**fields)
        if updated:
            conversation = Message.objects.filter(pk=message_id).values("conversation_id")
            Conversation.objects.filter(pk__in=conversation).update(updated_at=fields["updated_at"])
    return updated


def conversation_rename(*, user: AbstractBaseUser, pk: int, title: str) -> Conversation:
    title = " ".join((title or "").split())
    if not title:
        raise ChatInputError(field="title", message="the title must not be empty")
    if len(title) > 200:
        raise ChatInputError(field="title", message="the title is longer than 200 characters")
    conversation = conversation_get(user=user, pk=pk)
    conversation.title = title
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


@transaction.atomic
def conversation_update_settings(
    *, user: AbstractBaseUser, pk: int, system_prompt: str, model: str, knowledge_base_ids: list[int] | None = None
) -> Conversation:
    """Instructions, model and (when given) the knowledge bases answers are grounded in."""
    conversation = conversation_get(user=user, pk=pk)
    if knowledge_base_ids is not None:
        conversation.knowledge_bases.set(knowledge_bases_check(user=user, ids=knowledge_base_ids))
    conversation.system_prompt = system_prompt or ""
    conversation.model = model or ""
    conversation.save(update_fields=["system_prompt", "model", "updated_at"])
    return conversation


def conversation_delete(*, user: AbstractBaseUser, pk: int) -> None:
    conversation_get(user=user, pk=pk).delete()


def message_rate(*, user: AbstractBaseUser, pk: int, rating: int | None, note: str = "") -> Message:
    """Thumbs up (+1) / down (-1) / cleared (None) with a note; training uses these later."""
    if rating not in (1, -1, None):
        raise ChatInputError(field="rating", message="rating must be 1, -1 or null")
    message = message_get(user=user, pk=pk)
    if message.role != Message.Role.ASSISTANT:
        raise ChatInputError(field="message", message="only answers can be rated")
    message.rating = rating
    message.rating_note = (note or "")[:2000]
    message.save(update_fields=["rating", "rating_note", "updated_at"])
    return message


MAX_VERSIONS = 20


def _version_group(message: Message):
    root = message.version_of_id or message.pk
    return Message.objects.filter(Q(pk=root) | Q(version_of_id=root))


@transaction.atomic
def message_regenerate(*, user: AbstractBaseUser, pk: int) -> Message:
    """A fresh answer to the same question, in the old one's place; the old one stays as a version."""
    old = message_get(user=user, pk=pk)
    if old.role != Message.Role.ASSISTANT:
        raise ChatInputError(field="message", message="only answers can be regenerated")
    # The first version's row is the group's lock: two clicks at once make one new version.
    Message.objects.select_for_update().filter(pk=old.version_of_id or old.pk).first()
    group = _version_group(old)
    if group.filter(status=Message.Status.STREAMING).exists():
        raise ChatInputError(field="message", message="this answer is still being written; stop it first")
    if group.count() >= MAX_VERSIONS:
        raise ChatInputError(
            field="message",
            message=f"this answer already has {MAX_VERSIONS} versions; ask again in a new message instead",
        )
    group.update(hidden=True)
    return Message.objects.create(
        conversation=old.conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model=old.conversation.model or old.model,
        options=old.options,
        version_of_id=old.version_of_id or old.pk,
    )


@transaction.atomic
def message_show(*, user: AbstractBaseUser, pk: int) -> Message:
    """Show this version of an answer in its place (the others stay, hidden)."""
    message = message_get(user=user, pk=pk)
    if message.role != Message.Role.ASSISTANT:
        raise ChatInputError(field="message", message="only answers have versions")
    Message.objects.select_for_update().filter(pk=message.version_of_id or message.pk).first()
    group = _version_group(message)
    if group.exclude(pk=message.pk).filter(status=Message.Status.STREAMING).exists():
        raise ChatInputError(
            field="message", message="another version of this answer is still being written; wait or stop it"
        )
    group.exclude(pk=message.pk).update(hidden=True)
    if message.hidden:
        Message.objects.filter(pk=message.pk).update(hidden=False)
        message.hidden = False
    return message
