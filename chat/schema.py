"""The client frames of shared/protocol.md, declared for core.schema.validate: a missing or mistyped field
is `bad_request` naming the field; unknown extra fields are ignored."""

from __future__ import annotations

from core.schema import Field, validate
from core.validation import MODEL_ID_MAX

__all__ = ["Field", "validate"]

OPTIONS = {
    "temperature": Field("number", nullable=True, min=0, max=2),
    "max_tokens": Field("int", nullable=True, min=1, max=32768),
    "top_p": Field("number", nullable=True, min=0, max=1),
}

CHAT_SEND = {
    "content": Field("str", required=True, min=1, max=32000),
    "conversation_id": Field("int", nullable=True),
    "model": Field("str", nullable=True, max=MODEL_ID_MAX),
    "system": Field("str", nullable=True, max=32000),
    "options": Field("object", nullable=True),
    "validate": Field("bool", nullable=True, default=False),
    # addition (docs/protocol-additions.md): ground the answers in these knowledge bases
    "knowledge_base_ids": Field("int_list", nullable=True, max=20),
}
CHAT_CANCEL = {"message_id": Field("int", required=True)}
CHAT_RESUME = {"message_id": Field("int", required=True), "after_seq": Field("int", nullable=True, min=-1, default=-1)}
CHAT_HISTORY = {
    "conversation_id": Field("int", nullable=True),
    "limit": Field("int", nullable=True, min=1, max=500, default=50),
    "before": Field("int", nullable=True),
}
TASK_ID = {"task_id": Field("int", required=True)}
