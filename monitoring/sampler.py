"""History and alerts: each Celery worker host samples itself every interval, stores the sample,
probes the LLM backends, and evaluates the alert rules. One writer per host per interval."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

import httpx
from django.conf import settings
from django.db import close_old_connections

from core import redis_clients
from monitoring import live_state, services
from monitoring.metrics import host_name, metrics_snapshot
from monitoring.models import Sample

log = logging.getLogger(__name__)


async def probe_backends() -> dict[str, dict]:
    """One cheap GET per enabled backend, so 'down' is known within an interval, not at the next discovery."""
    from llm.discovery import headers_for
    from llm.models import Backend

    backends = [b async for b in Backend.objects.filter(enabled=True)]

    async def probe(backend) -> tuple[str, dict]:
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(timeout=settings.MONITORING_PROBE_TIMEOUT_S, follow_redirects=False) as http:
                response = await http.get(f"{backend.base_url.rstrip('/')}/models", headers=headers_for(backend))
            up, error = response.status_code < 500, "" if response.status_code < 500 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            up, error = False, f"{type(exc).__name__}: {exc}"[:200] or type(exc).__name__
        ms = round((time.perf_counter() - started) * 1000, 1)
        return backend.name, {"up": up, "error": error, "ms": ms, "ts": time.time()}

    return dict(await asyncio.gather(*(probe(b) for b in backends)))


def sample_store(snapshot: dict) -> Sample:
    gpus = snapshot.get("gpu") or []
    ts = datetime.fromtimestamp(snapshot["ts"] // 1000, tz=UTC)
    sample, _ = Sample.objects.update_or_create(
        host=snapshot["host"],
        resolution=Sample.Resolution.RAW,
        ts=ts,
        defaults={
            "cpu_percent": snapshot["cpu"]["percent"],
            "load_1": snapshot["cpu"]["load_avg"][0],
            "memory_percent": snapshot["memory"]["percent"],
            "memory_used": snapshot["memory"]["used"],
            "disk_percent": snapshot["disk"]["percent"],
            "net_sent_per_s": snapshot["network"]["sent_per_s"],
            "net_recv_per_s": snapshot["network"]["recv_per_s"],
            "gpu_util_percent": max(g["utilization_percent"] for g in gpus) if gpus else None,
            "gpu_memory_percent": max(g["memory_percent"] for g in gpus) if gpus else None,
            "gpu_temperature_c": max(g["temperature_c"] for g in gpus) if gpus else None,
            "gpu_power_w": sum(g["power_w"] or 0 for g in gpus) if gpus else None,
            "backends": {
                b["name"]: {
                    "up": 1.0 if b["status"] == "up" else 0.0,
                    "in_flight": b["in_flight"],
                    "latency_ms": b["latency_ms"],
                }
                for b in snapshot.get("llm", {}).get("backends", [])
            },
        },
    )
    return sample


def record(loop: asyncio.AbstractEventLoop | None = None) -> dict | None:
    """Take, store and judge one sample of this host; None when another process did it this interval."""
    host = host_name()
    slot = f"{live_state.PREFIX}:tick:{host}"
    if not redis_clients.sync_client().set(
        slot, str(time.time()), nx=True, ex=max(1, int(settings.MONITORING_INTERVAL_S * 0.8))
    ):
        return None

    async def take() -> dict:
        live_state.probes_put(await probe_backends())
        return await metrics_snapshot()

    snapshot = loop.run_until_complete(take()) if loop is not None else asyncio.run(take())
    live_state.latest_put(snapshot)
    sample_store(snapshot)
    services.evaluate(snapshot)
    return snapshot


class SamplerThread(threading.Thread):
    """Runs in the Celery worker's main process: every interval, `record()`."""

    def __init__(self) -> None:
        super().__init__(name="monitoring-sampler", daemon=True)
        self.stop_event = threading.Event()

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        interval = settings.MONITORING_INTERVAL_S
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            try:
                record(loop)
            except Exception:
                log.exception("monitoring sample failed; trying again next interval")
            finally:
                close_old_connections()
            next_at += interval
            self.stop_event.wait(max(0.0, next_at - time.monotonic()))
        loop.close()

    def stop(self) -> None:
        self.stop_event.set()


_thread: SamplerThread | None = None


def sampler_start() -> SamplerThread | None:
    global _thread
    if not settings.MONITORING_SAMPLER_ENABLED:
        return None
    if _thread is None or not _thread.is_alive():
        _thread = SamplerThread()
        _thread.start()
    return _thread


def sampler_stop() -> None:
    if _thread is not None:
        _thread.stop()
