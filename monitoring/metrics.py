"""One snapshot of a machine and the LLM backends, in the `monitoring:metrics` shape of protocol.md.

psutil for the host, NVIDIA's NVML (nvidia-ml-py) for GPUs when a driver is there, the gateway's
Redis state for the backends, and llama.cpp's Prometheus `/metrics` where a server exposes it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from pathlib import Path

import httpx
import psutil
from django.conf import settings

from core.supervision import backend_down_reason

log = logging.getLogger(__name__)

_last_net: tuple[float, int, int] | None = None
_nvml_state: str = "untried"  # untried | ok | absent
_llamacpp_no_metrics: dict[str, float] = {}  # backend name → until when not to ask again
LLAMACPP_METRICS = {
    "llamacpp:prompt_tokens_seconds": "prompt_tokens_per_s",
    "llamacpp:predicted_tokens_seconds": "predicted_tokens_per_s",
    "llamacpp:requests_processing": "requests_processing",
    "llamacpp:requests_deferred": "requests_deferred",
    "llamacpp:kv_cache_usage_ratio": "kv_cache_usage_ratio",
}


# psutil's CPU percentages are "since the previous call": make one now, so a process's first
# sample covers the time since it started instead of reading 0 %.
psutil.cpu_percent(interval=None)
psutil.cpu_percent(interval=None, percpu=True)


def host_name() -> str:
    return settings.MONITORING_HOST_NAME or socket.gethostname()


_volumes: tuple[float, list[str]] | None = None


def data_volumes() -> list[str]:
    """The mount points worth watching: the data folder's volume and each configured path."""
    global _volumes
    if _volumes is not None and time.monotonic() - _volumes[0] < 300:
        return _volumes[1]
    paths = [str(settings.DATA_DIR), *settings.MONITORING_DISK_PATHS]
    mounts: dict[str, str] = {}
    partitions = sorted(psutil.disk_partitions(all=True), key=lambda p: len(p.mountpoint), reverse=True)
    for path in paths:
        resolved = str(Path(path).resolve())
        mount = next(
            (
                p.mountpoint
                for p in partitions
                if resolved == p.mountpoint or resolved.startswith(p.mountpoint.rstrip("/") + "/")
            ),
            "/",
        )
        mounts.setdefault(mount, path)
    _volumes = (time.monotonic(), list(mounts))
    return _volumes[1]


def gpu_snapshot() -> list[dict]:
    """Every NVIDIA GPU's utilisation, memory, temperature and power; [] without a driver, never an error."""
    global _nvml_state
    if _nvml_state == "absent":
        return []
    try:
        import pynvml

        if _nvml_state == "untried":
            pynvml.nvmlInit()
            _nvml_state = "ok"
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            try:
                power_w = pynvml.nvmlDeviceGetPowerUsage(handle) / 1000
            except pynvml.NVMLError:
                power_w = None
            gpus.append(
                {
                    "index": index,
                    "name": name.decode() if isinstance(name, bytes) else name,
                    "utilization_percent": float(util.gpu),
                    "memory_total": int(mem.total),
                    "memory_used": int(mem.used),
                    "memory_percent": round(100 * mem.used / mem.total, 1) if mem.total else 0.0,
                    "temperature_c": float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)),
                    "power_w": round(power_w, 1) if power_w is not None else None,
                }
            )
        return gpus
    except Exception as exc:  # noqa: BLE001 - no driver, no library, no GPU: all mean "none here"
        if _nvml_state == "untried":
            log.info("no NVIDIA GPU metrics on this host (%s)", exc)
        _nvml_state = "absent"
        return []


def system_snapshot() -> dict:
    global _last_net
    now = time.time()
    vm = psutil.virtual_memory()
    net = psutil.net_io_counters()
    sent_per_s = recv_per_s = 0.0
    if _last_net is not None and now > _last_net[0]:
        elapsed = now - _last_net[0]
        sent_per_s = max(0.0, (net.bytes_sent - _last_net[1]) / elapsed)
        recv_per_s = max(0.0, (net.bytes_recv - _last_net[2]) / elapsed)
    _last_net = (now, net.bytes_sent, net.bytes_recv)
    disks = []
    for mount in data_volumes():
        try:
            usage = psutil.disk_usage(mount)
        except OSError:
            continue
        disks.append({"mount": mount, "total": usage.total, "used": usage.used, "percent": usage.percent})
    main_disk = disks[0] if disks else {"total": 0, "used": 0, "percent": 0.0}
    return {
        "ts": int(now * 1000),
        "host": host_name(),
        "cpu": {
            "percent": psutil.cpu_percent(interval=None),
            "per_core": psutil.cpu_percent(interval=None, percpu=True),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
        },
        "memory": {"total": vm.total, "used": vm.total - vm.available, "percent": vm.percent},
        "disk": {"total": main_disk["total"], "used": main_disk["used"], "percent": main_disk["percent"]},
        "disks": disks,
        "network": {
            "bytes_sent": net.bytes_sent,
            "bytes_recv": net.bytes_recv,
            "sent_per_s": round(sent_per_s, 1),
            "recv_per_s": round(recv_per_s, 1),
        },
        "gpu": gpu_snapshot(),
    }


async def llamacpp_metrics(backend) -> dict | None:
    """A llama.cpp server's own figures from `/metrics` (started with --metrics); None elsewhere."""
    from prometheus_client.parser import text_string_to_metric_families

    from llm.discovery import headers_for

    if _llamacpp_no_metrics.get(backend.name, 0) > time.monotonic():
        return None
    root = backend.base_url.rstrip("/").removesuffix("/v1")
    try:
        async with httpx.AsyncClient(timeout=1.5, follow_redirects=False) as http:
            response = await http.get(f"{root}/metrics", headers=headers_for(backend))
        if response.status_code != 200 or "llamacpp:" not in response.text:
            raise ValueError(f"HTTP {response.status_code}")
        found = {}
        for family in text_string_to_metric_families(response.text):
            key = LLAMACPP_METRICS.get(family.name) or LLAMACPP_METRICS.get(family.name.removesuffix("_total"))
            if key and family.samples:
                found[key] = round(float(family.samples[0].value), 3)
        return found
    except (httpx.HTTPError, ValueError):
        _llamacpp_no_metrics[backend.name] = time.monotonic() + 300
        return None


async def backends_snapshot() -> list[dict]:
    """Each enabled backend: up/down (the sampler's probe when fresh, else discovery), circuit, load."""
    from llm import breaker
    from llm.catalogue import catalogue_get
    from llm.models import Backend
    from monitoring import live_state

    backends = [b async for b in Backend.objects.filter(enabled=True).order_by("name")]
    if not backends:
        return []
    states = await breaker.states([b.name for b in backends])
    probes = await live_state.probes_get()
    try:
        entry = await catalogue_get()
    except Exception:  # noqa: BLE001 - metrics go out even when discovery cannot run
        entry = {"backends": {}}
    extras = await asyncio.gather(*(llamacpp_metrics(b) if b.kind == "llamacpp" else _none() for b in backends))
    rows = []
    for backend, extra in zip(backends, extras, strict=True):
        probe = probes.get(backend.name)
        up = probe["up"] if probe is not None else bool(entry["backends"].get(backend.name, {}).get("ok"))
        current = states[backend.name]
        row = {
            "name": backend.name,
            "status": "up" if up else "down",
            "circuit": current.circuit,
            "in_flight": current.in_flight,
            "latency_ms": round(current.latency_ms, 1) if current.latency_ms is not None else None,
        }
        if probe is not None and not up:
            row["error"] = probe.get("error", "")
        if not up:
            reason = backend_down_reason(backend.name, detail=False)
            if reason:
                row["reason"] = reason  # an embedded model server that crashed: what happened, what to do
        if extra:
            row["server"] = extra
        rows.append(row)
    return rows


async def _none() -> None:
    return None


async def metrics_snapshot() -> dict:
    snapshot = system_snapshot()  # about a millisecond of /proc reads: not worth a thread hop
    snapshot["llm"] = {"backends": await backends_snapshot()}
    return snapshot
