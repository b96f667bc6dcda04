"""Answers are generated apart from any socket, and streamed through Redis to whoever follows them.

The process that accepts `chat:send` runs the generation as its own asyncio task: it survives the
client leaving, coalesces tokens into at most one frame per 30 ms, appends each frame to a Redis
stream per message (`seq` 0, 1, 2, … without gaps), saves the partial text at least every second
and the final state exactly once. Any connection on any process follows an answer by reading that
stream from `after_seq` on (`chat:resume`). A cancel is a Redis key every generation watches, so it
works from any process. On shutdown running answers are saved as `partial`.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from channels.db import database_sync_to_async

from chat import checking, grounding, selectors, services
from chat.models import Message
from core import redis_clients
from llm import gateway
from monitoring import counters

log = logging.getLogger(__name__)

PREFIX = "orch:chat"
COALESCE_S = 0.030
SAVE_EVERY_S = 1.0
WATCH_EVERY_S = 0.25
ALIVE_TTL_S = 5
STREAM_TTL_S = 3600

RUNNING: dict[int, asyncio.Task] = {}


def stream_key(message_id: int) -> str:
    return f"{PREFIX}:s:{message_id}"


def cancel_key(message_id: int) -> str:
    return f"{PREFIX}:cancel:{message_id}"


def alive_key(message_id: int) -> str:
    return f"{PREFIX}:alive:{message_id}"


def done_payload(message: Message) -> dict:
    """The `chat:done` / `chat:error` fields of a finished message, from the database."""
    base = {"conversation_id": message.conversation_id, "message_id": message.pk}
    if message.status == Message.Status.FAILED or (
        message.status == Message.Status.PARTIAL and message.finish_reason == "error"
    ):
        return {
            "type": "chat:error",
            **base,
            "code": "backend_unavailable",
            "message": message.error or "the answer failed",
            "partial_content": message.content,
        }
    completion = message.completion_tokens
    prompt = message.prompt_tokens
    return {
        "type": "chat:done",
        **base,
        "content": message.content,
        "model": message.model,
        "finish_reason": message.finish_reason
        or ("stop" if message.status == Message.Status.COMPLETE else "cancelled"),
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": (prompt or 0) + (completion or 0) if prompt is not None else None,
        },
        "timings": {
            "ttft_ms": message.ttft_ms,
            "total_ms": message.total_ms,
            "tokens_per_second": message.tokens_per_second,
        },
        **({"citations": message.citations} if message.citations else {}),
        **({"validation": message.validation} if message.validation else {}),
    }


@dataclass
class GroundOn:
    """Ground the answer in these knowledge bases of `user`, searching for `query` (the question)."""

    user: object
    kb_ids: list[int]
    query: str


class Generation:
    def __init__(
        self,
        *,
        message_id: int,
        conversation_id: int,
        request: gateway.ChatRequest,
        validate: bool = False,
        ground_on: GroundOn | None = None,
    ):
        self.validate = validate
        self.ground_on = ground_on
        self.grounding = grounding.Grounding()
        self.message_id = message_id
        self.conversation_id = conversation_id
        self.request = request
        self.parts: list[str] = []
        self.pending: list[str] = []
        self.seq = 0
        self.last_flush = 0.0
        self.last_save = time.monotonic()
        self.flush_timer: asyncio.TimerHandle | None = None
        self.redis = redis_clients.client()
        self.key = stream_key(message_id)
        self.model = request.model or ""
        self.backend = ""

    async def _xadd(self, fields: dict) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(self.key, fields)
        pipe.expire(self.key, STREAM_TTL_S)
        await pipe.execute()

    async def flush(self) -> None:
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending.clear()
        seq = self.seq
        self.seq += 1
        self.last_flush = time.monotonic()
        await self._xadd({"t": "d", "s": seq, "d": text})
        if self.last_flush - self.last_save >= SAVE_EVERY_S:
            self.last_save = self.last_flush
            await database_sync_to_async(services.message_save_progress)(
                message_id=self.message_id, content="".join(self.parts)
            )

    def _schedule_flush(self) -> None:
        if self.flush_timer is None:
            delay = max(0.0, self.last_flush + COALESCE_S - time.monotonic())
            loop = asyncio.get_running_loop()
            self.flush_timer = loop.call_later(delay, lambda: asyncio.ensure_future(self.flush()))

    async def on_delta(self, text: str) -> None:
        self.parts.append(text)
        self.pending.append(text)
        if time.monotonic() - self.last_flush >= COALESCE_S:
            await self.flush()  # the first token never waits
        else:
            self._schedule_flush()  # never held back longer than COALESCE_S

    async def finish(
        self,
        *,
        status: str,
        finish_reason: str = "",
        error: str = "",
        code: str = "",
        timings: dict | None = None,
        usage: dict | None = None,
        attempts: list | None = None,
        content: str | None = None,
        validation: dict | None = None,
    ) -> None:
        """The final state, exactly once. `content` (a recovery attempt's) replaces what streamed."""
        await self.flush()
        content = "".join(self.parts) if content is None else content

        def write_and_read() -> Message:  # one hop to the database thread, not two
            services.message_finish(
                message_id=self.message_id,
                content=content,
                status=status,
                finish_reason=finish_reason,
                error=error,
                model=self.model,
                backend=self.backend,
                timings=timings,
                usage=usage,
                attempts=attempts,
                citations=self.grounding.citations,
                validation=validation,
            )
            return Message.objects.get(pk=self.message_id)

        message = await database_sync_to_async(write_and_read)()
        counters.incr("chat_streams_total", status)
        for kind in ("prompt", "completion"):
            if getattr(message, f"{kind}_tokens", None):
                counters.incr("llm_tokens_total", kind, amount=getattr(message, f"{kind}_tokens"))
        payload = done_payload(message)
        if self.grounding.warning:
            payload["grounding_warning"] = self.grounding.warning
        if code:
            payload = {
                "type": "chat:error",
                "conversation_id": self.conversation_id,
                "message_id": self.message_id,
                "code": code,
                "message": error,
                "partial_content": content,
            }
        await self._xadd({"t": "end", "p": json.dumps(payload)})
        await self.redis.delete(alive_key(self.message_id), cancel_key(self.message_id))

    async def progress(self, fields: dict) -> None:
        """A frame between the tokens and the end (e.g. chat:validating), to every follower, without a seq."""
        frame = {
            "type": "chat:validating",
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            **fields,
        }
        await self._xadd({"t": "f", "p": json.dumps(frame)})

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch())
        end: gateway.StreamEnd | None = None
        try:
            asked = self.request.messages  # what the user asked, before any sources were added
            if self.ground_on is not None:
                g = self.ground_on
                self.grounding = await grounding.retrieve(user=g.user, kb_ids=g.kb_ids, query=g.query)
                self.request.messages = grounding.grounded_messages(self.request.messages, self.grounding)
            async for event in gateway.chat_stream(self.request):
                if isinstance(event, gateway.StreamDelta):
                    await self.on_delta(event.text)
                elif isinstance(event, gateway.StreamStart):
                    self.model, self.backend = event.model, event.backend
                else:
                    end = event
            attempts = [a.to_dict() for a in end.attempts]
            content, validation = None, None
            if self.validate:
                await self.flush()
                content, self.model, validation = await checking.check_answer(
                    messages=asked,
                    content="".join(self.parts),
                    finish_reason=end.finish_reason or "stop",
                    model=self.model,
                    temperature=self.request.temperature,
                    fallbacks=self.request.fallbacks,
                    sources=self.grounding.sources,
                    progress=self.progress,
                    max_tokens=self.request.max_tokens,
                )
            await self.finish(
                status=Message.Status.COMPLETE,
                finish_reason=end.finish_reason or "stop",
                timings=end.timings,
                usage=end.usage,
                attempts=attempts,
                content=content,
                validation=validation,
            )
        except gateway.StreamInterrupted as exc:
            await self.finish(
                status=Message.Status.PARTIAL,
                finish_reason="error",
                error=str(exc),
                code="backend_unavailable",
                attempts=[a.to_dict() for a in exc.attempts],
            )
        except gateway.GatewayError as exc:
            await self.finish(
                status=Message.Status.FAILED,
                error=exc.message,
                code=exc.code,
                attempts=[a.to_dict() for a in exc.attempts],
            )
        except asyncio.CancelledError:
            # chat:cancel or shutdown: keep what was written, say it was cancelled.
            await asyncio.shield(self.finish(status=Message.Status.PARTIAL, finish_reason="cancelled"))
        except Exception as exc:
            log.exception("generation %s failed", self.message_id)
            await self.finish(
                status=Message.Status.FAILED, error=f"internal error: {type(exc).__name__}", code="internal"
            )
        finally:
            watcher.cancel()
            RUNNING.pop(self.message_id, None)

    async def _watch(self) -> None:
        """Keep the alive key fresh and notice a cancel asked from any process."""
        task = asyncio.current_task()
        runner = RUNNING.get(self.message_id)
        # Not at once: followers elsewhere ask for the alive key only after 2 s without a frame,
        # and this process cancels directly; the answer's first token need not wait behind this.
        await asyncio.sleep(WATCH_EVERY_S)
        while True:
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(alive_key(self.message_id), "1", ex=ALIVE_TTL_S)
            pipe.exists(cancel_key(self.message_id))
            _, cancelled = await pipe.execute()
            if cancelled and runner is not None and runner is not task:
                runner.cancel()
                return
            await asyncio.sleep(WATCH_EVERY_S)


async def answer_request(conversation, assistant, *, history: list[dict] | None = None) -> gateway.ChatRequest:
    """What the model is asked for an assistant message: the history, the options, the model."""
    messages = history
    if messages is None:
        messages = await database_sync_to_async(selectors.history_for_model)(conversation=conversation, upto=assistant)
    options = assistant.options or {}
    model = assistant.model or None
    if model is None:
        try:
            model = await gateway.default_model()
        except gateway.GatewayError:
            model = None  # the generation reports backend_unavailable as chat:error
        assistant.model = model or ""
    return gateway.ChatRequest(
        messages=messages,
        model=model,
        temperature=options.get("temperature"),
        max_tokens=options.get("max_tokens"),
        top_p=options.get("top_p"),
        sticky_key=f"conv-{conversation.pk}",
    )


async def answer_start(
    *,
    user,
    conversation,
    assistant: Message,
    validate: bool = False,
    kb_ids: list[int] | None = None,
    question: str | None = None,
    history: list[dict] | None = None,
) -> asyncio.Task:
    """Start writing an assistant message (a new answer or a regenerated one): the one way in.

    `question` (what grounding searches for) defaults to the last user message of the history."""
    request = await answer_request(conversation, assistant, history=history)
    if question is None:
        question = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
    ground_on = GroundOn(user, kb_ids, question) if kb_ids and question else None
    return generation_start(
        message_id=assistant.pk,
        conversation_id=conversation.pk,
        request=request,
        validate=validate,
        ground_on=ground_on,
    )


def generation_start(
    *,
    message_id: int,
    conversation_id: int,
    request: gateway.ChatRequest,
    validate: bool = False,
    ground_on: GroundOn | None = None,
) -> asyncio.Task:
    generation = Generation(
        message_id=message_id, conversation_id=conversation_id, request=request, validate=validate, ground_on=ground_on
    )
    # Followers in this process need not ask the database which conversation it is: under load the
    # ORM thread is busy with other sends' writes, and the first frame would wait behind them.
    _conversation_ids[message_id] = conversation_id
    # A fresh context: the answer must not inherit the caller's per-request database executor
    # (an HTTP view's ends with the request, and the answer outlives it).
    task = asyncio.get_running_loop().create_task(
        generation.run(), name=f"generation-{message_id}", context=contextvars.Context()
    )
    RUNNING[message_id] = task
    return task


async def generation_cancel(message_id: int) -> None:
    """Ask the generation to stop, wherever it runs."""
    await redis_clients.client().set(cancel_key(message_id), "1", ex=STREAM_TTL_S)
    task = RUNNING.get(message_id)
    if task is not None:
        task.cancel()


async def generations_stop_all() -> None:
    """Shutdown: save every running answer as partial before the process exits."""
    tasks = list(RUNNING.values())
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=10)


def install_graceful_shutdown() -> None:
    """Under daphne: on SIGTERM/SIGINT first save running answers as partial and close sockets with
    4012 (reconnect), then let daphne stop as it would have."""
    import signal
    import sys

    if "daphne.server" not in sys.modules:
        return  # not a daphne process (worker, tests, manage.py)
    from twisted.internet import reactor

    def wrap() -> None:
        loop = asyncio.get_event_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            original = signal.getsignal(signum)
            if not callable(original):
                continue

            def handler(sig, frame, original=original) -> None:

                async def graceful() -> None:
                    from chat.connections import connections_close_all

                    try:
                        await asyncio.wait_for(generations_stop_all(), 15)
                        await connections_close_all()
                        await asyncio.sleep(0.2)  # let the close frames go out
                    finally:
                        original(sig, frame)

                loop.call_soon_threadsafe(lambda: asyncio.ensure_future(graceful()))

            signal.signal(signum, handler)

    reactor.callWhenRunning(wrap)


Send = Callable[[dict], Awaitable[None]]


async def follow(*, message_id: int, after_seq: int, frame_id: str | None, send: Send) -> None:
    """Send the frames of an answer after `after_seq`, then live ones, until its end frame."""
    redis = redis_clients.client()
    key = stream_key(message_id)
    last_id = "0"
    while True:
        entries = await redis.xread({key: last_id}, block=2000, count=500)
        if not entries:
            # No frame for a while: is the answer still being written anywhere?
            if await _finished_without_stream(message_id, frame_id, send):
                return
            continue
        for entry_id, fields in entries[0][1]:
            last_id = entry_id
            if fields["t"] == "d":
                seq = int(fields["s"])
                if seq > after_seq:
                    message = await _conversation_of(message_id)
                    await send(
                        {
                            "type": "chat:streaming",
                            "id": frame_id,
                            "conversation_id": message,
                            "message_id": message_id,
                            "seq": seq,
                            "delta": fields["d"],
                        }
                    )
            elif fields["t"] == "f":
                await send({**json.loads(fields["p"]), "id": frame_id})
            else:
                await send({**json.loads(fields["p"]), "id": frame_id})
                return


_conversation_ids: dict[int, int] = {}


async def _conversation_of(message_id: int) -> int:
    found = _conversation_ids.get(message_id)
    if found is None:
        found = await Message.objects.filter(pk=message_id).values_list("conversation_id", flat=True).aget()
        if len(_conversation_ids) > 10_000:
            _conversation_ids.clear()
        _conversation_ids[message_id] = found
    return found


async def _finished_without_stream(message_id: int, frame_id: str | None, send: Send) -> bool:
    message = await Message.objects.aget(pk=message_id)
    if message.status != Message.Status.STREAMING:
        if not await redis_clients.client().exists(stream_key(message_id)):
            await send({**done_payload(message), "id": frame_id})
            return True
        return False
    if await redis_clients.client().exists(alive_key(message_id)) or message_id in RUNNING:
        return False
    # Nobody is writing it (its process died): keep what was saved, as partial.
    await database_sync_to_async(services.message_finish)(
        message_id=message_id,
        content=message.content,
        status=Message.Status.PARTIAL,
        finish_reason="error",
        error="the server writing this answer stopped",
    )
    message = await Message.objects.aget(pk=message_id)
    await send({**done_payload(message), "id": frame_id})
    return True
