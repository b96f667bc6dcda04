"""Celery entry points of the gateway: catalogue refresh (beat), benchmark and long-text jobs."""

from __future__ import annotations

import asyncio
import json

from celery import shared_task
from django.contrib.auth import get_user_model

from llm import catalogue, services, state
from llm.models import Backend

JOB_TTL_S = 3600


def job_key(job_id: str) -> str:
    return f"{state.PREFIX}:job:{job_id}"


async def job_update(job_id: str, **fields) -> None:
    key = job_key(job_id)
    raw = await state.client().get(key)
    data = json.loads(raw) if raw else {}
    data.update(fields)
    await state.client().set(key, json.dumps(data), ex=JOB_TTL_S)


async def job_start(job_id: str, *, user_id: int, **fields) -> None:
    """Record a new job as `user_id`'s: only they can read it back (job_get)."""
    await job_update(job_id, owner_id=user_id, **fields)


async def job_get(job_id: str, *, user_id: int) -> dict | None:
    """The job as its owner sees it; anyone else's (or a missing or expired one) is None, alike."""
    raw = await state.client().get(job_key(job_id))
    data = json.loads(raw) if raw else None
    if data is None or data.pop("owner_id", None) != user_id:
        return None
    return data


@shared_task(name="llm.catalogue_refresh")
def catalogue_refresh() -> int:
    """Beat keeps the 5-minute model cache warm, so requests rarely wait for discovery."""
    services.backends_sync_from_settings()
    entry = asyncio.run(catalogue.catalogue_refresh())
    return sum(len(b["models"]) for b in entry["backends"].values())


async def job_run(job_id: str, work) -> dict | None:
    """Run `work(progress)` as the job `job_id`: progress, then its result fields or its failure."""

    async def progress(fraction: float, message: str) -> None:
        await job_update(job_id, status="running", progress=round(fraction, 3), message=message)

    try:
        fields = await work(progress)
    except Exception as exc:  # noqa: BLE001 - the job records every failure for the UI
        await job_update(job_id, status="failed", message=f"{type(exc).__name__}: {exc}"[:500])
        return None
    await job_update(job_id, status="succeeded", progress=1.0, **fields)
    return fields


@shared_task(name="llm.benchmark")
def benchmark(job_id: str, backend_name: str, model: str, runs: int, user_id: int | None) -> int | None:
    async def work(progress) -> dict:
        backend = await Backend.objects.aget(name=backend_name)
        user = await get_user_model().objects.filter(pk=user_id).afirst() if user_id else None
        result = await services.benchmark_run(backend=backend, model=model, runs=runs, user=user, progress=progress)
        return {"message": "done", "result_id": result.pk}

    fields = asyncio.run(job_run(job_id, work))
    return fields["result_id"] if fields else None


@shared_task(name="llm.long_text")
def long_text(job_id: str, model: str, text: str, instruction: str) -> None:
    """Map/reduce over a text too long for the model's context, with progress for the UI."""

    async def work(progress) -> dict:
        out = await services.long_text_process(model=model, text=text, instruction=instruction, progress=progress)
        return {"message": f"done: {out['chunks']} chunks", "result": out["result"], "chunks": out["chunks"]}

    asyncio.run(job_run(job_id, work))
