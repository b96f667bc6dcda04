"""Playwright drivers per thread, and keeping Django's ORM usable in the threads that drive a browser."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from playwright.sync_api import Playwright, sync_playwright


class ThreadDrivers:
    """One Playwright driver per thread, shared by every pool used from that thread: the sync API refuses to
    start a second instance in a thread while one is running. Stopped when the last pool lets go of it.

    The sync API keeps its asyncio loop marked as *running* in the thread between calls, and its calls fail
    (the connection dies) if it is not. Django, seeing a running loop, refuses every ORM call in that thread
    (SynchronousOnlyOperation), and Celery closes the database after each task. So the mark is set only
    while the pool is in use (`enter`/`leave`, nested use counted) and lifted around callbacks into the
    caller's code (`outside_browser`)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, pool: Any) -> Playwright:
        state = getattr(self._local, "state", None)
        if state is None:
            driver = sync_playwright().start()
            state = self._local.state = {"driver": driver, "users": set(), "loop": driver._loop}
        state["users"].add(id(pool))
        return state["driver"]

    def release(self, pool: Any) -> None:
        state = getattr(self._local, "state", None)
        if state is None:
            return
        state["users"].discard(id(pool))
        if not state["users"]:
            self._local.state = None
            with contextlib.suppress(Exception):
                state["driver"].stop()

    def loop(self) -> asyncio.AbstractEventLoop | None:
        state = getattr(self._local, "state", None)
        return state["loop"] if state is not None and not state["loop"].is_closed() else None

    def enter(self) -> None:
        self._local.depth = getattr(self._local, "depth", 0) + 1
        loop = self.loop()
        if loop is not None:
            asyncio._set_running_loop(loop)

    def leave(self) -> None:
        self._local.depth = max(0, getattr(self._local, "depth", 1) - 1)
        if self._local.depth == 0:
            _lift_running_mark()


def _lift_running_mark() -> None:
    running = asyncio._get_running_loop()
    if running is not None and running is thread_drivers.loop():
        asyncio._set_running_loop(None)


@contextlib.contextmanager
def outside_browser() -> Iterator[None]:
    """Runs the caller's code (progress and cancel callbacks that use Django's ORM) from inside a job:
    lifts the running-loop mark Playwright's sync API keeps, and puts it back afterwards."""
    running = asyncio._get_running_loop()
    _lift_running_mark()
    try:
        yield
    finally:
        if running is not None and asyncio._get_running_loop() is None:
            asyncio._set_running_loop(running)


thread_drivers = ThreadDrivers()
