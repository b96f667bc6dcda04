"""App counters for Prometheus (requests, chat streams, tokens), shared by every process via Redis.

Each process adds up in memory and flushes with one pipelined HINCRBY every few seconds, so a
request costs a dictionary update, not a Redis round trip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from core import redis_clients

log = logging.getLogger(__name__)

KEY = "orch:counters"
FLUSH_EVERY_S = 2.0
_pending: Counter = Counter()
_lock = threading.Lock()
_last_flush = time.monotonic()


def incr(name: str, *labels: str, amount: float = 1) -> None:
    global _last_flush
    with _lock:
        _pending["|".join((name, *labels))] += amount
        due = time.monotonic() - _last_flush >= FLUSH_EVERY_S
    if due:
        flush()


def flush() -> None:
    global _last_flush
    with _lock:
        items = list(_pending.items())
        _pending.clear()
        _last_flush = time.monotonic()
    if not items:
        return
    try:
        pipe = redis_clients.sync_client().pipeline(transaction=False)
        for field, amount in items:
            pipe.hincrbyfloat(KEY, field, amount)
        pipe.execute()
    except Exception:
        with _lock:
            for field, amount in items:
                _pending[field] += amount
        log.debug("counter flush failed", exc_info=True)


def read() -> dict[tuple[str, ...], float]:
    """Every counter, as (name, *labels) → value; flushes this process's own first."""
    flush()
    return {tuple(field.split("|")): float(value) for field, value in redis_clients.sync_client().hgetall(KEY).items()}


class RequestCounterMiddleware:
    """Counts HTTP requests by method and status class (2xx, 4xx, …); sync and async alike."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        response = self.get_response(request)
        self._count(request, response)
        return response

    async def _acall(self, request):
        response = await self.get_response(request)
        self._count(request, response)
        return response

    @staticmethod
    def _count(request, response) -> None:
        incr("http_requests_total", request.method or "", f"{response.status_code // 100}xx")
