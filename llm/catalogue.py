"""The model catalogue across backends: which backends serve model X, loaded or not, context length.

Kept in Redis for 5 minutes (refreshed by beat and on demand), plus a copy in each process
(`llm.localcache`) so that the hot path of a request neither asks Redis for it every time nor
waits while it is reloaded.
"""

from __future__ import annotations

import asyncio
import json
import time

from core import redis_clients
from llm.discovery import DiscoveryError, ModelInfo, models_list
from llm.localcache import LocalCache
from llm.models import Backend
from llm.scrub import scrub

CACHE_KEY = "orch:llm:catalogue"  # beside the breaker's orch:llm:* keys
CACHE_TTL_S = 300


async def enabled_backends() -> list[Backend]:
    return [b async for b in Backend.objects.filter(enabled=True).order_by("name")]


async def catalogue_refresh(backends: list[Backend] | None = None) -> dict:
    """Ask every enabled backend for its models now and store the result."""
    backends = backends if backends is not None else await enabled_backends()
    results = await asyncio.gather(*(models_list(b) for b in backends), return_exceptions=True)
    entry: dict = {"refreshed_at": time.time(), "backends": {}}
    for backend, result in zip(backends, results, strict=True):
        if isinstance(result, BaseException):
            error = str(result) if isinstance(result, DiscoveryError) else f"{type(result).__name__}: {result}"
            error = scrub(error, secrets=[backend.api_key])
            entry["backends"][backend.name] = {"ok": False, "error": error, "models": []}
        else:
            entry["backends"][backend.name] = {"ok": True, "error": "", "models": [m.to_dict() for m in result]}
    await redis_clients.client().set(CACHE_KEY, json.dumps(entry), ex=CACHE_TTL_S)
    _local.put(entry)
    return entry


async def _catalogue_shared() -> dict:
    raw = await redis_clients.client().get(CACHE_KEY)
    if raw:
        return json.loads(raw)
    return await catalogue_refresh()


_local: LocalCache[dict] = LocalCache(_catalogue_shared, "the model catalogue")


async def catalogue_get(*, refresh: bool = False) -> dict:
    if refresh:
        return await catalogue_refresh()
    return await _local.get()


def catalogue_forget_local() -> None:
    _local.forget()


async def catalogue_invalidate() -> None:
    catalogue_forget_local()
    await redis_clients.client().delete(CACHE_KEY)


def models_by_id(entry: dict) -> dict[str, list[ModelInfo]]:
    found: dict[str, list[ModelInfo]] = {}
    for backend in entry["backends"].values():
        for raw in backend["models"]:
            info = ModelInfo(**raw)
            found.setdefault(info.id, []).append(info)
    return found
