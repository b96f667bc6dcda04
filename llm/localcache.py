"""A per-process copy of a value that lives elsewhere (the backends table, the Redis catalogue).

Fresh for `LLM_LOCAL_CACHE_S`; after that, for a while longer, the old copy is still served while
one background task loads a new one, so a request never waits for the reload. Under load the
database thread is busy with other requests' writes (SQLite takes them one at a time), and a
request that had to read the backends table there would wait behind all of them; that wait was
the tail of time-to-first-token at 16 concurrent chats. Concurrent callers that find no usable
copy share one load. A cache time of 0 turns the copy off (the tests change backends between
requests)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from django.conf import settings

log = logging.getLogger(__name__)

T = TypeVar("T")

STALE_FACTOR = 15  # an old copy is served (while reloading) up to 15 times the cache time


class LocalCache(Generic[T]):
    def __init__(self, load: Callable[[], Awaitable[T]], name: str):
        self.load = load
        self.name = name
        self.value: tuple[float, T] | None = None
        self.loading: asyncio.Task | None = None
        self.loading_generation = -1
        self.generation = 0  # bumped by forget(): a load started before it does not store its result

    def forget(self) -> None:
        self.value = None
        self.generation += 1

    def put(self, value: T) -> None:
        """A value just loaded by someone else (e.g. a forced refresh)."""
        self.value = (time.monotonic(), value)

    async def get(self) -> T:
        ttl = settings.LLM_LOCAL_CACHE_S
        if ttl <= 0:
            return await self.load()
        held = self.value
        if held is not None:
            age = time.monotonic() - held[0]
            if age < ttl:
                return held[1]
            if age < ttl * STALE_FACTOR:
                self._reload()
                return held[1]
        return await asyncio.shield(self._reload())

    def _reload(self) -> asyncio.Task:
        loop = asyncio.get_running_loop()
        task = self.loading
        if (
            task is not None
            and not task.done()
            and task.get_loop() is loop
            and self.loading_generation == self.generation
        ):
            return task
        # A fresh context: the load must not borrow a request's database executor, which may end
        # before the load does.
        task = loop.create_task(self._load(self.generation), name=f"reload-{self.name}", context=contextvars.Context())
        task.add_done_callback(self._loaded)
        self.loading, self.loading_generation = task, self.generation
        return task

    def _loaded(self, task: asyncio.Task) -> None:
        # A background reload that failed: the old copy stays; the next call tries again.
        if not task.cancelled() and task.exception() is not None:
            log.warning("reloading %s failed: %s", self.name, task.exception())

    async def _load(self, generation: int) -> T:
        value = await self.load()
        if generation == self.generation:
            self.value = (time.monotonic(), value)
        return value
