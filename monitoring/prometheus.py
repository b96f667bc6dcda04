"""`/metrics` in Prometheus' text format: every host's latest figures, the backends, open alerts,
and the app's counters (requests, chat streams, tokens, job outcomes), built at scrape time."""

from __future__ import annotations

import asyncio

from django.db.models import Count
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from monitoring import counters, live_state


def _latest() -> dict[str, dict]:
    return asyncio.run(live_state.latest_all())


class OrchestratorCollector:
    def __init__(self, hosts: dict[str, dict]) -> None:
        self.hosts = hosts

    def collect(self):
        from core.models import Job
        from monitoring.models import AlertEvent

        g = {
            "cpu": GaugeMetricFamily("orch_host_cpu_percent", "CPU use, percent of all cores", labels=["host"]),
            "load": GaugeMetricFamily("orch_host_load1", "1-minute load average", labels=["host"]),
            "mem": GaugeMetricFamily("orch_host_memory_used_bytes", "Memory in use", labels=["host"]),
            "mem_pct": GaugeMetricFamily("orch_host_memory_percent", "Memory in use, percent", labels=["host"]),
            "disk": GaugeMetricFamily("orch_host_disk_used_percent", "Disk use per volume", labels=["host", "mount"]),
            "net": GaugeMetricFamily(
                "orch_host_network_bytes_per_second", "Network rate", labels=["host", "direction"]
            ),
            "gpu_util": GaugeMetricFamily("orch_gpu_utilization_percent", "GPU use", labels=["host", "gpu"]),
            "gpu_temp": GaugeMetricFamily("orch_gpu_temperature_celsius", "GPU temperature", labels=["host", "gpu"]),
            "gpu_mem": GaugeMetricFamily("orch_gpu_memory_used_bytes", "GPU memory in use", labels=["host", "gpu"]),
            "up": GaugeMetricFamily("orch_llm_backend_up", "1 when the backend answers", labels=["backend"]),
            "open": GaugeMetricFamily(
                "orch_llm_backend_circuit_open", "1 when its circuit is open", labels=["backend"]
            ),
            "inflight": GaugeMetricFamily("orch_llm_backend_in_flight", "Requests running", labels=["backend"]),
            "latency": GaugeMetricFamily(
                "orch_llm_backend_latency_ms", "Time to first token, moving average", labels=["backend"]
            ),
        }
        backends_seen = set()
        for host, s in self.hosts.items():
            g["cpu"].add_metric([host], s["cpu"]["percent"])
            g["load"].add_metric([host], s["cpu"]["load_avg"][0])
            g["mem"].add_metric([host], s["memory"]["used"])
            g["mem_pct"].add_metric([host], s["memory"]["percent"])
            for d in s.get("disks", []):
                g["disk"].add_metric([host, d["mount"]], d["percent"])
            g["net"].add_metric([host, "sent"], s["network"]["sent_per_s"])
            g["net"].add_metric([host, "received"], s["network"]["recv_per_s"])
            for gpu in s.get("gpu", []):
                g["gpu_util"].add_metric([host, str(gpu["index"])], gpu["utilization_percent"])
                g["gpu_temp"].add_metric([host, str(gpu["index"])], gpu["temperature_c"])
                g["gpu_mem"].add_metric([host, str(gpu["index"])], gpu["memory_used"])
            for b in s.get("llm", {}).get("backends", []):
                if b["name"] in backends_seen:
                    continue
                backends_seen.add(b["name"])
                g["up"].add_metric([b["name"]], 1.0 if b["status"] == "up" else 0.0)
                g["open"].add_metric([b["name"]], 1.0 if b["circuit"] == "open" else 0.0)
                g["inflight"].add_metric([b["name"]], b["in_flight"])
                if b.get("latency_ms") is not None:
                    g["latency"].add_metric([b["name"]], b["latency_ms"])
        yield from g.values()

        alerts = GaugeMetricFamily("orch_alerts_open", "Alert events open now", labels=["metric"])
        for row in AlertEvent.objects.filter(resolved_at__isnull=True).values("rule__metric").annotate(n=Count("id")):
            alerts.add_metric([row["rule__metric"]], row["n"])
        yield alerts

        jobs = CounterMetricFamily("orch_jobs", "Jobs by kind and outcome", labels=["kind", "status"])
        for row in Job.objects.values("kind", "status").annotate(n=Count("id")):
            jobs.add_metric([row["kind"], row["status"]], row["n"])
        yield jobs

        found = counters.read()
        families = {
            "http_requests_total": CounterMetricFamily(
                "orch_http_requests", "HTTP requests by method and status class", labels=["method", "status"]
            ),
            "chat_streams_total": CounterMetricFamily(
                "orch_chat_streams", "Chat answers by outcome", labels=["status"]
            ),
            "llm_tokens_total": CounterMetricFamily("orch_llm_tokens", "Tokens through chat", labels=["kind"]),
        }
        for (name, *labels), value in sorted(found.items()):
            family = families.get(name)
            if family is not None and len(labels) == len(family._labelnames):
                family.add_metric(labels, value)
        yield from families.values()


def exposition() -> bytes:
    registry = CollectorRegistry()
    registry.register(OrchestratorCollector(_latest()))
    return generate_latest(registry)
