"""The Redis clients every app shares (the breaker, chat streams, rate limits, monitoring's latest samples)."""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis
from django.conf import settings

_client: aioredis.Redis | None = None
_client_loop: asyncio.AbstractEventLoop | None = None
_sync: redis.Redis | None = None


def client() -> aioredis.Redis:
    """One async Redis client per event loop (Celery tasks and tests run several loops)."""
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    if _client is None or _client_loop is not loop:
        _client = aioredis.Redis.from_url(settings.REDIS_CLIENT_URL, decode_responses=True)
        _client_loop = loop
    return _client


def sync_client() -> redis.Redis:
    global _sync
    if _sync is None:
        _sync = redis.Redis.from_url(settings.REDIS_CLIENT_URL, decode_responses=True)
    return _sync
