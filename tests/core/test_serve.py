"""`make run` (manage.py serve): everything comes up, one Ctrl-C stops every process, restarts work."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from core import embedded
from tests.core.serving import Run, gone

pytestmark = pytest.mark.timeout(400)


def test_run_starts_everything_and_one_ctrl_c_stops_it_all(serve_env):
    port = embedded.free_port()
    run = Run(serve_env, port)
    run.wait_ready()
    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    assert health.status_code == 200, health.text
    embedded_backend = {b["name"]: b["status"] for b in health.json()["backends"]}
    assert embedded_backend == {"nothing": "down", "embedded": "up", "embedded-gemma": "up"}
    assert "started: " in run.output and "embedded model server" in run.output
    if "REDIS_URL" not in serve_env:
        assert "embedded Redis" in run.output
    children = run.descendants()
    names = " ".join(" ".join(p.cmdline()) for p in children)
    for expected in ("daphne", "worker", "beat", "llama_cpp.server"):
        assert expected in names
    # Both demo models: SmolLM2 (the default chat model) and Gemma 3 270M, each its own server.
    assert sum("llama_cpp.server" in " ".join(p.cmdline()) for p in children) == 2

    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(timeout=90) == 0, run.output[-3000:]
    assert gone(children) == []
    assert "all processes stopped" in run.output
    assert list((Path(serve_env["ORCH_DATA_DIR"]) / "run").glob("*.pid")) == []


def test_a_second_run_after_a_hard_kill_cleans_up_and_starts(serve_env):
    port = embedded.free_port()
    first = Run(serve_env, port)
    first.wait_ready()
    orphans = first.descendants()
    first.proc.kill()  # no chance to clean up: its children are orphaned
    first.proc.wait()
    time.sleep(0.5)
    assert any(p.is_running() for p in orphans)

    second = Run(serve_env, port)
    second.wait_ready()
    assert "stopped leftovers of an earlier run" in second.output
    assert gone(orphans) == []
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    children = second.descendants()
    second.proc.send_signal(signal.SIGINT)
    assert second.proc.wait(timeout=90) == 0
    assert gone(children) == []


def test_a_busy_port_is_a_clear_error(serve_env):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = Run(serve_env, port)
        assert run.proc.wait(timeout=60) != 0
    assert f"Port {port} on 127.0.0.1 is in use" in run.output
