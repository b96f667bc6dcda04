"""Health of the core (database, Redis, Celery worker) and of each LLM backend, for /healthz."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import httpx
import redis
from django.conf import settings
from django.db import connection

from core import supervision

CORE_CHECKS = ("database", "redis", "worker")


def _timed(check) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = check() or {}
        result = {"status": "up", **result}
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure, whatever it is
        result = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def database_check() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def redis_check(url: str | None = None) -> dict:
    client = redis.Redis.from_url(url or settings.REDIS_CLIENT_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
        return {"version": client.info("server").get("redis_version"), "embedded": settings.EMBEDDED_REDIS}
    finally:
        client.close()


def worker_check(timeout: float = 5.0) -> dict:
    from core.tasks import ping

    result = ping.apply_async(retry=False, expires=timeout)
    try:
        answer = result.get(timeout=timeout)
    except Exception as exc:
        raise RuntimeError(f"no Celery worker answered within {timeout:g} s: is the worker running?") from exc
    finally:
        result.forget()
    if answer != "pong":
        raise RuntimeError(f"unexpected answer {answer!r}")
    return {}


def backend_check(url: str) -> dict:
    response = httpx.get(f"{url}/models", timeout=settings.LLM_HEALTH_TIMEOUT_S)
    response.raise_for_status()
    models = [m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)]
    return {"models": models}


def llm_backends() -> list:
    """The enabled backends the gateway routes to (seeded from LLM_BACKENDS, edited in the UI)."""
    from llm.selectors import backend_list  # core is below llm: its health report is the one place it looks up

    return list(backend_list(enabled=True))


def health_report(*, redis_url: str | None = None) -> dict[str, Any]:
    """Every check; `ok` is true only when database, Redis and a worker are up (backends are reported)."""
    try:
        backends = llm_backends()
    except Exception:  # noqa: BLE001 - the database check below says what is wrong
        backends = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(backends))) as pool:
        backend_futures = [(b, pool.submit(_timed, lambda u=b.base_url: backend_check(u))) for b in backends]
        checks = {
            "database": _timed(database_check),
            "redis": _timed(lambda: redis_check(redis_url)),
        }
        if checks["redis"]["status"] == "up":
            checks["worker"] = _timed(worker_check)
        else:
            checks["worker"] = {"status": "down", "error": "Redis is down, so no task can reach a worker", "ms": 0}
        backend_results = [
            {"name": b.name, "kind": b.kind, "url": b.base_url, **future.result()} for b, future in backend_futures
        ]
    for result in backend_results:
        if result["status"] == "down":
            reason = supervision.backend_down_reason(result["name"], detail=False)
            if reason:
                result["reason"] = reason
    ok = all(checks[name]["status"] == "up" for name in CORE_CHECKS)
    report = {
        "status": "ok" if ok else "fail",
        "checks": checks,
        "backends": backend_results,
        "backends_up": sum(1 for b in backend_results if b["status"] == "up"),
    }
    services = supervision.services_public()
    if services:
        report["services"] = services  # when run by `make run`: each child's state and last exit
    return report
