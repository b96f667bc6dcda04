"""Monitoring's shared state in Redis: each host's latest sample, backend probes, breach starts."""

from __future__ import annotations

import json
import time

from django.conf import settings

from core import redis_clients

PREFIX = "orch:mon"
LATEST = f"{PREFIX}:latest"  # hash host → JSON snapshot
PROBES = f"{PREFIX}:probes"  # hash backend → JSON {up, error, ms, ts}
BREACHES = f"{PREFIX}:breach"  # hash rule:host:subject → epoch seconds the breach began


def stale_after_s() -> float:
    return max(3 * settings.MONITORING_INTERVAL_S, 30.0)


def latest_put(snapshot: dict) -> None:
    redis_clients.sync_client().hset(LATEST, snapshot["host"], json.dumps(snapshot))


async def latest_all() -> dict[str, dict]:
    """Every host's most recent sample that is still fresh, by host name."""
    raw = await redis_clients.client().hgetall(LATEST)
    now_ms = time.time() * 1000
    found = {}
    for host, text in raw.items():
        snapshot = json.loads(text)
        if now_ms - snapshot.get("ts", 0) <= stale_after_s() * 1000:
            found[host] = snapshot
    return found


def probes_put(probes: dict[str, dict]) -> None:
    if probes:
        redis_clients.sync_client().hset(PROBES, mapping={name: json.dumps(p) for name, p in probes.items()})


async def probes_get() -> dict[str, dict]:
    raw = await redis_clients.client().hgetall(PROBES)
    now = time.time()
    return {
        name: probe for name, text in raw.items() if now - (probe := json.loads(text)).get("ts", 0) <= stale_after_s()
    }
