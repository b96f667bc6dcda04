"""`make run` (manage.py serve): everything comes up, one Ctrl-C stops every process, restarts work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from core import embedded
from tests.conftest import ROOT, wait_until

pytestmark = pytest.mark.timeout(400)


class Run:
    def __init__(self, env: dict[str, str], port: int):
        self.port = port
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            env={**env, "PORT": str(port)},  # as `PORT=8080 make run` sets it
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> None:
        try:
            wait_until(lambda: "is running at" in self.output, timeout=180, what="serve ready", proc=self.proc)
        except (TimeoutError, RuntimeError) as exc:
            raise AssertionError(f"{exc}\n--- output ---\n{self.output[-4000:]}") from None

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)


def gone(procs: list[psutil.Process]) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(procs, timeout=30)
    return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture
def serve_env(tmp_path) -> dict[str, str]:
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    # The model is the test stack's copy (same file the runner would assemble), to save 250 MB of writes.
    (data / "models" / "gemma-3-270m-q4_k_m.gguf").symlink_to(embedded.model_path(ROOT / ".cache"))
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(
        ORCH_DATA_DIR=str(data),
        DEBUG="true",
        ORCH_ADMIN_PASSWORD="serve-test-password",
        # Nothing answers here, so the runner must start the embedded model server.
        LLM_BACKENDS=f"nothing:lmstudio=http://127.0.0.1:{embedded.free_port()}/v1",
        ORCH_EMBEDDED_LLM_PORT=str(embedded.free_port()),
        CELERY_CONCURRENCY="1",
    )
    return env


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
