"""Live metrics: one sample per interval in each process, shared by every subscriber in it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings

from monitoring import live_state, selectors
from monitoring.metrics import metrics_snapshot
from monitoring.serializers import alert_event_json

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]  # gets the `monitoring:metrics` frame, encoded once per sample


class Broadcaster:
    def __init__(self) -> None:
        self.subscribers: set[Send] = set()
        self.task: asyncio.Task | None = None
        self.latest: tuple[float, str] | None = None
        self.pending: asyncio.Task | None = None
        self.samples_taken = 0

    @property
    def interval_s(self) -> float:
        return settings.MONITORING_INTERVAL_S

    async def _take(self) -> str:
        sample = await metrics_snapshot()
        sample["hosts"] = {h: s for h, s in (await live_state.latest_all()).items() if h != sample["host"]}
        sample["alerts"] = await sync_to_async(lambda: [alert_event_json(e) for e in selectors.events_open()])()
        self.samples_taken += 1
        # One encoding for every subscriber: per-subscriber json.dumps was most of a tick's cost.
        text = json.dumps({"type": "monitoring:metrics", **sample}, separators=(",", ":"))
        self.latest = (time.monotonic(), text)
        return text

    async def _sample(self) -> str:
        """One sample at a time: callers arriving while one is being taken share it."""
        if self.pending is None or self.pending.done() or self.pending.get_loop() is not asyncio.get_running_loop():
            self.pending = asyncio.get_running_loop().create_task(self._take())
        return await asyncio.shield(self.pending)

    async def subscribe(self, send: Send) -> None:
        """Add a subscriber and give it a sample at once (the shared one, when it is fresh)."""
        self.subscribers.add(send)
        if self.latest is not None and time.monotonic() - self.latest[0] < self.interval_s:
            sample = self.latest[1]
        else:
            sample = await self._sample()
        await send(sample)
        if self.task is None or self.task.done() or self.task.get_loop() is not asyncio.get_running_loop():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def unsubscribe(self, send: Send) -> None:
        self.subscribers.discard(send)

    async def _run(self) -> None:
        while self.subscribers:
            await asyncio.sleep(self.interval_s)
            if not self.subscribers:
                break
            try:
                sample = await self._sample()
            except Exception:
                log.exception("metrics sample failed")
                continue
            targets = list(self.subscribers)
            results = await asyncio.gather(*(send(sample) for send in targets), return_exceptions=True)
            for send, result in zip(targets, results, strict=True):
                if isinstance(result, Exception):
                    self.subscribers.discard(send)  # its socket is gone


BROADCASTER = Broadcaster()
