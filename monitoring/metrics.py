"""One snapshot of the machine and the LLM backends, in the `monitoring:metrics` shape of protocol.md."""

from __future__ import annotations

import os
import time

import psutil

_last_net: tuple[float, int, int] | None = None


def system_snapshot() -> dict:
    global _last_net
    now = time.time()
    vm = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    net = psutil.net_io_counters()
    sent_per_s = recv_per_s = 0.0
    if _last_net is not None and now > _last_net[0]:
        elapsed = now - _last_net[0]
        sent_per_s = max(0.0, (net.bytes_sent - _last_net[1]) / elapsed)
        recv_per_s = max(0.0, (net.bytes_recv - _last_net[2]) / elapsed)
    _last_net = (now, net.bytes_sent, net.bytes_recv)
    return {
        "ts": int(now * 1000),
        "cpu": {
            "percent": psutil.cpu_percent(interval=None),
            "per_core": psutil.cpu_percent(interval=None, percpu=True),
            "load_avg": list(os.getloadavg()),
        },
        "memory": {"total": vm.total, "used": vm.total - vm.available, "percent": vm.percent},
        "disk": {"total": disk.total, "used": disk.used, "percent": disk.percent},
        "network": {
            "bytes_sent": net.bytes_sent,
            "bytes_recv": net.bytes_recv,
            "sent_per_s": round(sent_per_s, 1),
            "recv_per_s": round(recv_per_s, 1),
        },
        "gpu": [],
    }


async def metrics_snapshot() -> dict:
    from llm import state
    from llm.catalogue import catalogue_get
    from llm.models import Backend

    snapshot = system_snapshot()
    backends = [b async for b in Backend.objects.filter(enabled=True).order_by("name")]
    states = await state.states([b.name for b in backends])
    try:
        entry = await catalogue_get()
    except Exception:  # noqa: BLE001 - metrics go out even when discovery cannot run
        entry = {"backends": {}}
    snapshot["llm"] = {
        "backends": [
            {
                "name": b.name,
                "status": "up" if entry["backends"].get(b.name, {}).get("ok") else "down",
                "circuit": states[b.name].circuit,
                "in_flight": states[b.name].in_flight,
            }
            for b in backends
        ]
    }
    return snapshot
