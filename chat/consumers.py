"""/ws: one consumer speaks shared/protocol.md. Each client frame is validated by a schema and
dispatched through a table; one ProtocolError becomes one `error` frame in one place."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import connections, generation, schema, selectors, serializers, services
from chat import protocol as p
from core import selectors as core_selectors
from core.errors import AppError, NotFound

log = logging.getLogger(__name__)

PARALLEL_WRITES = settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"


def now_ms() -> int:
    return int(time.time() * 1000)


class ProtocolConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=p.CLOSE_UNAUTHORIZED)
            return
        self.followers: dict[int, asyncio.Task] = {}
        self.monitoring = False
        self.tasks: set[int] = set()
        self.last_touch = time.monotonic()
        await self.accept()
        self.credentials_watch = asyncio.create_task(self.credentials_watch_run())
        await connections.connection_add(self, self.user.pk)
        await self.send_json(
            {
                "type": "welcome",
                "protocol": p.PROTOCOL_VERSION,
                "user": {"id": self.user.pk, "username": self.user.get_username()},
                "limits": {
                    "max_frame_bytes": settings.WS_MAX_FRAME_BYTES,
                    "messages_per_minute": settings.WS_MESSAGES_PER_MINUTE,
                },
                "server_time": now_ms(),
            }
        )

    async def credentials_watch_run(self) -> None:
        """Close the socket (4401) soon after its token is revoked, its session logged out or its user
        deactivated: the handshake alone would let it answer for as long as it stays open."""
        interval = settings.WS_AUTH_RECHECK_S
        if interval <= 0:
            return
        session = self.scope.get("session")
        token_hash = self.scope.get("api_token_hash") if self.scope.get("auth_method") == "token" else None
        session_key = session.session_key if token_hash is None and session is not None else None
        check = database_sync_to_async(core_selectors.credentials_still_valid)
        while True:
            await asyncio.sleep(interval)
            try:
                valid = await check(user_id=self.user.pk, api_token_hash=token_hash, session_key=session_key)
            except Exception:
                # A database blip is no reason to drop every socket; the next round decides.
                log.warning("could not re-check the credentials of a /ws connection", exc_info=True)
                continue
            if not valid:
                log.info("closing /ws of user %s: its credentials are no longer valid", self.user.pk)
                await self.close(code=p.CLOSE_UNAUTHORIZED)
                return

    async def disconnect(self, code: int) -> None:
        watch = getattr(self, "credentials_watch", None)
        if watch is not None:
            watch.cancel()
        # Following stops; generating does not (the answer belongs to no socket).
        for task in getattr(self, "followers", {}).values():
            task.cancel()
        if getattr(self, "monitoring", False):
            from monitoring.live import BROADCASTER

            BROADCASTER.unsubscribe(self.send_metrics)
        if getattr(self, "tasks", None):
            from core import jobs

            for task_id in self.tasks:
                await self.channel_layer.group_discard(jobs.group_name(task_id), self.channel_name)
        if getattr(self, "user", None) is not None and self.user.is_authenticated:
            await connections.connection_remove(self, self.user.pk)

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
            wait = await connections.rate_limit_check(self.user.pk, kind)
            if wait:
                raise p.ProtocolError(
                    p.RATE_LIMITED, f"too many {kind} messages; try again shortly", retry_after_s=round(wait, 2)
                )
            if time.monotonic() - self.last_touch > 30:
                self.last_touch = time.monotonic()
                await connections.connection_touch(self, self.user.pk)
            await handler(self, frame, frame_id)
        except p.ProtocolError as exc:
            await self.send_error(frame_id, exc.code, exc.message, **exc.extra)
        except NotFound:
            await self.send_error(frame_id, p.NOT_FOUND, "no such conversation or message")
        except AppError as exc:  # bad input (a frame field, a service's check) or a conflict: the caller's to fix
            await self.send_error(frame_id, p.BAD_REQUEST, exc.message)
        except Exception:
            log.exception("ws handler failed")
            await self.send_error(frame_id, p.INTERNAL, "internal error; the connection is still usable")

    async def send_json(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))

    async def send_error(self, frame_id: str | None, code: str, message: str, **extra) -> None:
        await self.send_json({"type": "error", "id": frame_id, "code": code, "message": message, **extra})

    # --- handlers ---
    async def handle_ping(self, frame: dict, frame_id: str | None) -> None:
        await self.send_json({"type": "pong", "id": frame_id, "ts": now_ms()})

    async def handle_chat_send(self, frame: dict, frame_id: str | None) -> None:
        data = schema.validate(frame, schema.CHAT_SEND)
        options = schema.validate(data["options"] or {}, schema.OPTIONS, prefix="options.")
        options = {k: v for k, v in options.items() if v is not None}

        def start() -> tuple[services.Started, list[dict]]:
            # One thread hop for both writes and the history read. SQLite takes one writer at a
            # time and its busy-wait sleeps for milliseconds, so there the writes queue on the
            # shared ORM thread; a server database takes them in parallel threads.
            started = services.chat_start(
                user=self.user,
                content=data["content"],
                conversation_id=data["conversation_id"],
                model=data["model"] or "",
                system=data["system"],
                options=options,
                knowledge_base_ids=data["knowledge_base_ids"],
            )
            if started.new:  # nothing before the first message: no need to read it back
                system = started.conversation.system_prompt
                history = [
                    *([{"role": "system", "content": system}] if system else []),
                    {"role": "user", "content": started.user_message.content},
                ]
            else:
                history = selectors.history_for_model(conversation=started.conversation, upto=started.assistant_message)
            return started, history

        started, history = await database_sync_to_async(start, thread_sensitive=PARALLEL_WRITES is False)()
        await generation.answer_start(
            user=self.user,
            conversation=started.conversation,
            assistant=started.assistant_message,
            history=history,
            validate=bool(data["validate"]),
            kb_ids=started.knowledge_base_ids,
            question=started.user_message.content,
        )
        await self.send_json(
            {
                "type": "chat:started",
                "id": frame_id,
                "conversation_id": started.conversation.pk,
                "user_message_id": started.user_message.pk,
                "assistant_message_id": started.assistant_message.pk,
                "model": started.assistant_message.model or None,
            }
        )
        self.follow(started.assistant_message.pk, -1, frame_id)

    def follow(self, message_id: int, after_seq: int, frame_id: str | None) -> None:
        previous = self.followers.pop(message_id, None)
        if previous is not None:
            previous.cancel()

        async def run() -> None:
            try:
                await generation.follow(
                    message_id=message_id, after_seq=after_seq, frame_id=frame_id, send=self.send_json
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following message %s failed", message_id)
                await self.send_error(frame_id, p.INTERNAL, "the stream could not be followed; send chat:resume again")

        task = asyncio.create_task(run())
        self.followers[message_id] = task
        task.add_done_callback(
            lambda t: self.followers.pop(message_id, None) if self.followers.get(message_id) is t else None
        )

    async def handle_chat_cancel(self, frame: dict, frame_id: str | None) -> None:
        data = schema.validate(frame, schema.CHAT_CANCEL)
        message = await database_sync_to_async(selectors.message_get)(user=self.user, pk=data["message_id"])
        if message.status == message.Status.STREAMING:
            await generation.generation_cancel(message.pk)
        if message.pk not in self.followers:
            self.follow(message.pk, 10**9, frame_id)  # only the end frame, with finish_reason "cancelled"

    async def handle_chat_resume(self, frame: dict, frame_id: str | None) -> None:
        data = schema.validate(frame, schema.CHAT_RESUME)
        message = await database_sync_to_async(selectors.message_get)(user=self.user, pk=data["message_id"])
        if message.role != message.Role.ASSISTANT:
            raise p.ProtocolError(p.BAD_REQUEST, "field 'message_id' must name an assistant message")
        self.follow(message.pk, data["after_seq"], frame_id)

    async def handle_chat_history(self, frame: dict, frame_id: str | None) -> None:
        data = schema.validate(frame, schema.CHAT_HISTORY)
        payload = await database_sync_to_async(self._history)(data)
        await self.send_json({"type": "chat:history", "id": frame_id, **payload})

    def _history(self, data: dict) -> dict:
        if data["conversation_id"] is None:
            rows = selectors.conversation_list(user=self.user).prefetch_related("knowledge_bases")[: data["limit"]]
            return {"conversations": [serializers.conversation_json(c) for c in rows]}
        conversation = selectors.conversation_get(user=self.user, pk=data["conversation_id"])
        messages, has_more = selectors.message_page(
            conversation=conversation, limit=data["limit"], before=data["before"]
        )
        versions = selectors.version_ids(messages)
        return {
            "conversation_id": conversation.pk,
            "messages": [serializers.message_json(m, version_ids=versions.get(m.pk)) for m in messages],
            "has_more": has_more,
        }

    async def send_metrics(self, frame_text: str) -> None:
        await self.send(text_data=frame_text)

    async def handle_monitoring_subscribe(self, frame: dict, frame_id: str | None) -> None:
        from monitoring.live import BROADCASTER

        await self.send_json({"type": "monitoring:subscribed", "id": frame_id, "interval_s": BROADCASTER.interval_s})
        self.monitoring = True
        await BROADCASTER.subscribe(self.send_metrics)

    async def handle_monitoring_unsubscribe(self, frame: dict, frame_id: str | None) -> None:
        from monitoring.live import BROADCASTER

        BROADCASTER.unsubscribe(self.send_metrics)
        self.monitoring = False
        await self.send_json({"type": "monitoring:unsubscribed", "id": frame_id})

    async def handle_task_subscribe(self, frame: dict, frame_id: str | None) -> None:
        from core import jobs

        data = schema.validate(frame, schema.TASK_ID)
        task_id = data["task_id"]
        job = await core_selectors.job_for_user(user=self.user, job_id=task_id)
        if job is None:
            raise p.ProtocolError(p.NOT_FOUND, f"no task {task_id}")
        # Join first, then read: an update racing the read is queued behind this handler.
        await self.channel_layer.group_add(jobs.group_name(task_id), self.channel_name)
        self.tasks.add(task_id)
        job = await core_selectors.job_for_user(user=self.user, job_id=task_id)
        await self.send_json({"type": "task:subscribed", "id": frame_id, "task_id": task_id})
        await self.send_json({"type": "task:update", **jobs.job_state(job)})

    async def handle_task_unsubscribe(self, frame: dict, frame_id: str | None) -> None:
        from core import jobs

        data = schema.validate(frame, schema.TASK_ID)
        task_id = data["task_id"]
        if task_id in self.tasks:
            self.tasks.discard(task_id)
            await self.channel_layer.group_discard(jobs.group_name(task_id), self.channel_name)
        await self.send_json({"type": "task:unsubscribed", "id": frame_id, "task_id": task_id})

    async def task_update(self, event: dict) -> None:
        """A job changed (from a worker, through the channel layer)."""
        if event["state"]["task_id"] in self.tasks:
            await self.send_json({"type": "task:update", **event["state"]})

    handlers = {
        "ping": handle_ping,
        "chat:send": handle_chat_send,
        "chat:cancel": handle_chat_cancel,
        "chat:resume": handle_chat_resume,
        "chat:history": handle_chat_history,
        "monitoring:subscribe": handle_monitoring_subscribe,
        "monitoring:unsubscribe": handle_monitoring_unsubscribe,
        "task:subscribe": handle_task_subscribe,
        "task:unsubscribe": handle_task_unsubscribe,
    }
