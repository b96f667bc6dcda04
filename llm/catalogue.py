"""The model catalogue across backends: which backends serve model X, loaded or not, context length.

Kept in Redis for 5 minutes (refreshed by beat and on demand), plus a 2-second copy in each
process so that the hot path of a request does not ask Redis for it every time.
"""

from __future__ import annotations

import asyncio
import json
import time

from django.conf import settings

from llm import state
from llm.discovery import DiscoveryError, ModelInfo, models_list
from llm.models import Backend

CACHE_KEY = f"{state.PREFIX}:catalogue"
CACHE_TTL_S = 300

_local: tuple[float, dict] | None = None


async def enabled_backends() -> list[Backend]:
    return [b async for b in Backend.objects.filter(enabled=True).order_by("name")]


async def catalogue_refresh(backends: list[Backend] | None = None) -> dict:
    """Ask every enabled backend for its models now and store the result."""
    global _local
    backends = backends if backends is not None else await enabled_backends()
    results = await asyncio.gather(*(models_list(b) for b in backends), return_exceptions=True)
    entry: dict = {"refreshed_at": time.time(), "backends": {}}
    for backend, result in zip(backends, results, strict=True):
        if isinstance(result, BaseException):
            error = str(result) if isinstance(result, DiscoveryError) else f"{type(result).__name__}: {result}"
            entry["backends"][backend.name] = {"ok": False, "error": error, "models": []}
        else:
            entry["backends"][backend.name] = {"ok": True, "error": "", "models": [m.to_dict() for m in result]}
    await state.client().set(CACHE_KEY, json.dumps(entry), ex=CACHE_TTL_S)
    _local = (time.monotonic(), entry)
    return entry


async def catalogue_get(*, refresh: bool = False) -> dict:
    global _local
    if not refresh and _local is not None and time.monotonic() - _local[0] < settings.LLM_LOCAL_CACHE_S:
        return _local[1]
    if not refresh:
        raw = await state.client().get(CACHE_KEY)
        if raw:
            entry = json.loads(raw)
            _local = (time.monotonic(), entry)
            return entry
    return await catalogue_refresh()


def catalogue_forget_local() -> None:
    global _local
    _local = None


async def catalogue_invalidate() -> None:
    catalogue_forget_local()
    await state.client().delete(CACHE_KEY)


def models_by_id(entry: dict) -> dict[str, list[ModelInfo]]:
    found: dict[str, list[ModelInfo]] = {}
    for backend in entry["backends"].values():
        for raw in backend["models"]:
            info = ModelInfo(**raw)
            found.setdefault(info.id, []).append(info)
    return found
