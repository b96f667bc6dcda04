"""The monitoring dashboard in Chromium: live figures and charts, a history range, the alerts on the
page and in every page's header, light, dark and phone layouts."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.fixtures.pages import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE = 20_000  # the first metrics frame comes at once on subscribe; discovery may take a moment


def chart_points(page, canvas_id: str) -> int:
    """Points in the chart's first dataset (gap markers excluded), as Chart.js holds them."""
    return page.evaluate(
        """(id) => {
            const chart = window.Chart.getChart(document.getElementById(id));
            if (!chart || !chart.data.datasets.length || !chart.canvas.width) return -1;
            return chart.data.datasets[0].data.filter((p) => p.y !== null).length;
        }""",
        canvas_id,
    )


def wait_for_live_figures(page) -> None:
    expect(page.locator("#cpu-figure")).to_have_text(re.compile(r"^\d+(\.\d)?%$"), timeout=LIVE)
    expect(page.locator("#conn-status")).to_contain_text("Live")
    expect(page.locator("#chart-cpu")).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))


def test_dashboard_live_history_and_alerts(page, daphne_url, alice, artifacts_dir):
    from monitoring.metrics import gpu_snapshot, host_name
    from monitoring.models import AlertEvent, AlertRule, Sample

    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
    login(page, daphne_url)
    page.goto(f"{daphne_url}/monitoring/")
    expect(page.get_by_role("heading", name="Monitoring", level=1)).to_be_visible()

    # Live: the figures in text, a drawn chart, the backend table, the GPU card.
    wait_for_live_figures(page)
    assert chart_points(page, "chart-cpu") >= 1
    expect(page.locator('#live-figures [data-stat="cpu"]')).to_contain_text(re.compile(r"CPU\s*\d+%"))
    expect(page.locator("#chart-cpu")).to_have_attribute("role", "img")
    expect(page.locator("#chart-cpu")).to_have_attribute("aria-label", re.compile(r"CPU usage chart, .*now \d+%"))
    backend = page.locator('#backend-rows tr[data-backend="testllm"]')
    expect(backend).to_contain_text("up", timeout=LIVE)
    expect(backend).to_contain_text("closed")
    expect(page.locator("#disk-volumes li").first).to_contain_text("%")
    if gpu_snapshot():
        expect(page.locator("#gpu-rows tr").first).to_be_visible()
    else:
        expect(page.locator("#gpu-none")).to_be_visible()
        expect(page.locator("#gpu-none")).to_contain_text("No NVIDIA GPU on this host")
    expect(page.get_by_role("button", name="Live")).to_have_attribute("aria-pressed", "true")
    if not AlertEvent.objects.filter(resolved_at__isnull=True).exists():
        expect(page.locator("#header-alerts")).to_be_hidden()
        expect(page.locator("#alerts-open-badge")).to_have_text("All clear")

    # 1 h of history: the stored samples of this host, drawn and counted.
    now = timezone.now()
    host = host_name()
    for minutes in range(6):
        Sample.objects.create(
            host=host,
            ts=now - timedelta(minutes=9 - minutes),
            cpu_percent=40 + minutes,
            memory_percent=55,
            disk_percent=30,
            net_sent_per_s=1000,
            net_recv_per_s=5000,
            backends={"testllm": {"up": 1.0, "in_flight": 0, "latency_ms": 120.0}},
        )
    page.get_by_role("button", name="1 h").click()
    expect(page.get_by_role("button", name="1 h")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Live")).to_have_attribute("aria-pressed", "false")
    info = page.locator("#range-info")
    expect(info).to_contain_text(re.compile(r"Last hour · \d+ points?, raw samples"))
    shown = int(re.search(r"(\d+) points?", info.inner_text()).group(1))
    assert shown >= 6  # a sampler running beside this test may have stored more of this host
    expect(page.locator("#chart-cpu")).to_have_attribute("data-points", str(shown))
    assert chart_points(page, "chart-cpu") == shown
    assert "range=1h" in page.url

    page.screenshot(path=str(artifacts_dir / "monitoring-1h.png"), full_page=True)
    page.get_by_role("button", name="24 h").click()
    expect(info).to_contain_text(re.compile(r"Last 24 hours · \d+ points?, 1-minute averages"))
    assert chart_points(page, "chart-cpu") >= 6  # not rolled up yet: the raw samples stand in
    page.get_by_role("button", name="Live").click()
    expect(page.locator("#range-info")).to_contain_text("Live")

    # An open alert: the header badge on any page, and the alert listed on the dashboard.
    rule, _ = AlertRule.objects.get_or_create(
        metric=AlertRule.Metric.CPU, host="", defaults={"name": "CPU busy", "threshold": 90, "duration_s": 120}
    )
    message = "CPU at 97% on test-node-2 (over 90% for 3 min)"
    # Another host's event: this host's sampler (if a worker runs) would resolve one of its own.
    AlertEvent.objects.create(
        rule=rule,
        host="test-node-2",
        message=message,
        value=97,
        peak=97,
        breach_started_at=timezone.now() - timedelta(minutes=3),
        opened_at=timezone.now(),
        open_key=f"test:{uuid.uuid4().hex}",
    )
    page.goto(f"{daphne_url}/")
    badge = page.locator("#header-alerts")
    expect(badge).to_be_visible(timeout=20_000)
    expect(badge).to_contain_text(re.compile(r"^\s*\d+ alerts?\s*$"))
    expect(page.get_by_role("link", name=re.compile(r"\d+ alerts? open"))).to_be_visible()
    expect(badge).to_have_attribute("title", re.compile(re.escape(message)))
    expect(badge).to_have_attribute("href", "/monitoring/#alerts")
    badge.click()
    expect(page).to_have_url(re.compile(r"/monitoring/#alerts$"))
    row = page.locator("#alert-rows tr", has_text=message)
    expect(row).to_be_visible()
    expect(row).to_contain_text("test-node-2")
    expect(row).to_contain_text("open")
    expect(row).to_contain_text("3 min")
    expect(page.locator("#alerts-open-badge")).to_contain_text("open")
    expect(page.locator("#alerts")).to_contain_text("CPU > 90% for 2 min")  # the rule, described

    # Screenshots: desktop light, desktop dark, phone.
    page.goto(f"{daphne_url}/monitoring/")
    wait_for_live_figures(page)
    page.screenshot(path=str(artifacts_dir / "monitoring-light.png"), full_page=True)
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    grid = page.evaluate(
        "() => window.Chart.getChart(document.getElementById('chart-cpu')).options.scales.y.grid.color"
    )
    assert grid == page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--chart-grid').trim()"
    )
    page.wait_for_timeout(400)  # let the 150 ms colour transitions finish before the picture
    page.screenshot(path=str(artifacts_dir / "monitoring-dark.png"), full_page=True)
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    wait_for_live_figures(page)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    canvas_width = page.evaluate("() => document.getElementById('chart-cpu').getBoundingClientRect().width")
    assert 200 < canvas_width < 390
    page.screenshot(path=str(artifacts_dir / "monitoring-phone.png"), full_page=True)
    page.screenshot(path=str(artifacts_dir / "monitoring-phone-top.png"))
    assert page.csp_errors == []
    assert errors == []


def snapshot(*, host: str, ts: int, gpus: int, backend_up: bool) -> dict:
    """A `monitoring:metrics` host snapshot as monitoring.metrics makes it."""
    gb = 1_000_000_000
    return {
        "ts": ts,
        "host": host,
        "cpu": {"percent": 37.5, "per_core": [12.0, 80.0, 95.0, 30.0], "load_avg": [1.5, 1.2, 0.9]},
        "memory": {"total": 64 * gb, "used": 40 * gb, "percent": 62.5},
        "disk": {"total": 1000 * gb, "used": 910 * gb, "percent": 91.0},
        "disks": [
            {"mount": "/", "total": 1000 * gb, "used": 910 * gb, "percent": 91.0},
            {"mount": "/models", "total": 4000 * gb, "used": 1000 * gb, "percent": 25.0},
        ],
        "network": {"bytes_sent": 5 * gb, "bytes_recv": 9 * gb, "sent_per_s": 12_500.0, "recv_per_s": 2_400_000.0},
        "gpu": [
            {
                "index": i,
                "name": "NVIDIA H100 80GB HBM3",
                "utilization_percent": 70.0 + i * 10,
                "memory_total": 80 * gb,
                "memory_used": 60 * gb,
                "memory_percent": 75.0,
                "temperature_c": 66.0 + i,
                "power_w": 350.5,
            }
            for i in range(gpus)
        ],
        "llm": {
            "backends": [
                {
                    "name": "big-box",
                    "status": "up" if backend_up else "down",
                    "circuit": "closed" if backend_up else "open",
                    "in_flight": 2,
                    "latency_ms": 180.4,
                    **({} if backend_up else {"error": "ConnectError: refused"}),
                    "server": {"predicted_tokens_per_s": 41.2, "kv_cache_usage_ratio": 0.35},
                },
            ]
        },
    }


def test_gpus_other_hosts_and_reconnecting_from_a_scripted_socket(page, daphne_url, alice, artifacts_dir):
    """What this machine cannot produce (GPUs, a second host, a dropped socket), from a scripted /ws."""
    from monitoring.metrics import host_name

    here = host_name()
    now_ms = int(time.time() * 1000)
    frame = {
        "type": "monitoring:metrics",
        **snapshot(host=here, ts=now_ms, gpus=2, backend_up=False),
        "hosts": {"worker-2": snapshot(host="worker-2", ts=now_ms - 300_000, gpus=0, backend_up=False)},
        "alerts": [],
    }
    sockets, subscribes = [], []

    def on_socket(ws) -> None:
        sockets.append(ws)

        def on_message(message) -> None:
            request = json.loads(message)
            if request["type"] == "monitoring:subscribe":
                subscribes.append(request)
                ws.send(json.dumps({"type": "monitoring:subscribed", "id": request["id"], "interval_s": 10}))
                ws.send(json.dumps(frame))

        ws.on_message(on_message)
        if len(sockets) == 1:
            ws.send(json.dumps(welcome()))  # the second connection is welcomed later, by the test

    def welcome() -> dict:
        return {
            "type": "welcome",
            "protocol": 1,
            "user": {"id": 1, "username": "alice"},
            "server_time": now_ms,
            "limits": {"max_frame_bytes": 65536, "messages_per_minute": 120},
        }

    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    login(page, daphne_url)
    page.route_web_socket(re.compile(r"/ws$"), on_socket)
    page.goto(f"{daphne_url}/monitoring/")

    expect(page.locator("#cpu-figure")).to_have_text("37.5%", timeout=LIVE)
    expect(page.locator("#gpu-none")).to_be_hidden()
    expect(page.locator("#gpu-rows tr")).to_have_count(2)
    expect(page.locator("#gpu-rows tr").first).to_contain_text("NVIDIA H100 80GB HBM3")
    expect(page.locator("#gpu-figure")).to_contain_text("80% · 67 °C (busiest of 2)")
    expect(page.locator("#chart-gpu")).to_have_attribute("aria-label", re.compile(r"GPU chart, .*now 80%"))
    expect(page.locator("#cpu-cores li")).to_have_count(4)
    expect(page.locator("#disk-volumes li")).to_have_count(2)
    expect(page.locator("#disk-volumes li").nth(1)).to_contain_text("/models")
    expect(page.locator("#net-recv")).to_have_text("2.4 MB/s")
    row = page.locator('#backend-rows tr[data-backend="big-box"]')
    expect(row).to_contain_text("down")
    expect(row).to_contain_text("open")
    expect(row).to_contain_text("41.2 tok/s · KV 35%")
    expect(row.locator(".badge-danger").first).to_have_attribute("title", "ConnectError: refused")
    expect(page.locator('[data-stat="backends"]')).to_have_attribute("data-state", "fail")
    page.screenshot(path=str(artifacts_dir / "monitoring-gpu.png"), full_page=True)

    # Another host: its figures come from snapshot.hosts, and they are old.
    page.select_option("#host-select", "worker-2")
    expect(page.locator("#gpu-none")).to_be_visible()
    expect(page.locator("#stale-note")).to_contain_text("worker-2 are 5 min old")
    assert "host=worker-2" in page.url

    # The socket drops: the page says so, and subscribes again once welcomed back.
    sockets[0].close(code=4000, reason="test")
    expect(page.locator("#conn-status")).to_contain_text("Reconnecting", timeout=LIVE)
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "warn")
    for _ in range(100):  # the client tries again within a second
        if len(sockets) > 1:
            break
        page.wait_for_timeout(100)
    assert len(sockets) > 1
    frame["cpu"] = {**frame["cpu"], "percent": 12.5}
    frame["hosts"]["worker-2"]["cpu"] = {**frame["cpu"], "percent": 55.0}
    sockets[1].send(json.dumps(welcome()))
    expect(page.locator("#conn-status")).to_contain_text("Live", timeout=LIVE)
    expect(page.locator("#cpu-figure")).to_have_text("55.0%")  # worker-2 still shown
    assert len(subscribes) == 2
    page.select_option("#host-select", here)
    expect(page.locator("#cpu-figure")).to_have_text("12.5%")
    assert errors == []
    assert page.csp_errors == []
