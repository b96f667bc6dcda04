"""/ws: one consumer speaks shared/protocol.md. Handlers are looked up in a dispatch table.

Chat, monitoring and task handlers join the table as their issues land; until then their types
answer `unknown_type` like any type the server does not speak.
"""

from __future__ import annotations

import json
import logging
import time

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import protocol as p

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class ProtocolConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=p.CLOSE_UNAUTHORIZED)
            return
        await self.accept()
        await self.send_json(
            {
                "type": "welcome",
                "protocol": p.PROTOCOL_VERSION,
                "user": {"id": user.pk, "username": user.get_username()},
                "limits": {
                    "max_frame_bytes": settings.WS_MAX_FRAME_BYTES,
                    "messages_per_minute": settings.WS_MESSAGES_PER_MINUTE,
                },
                "server_time": now_ms(),
            }
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame_id = None
        try:
            if bytes_data is not None:
                raise p.ProtocolError(p.BAD_REQUEST, "frames must be UTF-8 JSON text, not binary")
            if len(text_data.encode()) > settings.WS_MAX_FRAME_BYTES:
                raise p.ProtocolError(p.TOO_LARGE, f"frame larger than {settings.WS_MAX_FRAME_BYTES} bytes")
            try:
                frame = json.loads(text_data)
            except ValueError:
                raise p.ProtocolError(p.BAD_REQUEST, "frame is not valid JSON") from None
            if not isinstance(frame, dict):
                raise p.ProtocolError(p.BAD_REQUEST, "frame must be a JSON object")
            frame_id = frame.get("id")
            if frame_id is not None and (not isinstance(frame_id, str) or len(frame_id) > p.MAX_ID_LENGTH):
                frame_id = None
                raise p.ProtocolError(p.BAD_REQUEST, f"field 'id' must be a string of at most {p.MAX_ID_LENGTH} chars")
            kind = frame.get("type")
            if not isinstance(kind, str):
                raise p.ProtocolError(p.BAD_REQUEST, "field 'type' is missing or not a string")
            handler = self.handlers.get(kind)
            if handler is None:
                raise p.ProtocolError(p.UNKNOWN_TYPE, f"unknown message type {kind[:64]!r}")
            await handler(self, frame, frame_id)
        except p.ProtocolError as exc:
            await self.send_error(frame_id, exc.code, exc.message, **exc.extra)
        except Exception:
            log.exception("ws handler failed")
            await self.send_error(frame_id, p.INTERNAL, "internal error; the connection is still usable")

    async def send_json(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))

    async def send_error(self, frame_id: str | None, code: str, message: str, **extra) -> None:
        await self.send_json({"type": "error", "id": frame_id, "code": code, "message": message, **extra})

    async def handle_ping(self, frame: dict, frame_id: str | None) -> None:
        await self.send_json({"type": "pong", "id": frame_id, "ts": now_ms()})

    handlers = {"ping": handle_ping}
