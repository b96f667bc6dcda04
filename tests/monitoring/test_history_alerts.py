"""Real sampling, history roll-ups and pruning, alert rules with durations, /metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psutil
import pytest
import redis
from django.conf import settings
from django.utils import timezone

from core import embedded
from core.services import api_token_create
from llm.models import Backend
from monitoring import history, live_state, metrics, sampler, services
from monitoring.models import AlertEvent, AlertRule, Sample
from monitoring.serializers import alert_event_json
from tests.fixtures.stack import ROOT, wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def clean_monitoring_state():
    client = redis.Redis.from_url(settings.REDIS_CLIENT_URL)
    for pattern in ("orch:mon:*", "orch:counters"):
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)
    client.close()
    yield


def snapshot(host: str, *, cpu: float = 10.0, memory: float = 20.0, disk: float = 30.0, backends=(), gpu=()) -> dict:
    return {
        "ts": int(timezone.now().timestamp() * 1000),
        "host": host,
        "cpu": {"percent": cpu, "per_core": [cpu], "load_avg": [0.5, 0.4, 0.3]},
        "memory": {"total": 100, "used": int(memory), "percent": memory},
        "disk": {"total": 100, "used": int(disk), "percent": disk},
        "disks": [{"mount": "/", "total": 100, "used": int(disk), "percent": disk}],
        "network": {"bytes_sent": 1, "bytes_recv": 2, "sent_per_s": 3.0, "recv_per_s": 4.0},
        "gpu": list(gpu),
        "llm": {
            "backends": [
                {"name": n, "status": s, "circuit": "closed", "in_flight": 0, "latency_ms": None} for n, s in backends
            ]
        },
    }


def test_real_sample_has_every_figure_and_no_gpu_here():
    s = metrics.system_snapshot()
    assert 0 <= s["cpu"]["percent"] <= 100
    assert len(s["cpu"]["per_core"]) == psutil.cpu_count()
    assert len(s["cpu"]["load_avg"]) == 3
    assert 0 < s["memory"]["used"] < s["memory"]["total"]
    mounts = [d["mount"] for d in s["disks"]]
    assert mounts and all(d["total"] > 0 and 0 <= d["percent"] <= 100 for d in s["disks"])
    assert s["disk"]["total"] == s["disks"][0]["total"]  # the data folder's volume comes first
    assert s["network"]["bytes_recv"] >= 0 and s["host"] == metrics.host_name()
    assert s["gpu"] == []  # no NVIDIA driver on this machine: an empty list, not an error


def test_gpu_library_failing_means_an_empty_list(monkeypatch):
    import pynvml

    def broken():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", broken)
    monkeypatch.setattr(metrics, "_nvml_state", "untried")
    assert metrics.gpu_snapshot() == []
    assert metrics._nvml_state == "absent"


def test_record_stores_a_sample_probes_backends_and_alerts_a_dead_one(llm_url):
    Backend.objects.create(name="testllm-mon", base_url=llm_url, kind="llamacpp")
    Backend.objects.create(name="deadone", base_url=f"http://127.0.0.1:{embedded.free_port()}/v1", kind="openai")
    AlertRule.objects.create(name="down", metric="backend_down", duration_s=0)
    snap = sampler.record()
    assert snap is not None
    states = {b["name"]: b for b in snap["llm"]["backends"]}
    assert states["testllm-mon"]["status"] == "up"
    assert states["deadone"]["status"] == "down" and "Connect" in states["deadone"]["error"]
    row = Sample.objects.get(host=metrics.host_name(), resolution=0)
    assert row.backends["deadone"]["up"] == 0.0 and row.backends["testllm-mon"]["up"] == 1.0
    assert row.cpu_percent == snap["cpu"]["percent"]
    event = AlertEvent.objects.get(subject="deadone")
    assert event.is_open and event.message.startswith("LLM backend deadone is down")
    assert sampler.record() is None  # one writer per host per interval


def test_alert_opens_only_after_its_duration_and_resolves():
    rule = AlertRule.objects.create(name="cpu", metric="cpu_percent", threshold=90, duration_s=120, host="box-a")
    AlertRule.objects.create(name="other host", metric="cpu_percent", threshold=1, duration_s=0, host="box-b")
    t0 = timezone.now()
    assert services.evaluate(snapshot("box-a", cpu=95), now=t0) == []
    assert services.evaluate(snapshot("box-a", cpu=97), now=t0 + timedelta(seconds=60)) == []
    opened = services.evaluate(snapshot("box-a", cpu=99), now=t0 + timedelta(seconds=121))
    assert len(opened) == 1 and opened[0].rule == rule and opened[0].host == "box-a"
    assert "CPU at 99% on box-a (over 90% for" in opened[0].message
    assert services.evaluate(snapshot("box-a", cpu=96), now=t0 + timedelta(seconds=130)) == []  # still the same event
    event = AlertEvent.objects.get()
    assert event.peak == 99 and event.value == 96
    resolved = services.evaluate(snapshot("box-a", cpu=10), now=t0 + timedelta(seconds=190))
    assert len(resolved) == 1 and resolved[0].resolved_at is not None
    data = alert_event_json(AlertEvent.objects.get())
    assert data["duration_s"] == 190 and data["open"] is False
    # A dip below the threshold restarts the clock: 100 s of breach after it is not enough.
    services.evaluate(snapshot("box-a", cpu=95), now=t0 + timedelta(seconds=200))
    assert services.evaluate(snapshot("box-a", cpu=95), now=t0 + timedelta(seconds=300)) == []
    assert AlertEvent.objects.count() == 1


def test_backend_down_from_two_hosts_opens_one_event():
    AlertRule.objects.create(name="down", metric="backend_down", duration_s=0)
    now = timezone.now()
    services.evaluate(snapshot("box-a", backends=[("b1", "down")]), now=now)
    services.evaluate(snapshot("box-b", backends=[("b1", "down")]), now=now)
    assert AlertEvent.objects.filter(subject="b1", resolved_at__isnull=True).count() == 1
    services.evaluate(snapshot("box-b", backends=[("b1", "up")]), now=now + timedelta(seconds=5))
    assert AlertEvent.objects.get(subject="b1").resolved_at is not None


def test_gpu_temperature_rule_watches_each_gpu():
    AlertRule.objects.create(name="hot", metric="gpu_temperature_c", threshold=85, duration_s=0, host="gbox")
    gpu = {
        "index": 1,
        "name": "X",
        "utilization_percent": 50.0,
        "memory_total": 10,
        "memory_used": 5,
        "memory_percent": 50.0,
        "temperature_c": 91.0,
        "power_w": 300.0,
    }
    opened = services.evaluate(snapshot("gbox", gpu=[gpu]))
    assert [e.subject for e in opened] == ["gpu1"]
    assert services.evaluate(snapshot("gbox")) and not AlertEvent.objects.filter(resolved_at__isnull=True).exists()


def raw_rows(host: str, start: datetime, seconds: int, step: int = 10) -> list[Sample]:
    rows = [
        Sample(
            host=host,
            ts=start + timedelta(seconds=i),
            cpu_percent=float((i // step) % 6),
            memory_percent=50.0,
            disk_percent=40.0,
            backends={"b": {"up": 1.0 if i % 20 == 0 else 0.0, "in_flight": 2, "latency_ms": 100.0}},
        )
        for i in range(0, seconds, step)
    ]
    Sample.objects.bulk_create(rows)
    return rows


def test_rollup_averages_complete_buckets_once_and_prune_keeps_retention():
    now = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
    start = datetime(2026, 11, 24, 9, 0, 0, tzinfo=UTC)
    raw_rows("h", start, 3 * 3600 + 30)  # 09:00:00 … 12:00:20 every 10 s
    assert history.rollup(60, now=now) == 180  # 09:00 … 11:59; 12:00 is not over yet
    minute = Sample.objects.get(host="h", resolution=60, ts=start)
    assert minute.count == 6 and minute.cpu_percent == pytest.approx(2.5)  # 0..5 averaged
    assert minute.backends["b"] == {"up": 0.5, "in_flight": 2.0, "latency_ms": 100.0}
    assert history.rollup(60, now=now) == 0  # idempotent
    assert history.rollup(3600, now=now) == 3
    hour = Sample.objects.get(host="h", resolution=3600, ts=start)
    assert hour.count == 360 and hour.cpu_percent == pytest.approx(2.5)

    series = history.series(host="h", range_name="24h", now=now)
    assert series["resolution_s"] == 60
    assert len(series["points"]) == 180 + 3  # minutes, then the raw tail of the running minute
    week = history.series(host="h", range_name="7d", now=now)
    assert len(week["points"]) == 3 + 0 + 3  # hours, no minutes after them, the raw tail

    later = now + timedelta(days=8)
    pruned = history.prune(now=later)
    assert pruned["raw"] == 3 * 360 + 3 and pruned["1 minute"] == 180 and pruned["1 hour"] == 0
    assert Sample.objects.filter(resolution=3600).count() == 3


def test_maintain_runs_through_celery_beat_task(celery_worker):
    from monitoring.tasks import maintain

    old = timezone.now() - timedelta(days=30)
    raw_rows("old", old, 60)
    result = maintain.delay().get(timeout=60)
    assert result["pruned"]["raw"] == 6
    assert not Sample.objects.filter(host="old", resolution=0).exists()


def test_worker_hosts_report_themselves(subprocess_env):
    """Every Celery worker samples its host each interval, labelled by host name."""
    env = {
        **subprocess_env,
        "MONITORING_SAMPLER_ENABLED": "true",
        "MONITORING_INTERVAL_S": "1",
        "MONITORING_HOST_NAME": "worker-box-7",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "orchestrator_site",
            "worker",
            "--pool",
            "solo",
            "-l",
            "warning",
            "-Q",
            "nothing-here",
            "-n",
            f"mon-{os.getpid()}@%h",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: Sample.objects.filter(host="worker-box-7").count() >= 2, timeout=60, what="two samples", proc=proc
        )
    finally:
        embedded.process_stop(proc)
    import asyncio

    latest = asyncio.run(live_state.latest_all())
    assert latest["worker-box-7"]["host"] == "worker-box-7"


def test_metrics_endpoint_is_token_protected_and_exports_figures(client, alice, staff, settings):
    settings.METRICS_TOKEN = "scrape-me-123"
    live_state.latest_put(snapshot("box-a", cpu=42.5, backends=[("b1", "up")]))
    assert client.get("/metrics").status_code == 401
    client.force_login(alice)
    assert client.get("/metrics").status_code == 403
    client.logout()
    assert client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"authorization": "Bearer scrape-me-123"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'orch_host_cpu_percent{host="box-a"} 42.5' in body
    assert 'orch_llm_backend_up{backend="b1"} 1.0' in body
    assert 'orch_http_requests_total{method="GET",status="4xx"}' in body
    staff_token = api_token_create(user=staff, name="prom").secret
    assert client.get("/metrics", headers={"authorization": f"Bearer {staff_token}"}).status_code == 200


def test_history_and_alerts_api(alice_client):
    now = timezone.now()
    raw_rows("api-host", now - timedelta(minutes=5), 120)
    data = alice_client.get("/monitoring/api/history", {"host": "api-host", "range": "1h"}).json()
    assert data["resolution_s"] == 0 and len(data["points"]) == 12
    assert {"ts", "cpu", "memory", "disk", "sent_per_s", "gpu_util", "backends"} <= set(data["points"][0])
    assert alice_client.get("/monitoring/api/history", {"range": "2y"}).status_code == 400
    assert "api-host" in alice_client.get("/monitoring/api/hosts").json()["hosts"]
    rule = AlertRule.objects.create(name="cpu", metric="cpu_percent", threshold=1, duration_s=0, host="api-host")
    services.evaluate(snapshot("api-host", cpu=50))
    listed = alice_client.get("/monitoring/api/alerts").json()
    assert listed["open_count"] == 1 and listed["alerts"][0]["rule"] == rule.describe()
