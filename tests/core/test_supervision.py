"""Nothing takes the app down: `serve` restarts a child that dies, gives up on one that always crashes while the
rest keeps running, and a chat answer cut by a model server's crash keeps its text; the next one streams."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from websockets.asyncio.client import connect

from core import embedded
from core.supervision import Service, Supervisor, backend_down_reason
from tests.core.serving import Run, gone
from tests.fixtures.stack import ROOT, wait_until

pytestmark = pytest.mark.timeout(400)


# --- the supervisor itself, over plain processes ---
def _sh(script: str):
    return lambda: subprocess.Popen(["sh", "-c", script], start_new_session=True)


def _run_until(supervisor: Supervisor, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.poll()
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_child_that_always_crashes_is_given_up_on_and_the_others_keep_running(tmp_path):
    said: list[str] = []
    supervisor = Supervisor(tmp_path, said.append, backoff_base_s=0.05, backoff_max_s=0.2, quick_crashes_max=4)
    steady = Service("steady", spawn=_sh("sleep 60"))
    crashing = Service("crashing", spawn=_sh("exit 3"), backend="embedded-x", log="/x.log")
    assert supervisor.start(steady)
    supervisor.start(crashing)
    try:
        _run_until(supervisor, lambda: crashing.state == "gave_up", timeout=20)
        assert crashing.quick_crashes == 4 and crashing.restarts == 3
        assert [line for line in said if "restarting it in" in line][:3] == [
            "· crashing exited with code 3; restarting it in 0.05 s (restart 1)",
            "· crashing exited with code 3; restarting it in 0.1 s (restart 2)",
            "· crashing exited with code 3; restarting it in 0.2 s (restart 3)",
        ]
        assert "given up on (the rest keeps running)" in said[-1]
        assert steady.state == "running" and steady.proc.poll() is None
        # What the web processes read: the state file, in words that say what to do.
        status = json.loads((tmp_path / "crashing.json").read_text())
        assert (status["state"], status["last_exit"]) == ("gave_up", "exited with code 3")
        reason = backend_down_reason("embedded-x", tmp_path)
        assert "exited with code 3 and was given up on after 4 crashes" in reason and "make run" in reason
        assert "/x.log" not in backend_down_reason("embedded-x", tmp_path, detail=False)
    finally:
        supervisor.stop_all({}, {})
    assert steady.proc.poll() is not None
    assert list(tmp_path.glob("*.json")) == [] and list(tmp_path.glob("*.pid")) == []


def test_a_child_killed_by_a_signal_is_restarted_and_its_exit_is_named(tmp_path):
    said: list[str] = []
    supervisor = Supervisor(tmp_path, said.append, backoff_base_s=0.05)
    service = Service("svc", spawn=_sh("sleep 60"))
    supervisor.start(service)
    try:
        first = service.proc
        first.send_signal(signal.SIGSEGV)
        _run_until(supervisor, lambda: service.proc is not first and service.state == "running", timeout=10)
        assert service.proc.poll() is None
        assert service.last_exit == "was killed by SIGSEGV (signal 11)"
        assert any("svc was killed by SIGSEGV (signal 11); restarting it in 0.05 s" in line for line in said)
    finally:
        supervisor.stop_all({}, {})


def test_a_long_run_resets_the_count_of_quick_crashes(tmp_path):
    supervisor = Supervisor(tmp_path, lambda _m: None, backoff_base_s=0.05, quick_crashes_max=2, quick_s=0.3)
    service = Service("svc", spawn=_sh("sleep 60"))
    supervisor.start(service)
    try:
        for _ in range(3):  # three crashes, each after a run longer than quick_s: never given up on
            time.sleep(0.4)
            service.proc.kill()
            _run_until(supervisor, lambda: service.state == "restarting", timeout=5)
            _run_until(supervisor, lambda: service.state == "running", timeout=5)
        assert service.restarts == 3 and service.state == "running"
    finally:
        supervisor.stop_all({}, {})


# --- the real `serve` ---
def _token(env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "create_api_token", "admin"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _model_server(run: Run, alias: str) -> psutil.Process | None:
    for proc in run.descendants():
        try:
            if "llama_cpp.server" in " ".join(proc.cmdline()) and alias in proc.cmdline():
                return proc
        except psutil.Error:
            continue
    return None


async def _chat(port: int, token: str, content: str, *, on_first_delta=None, max_tokens: int = 200) -> list[dict]:
    async with connect(f"ws://127.0.0.1:{port}/ws", additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(
            json.dumps(
                {
                    "type": "chat:send",
                    "id": "m",
                    "content": content,
                    "options": {"max_tokens": max_tokens, "temperature": 0.7},
                }
            )
        )
        frames: list[dict] = []
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
            frames.append(frame)
            if frame["type"] == "chat:streaming" and on_first_delta is not None:
                on_first_delta()
                on_first_delta = None
            if frame["type"] in {"chat:done", "chat:error"}:
                return frames


def test_a_model_server_killed_mid_answer_keeps_the_text_and_is_back_for_the_next_message(serve_env):
    port = embedded.free_port()
    run = Run({**serve_env, "ORCH_RESTART_BACKOFF_S": "0.5"}, port)
    run.wait_ready()
    try:
        token = _token(serve_env)
        server = _model_server(run, embedded.SMOLLM2_ALIAS)
        web = [p for p in run.descendants() if "daphne" in " ".join(p.cmdline())]

        frames = asyncio.run(
            _chat(
                port,
                token,
                "Write a long story about the sea.",
                on_first_delta=lambda: server.send_signal(signal.SIGSEGV),
            )
        )
        started = next(f for f in frames if f["type"] == "chat:started")
        assert started["model"] == embedded.SMOLLM2_ALIAS  # the instruction-tuned model is the default
        streamed = "".join(f["delta"] for f in frames if f["type"] == "chat:streaming")
        end = frames[-1]
        assert streamed, frames
        if end["type"] == "chat:error":
            assert end["code"] == "backend_unavailable" and end["partial_content"] == streamed
        else:  # the kill landed after the last token
            assert end["content"].startswith(streamed)

        # serve and the web app stay up; the model server is back within seconds.
        assert run.proc.poll() is None and all(p.is_running() for p in web)
        wait_until(
            lambda: "llm was killed by SIGSEGV (signal 11); restarting it" in run.output,
            timeout=30,
            what="the restart",
            proc=run.proc,
        )
        wait_until(
            lambda: (_model_server(run, embedded.SMOLLM2_ALIAS) or server).pid != server.pid, timeout=30, what="new pid"
        )
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()["backends_up"] == 2,
            timeout=60,
            what="both model servers up",
            proc=run.proc,
        )

        # The message kept its text in the database (status partial or failed), and the next one streams.
        history = asyncio.run(_history(port, token, started["conversation_id"]))
        kept = next(m for m in history if m["id"] == started["assistant_message_id"])
        assert kept["content"].startswith(streamed) and kept["status"] in {"partial", "failed", "complete"}
        frames = asyncio.run(_chat(port, token, "Say hello.", max_tokens=16))
        assert frames[-1]["type"] == "chat:done", frames[-1]
        assert any(f["type"] == "chat:streaming" for f in frames)
    finally:
        children = run.descendants()
        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(timeout=90) == 0, run.output[-3000:]
        assert gone(children) == []


async def _history(port: int, token: str, conversation_id: int) -> list[dict]:
    async with connect(f"ws://127.0.0.1:{port}/ws", additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "chat:history", "id": "h", "conversation_id": conversation_id}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == "chat:history":
                return frame["messages"]


def test_a_model_server_that_crashes_at_once_every_time_is_given_up_on_and_the_app_stays_up(serve_env):
    data = Path(serve_env["ORCH_DATA_DIR"])
    gemma = data / "models" / "gemma-3-270m-q4_k_m.gguf"
    gemma.unlink()
    gemma.write_bytes(b"GGUF" + b"\0" * 4096)  # a broken model file: its server exits as soon as it loads it
    port = embedded.free_port()
    run = Run({**serve_env, "ORCH_RESTART_BACKOFF_S": "0.2", "ORCH_RESTART_MAX_CRASHES": "3"}, port)
    try:
        run.wait_ready()
        wait_until(
            lambda: "given up on (the rest keeps running)" in run.output, timeout=120, what="give up", proc=run.proc
        )
        assert run.output.count("llm-gemma llama.cpp server exited with code") >= 3
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200  # the core is up: one model server down is not an outage
        backends = {b["name"]: b for b in health.json()["backends"]}
        assert backends["embedded"]["status"] == "up"
        assert backends["embedded-gemma"]["status"] == "down"
        assert "given up on after 3 crashes" in backends["embedded-gemma"]["reason"]
        services = {s["name"]: s for s in health.json()["services"]}
        assert services["llm-gemma"]["state"] == "gave_up" and services["web"]["state"] == "running"

        token = _token(serve_env)
        headers = {"Authorization": f"Bearer {token}"}
        ask = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        dead = httpx.post(url, headers=headers, json={**ask, "model": embedded.EMBEDDED_MODEL_ALIAS}, timeout=60)
        assert dead.status_code == 503
        assert "given up on" in dead.json()["error"]["message"] and "make run" in dead.json()["error"]["message"]
        alive = httpx.post(url, headers=headers, json={**ask, "model": embedded.SMOLLM2_ALIAS}, timeout=60)
        assert alive.status_code == 200, alive.text
    finally:
        children = run.descendants()
        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(timeout=90) == 0, run.output[-3000:]
        assert gone(children) == []


def test_the_embedded_redis_killed_is_restarted_and_healthz_recovers(serve_env):
    if "REDIS_URL" in serve_env:
        pytest.skip("this stack uses a Redis server, not the embedded one")
    port = embedded.free_port()
    run = Run({**serve_env, "ORCH_RESTART_BACKOFF_S": "0.5", "ORCH_EMBEDDED_LLM": "false"}, port)
    run.wait_ready()
    try:
        redis_proc = next(p for p in run.descendants() if "redis-server" in p.name() or "redis" in p.cmdline()[0])
        redis_proc.kill()
        wait_until(
            lambda: "redis was killed by SIGKILL (signal 9); restarting it" in run.output,
            timeout=30,
            what="the restart",
            proc=run.proc,
        )

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=90, what="/healthz green again", proc=run.proc)
        assert run.proc.poll() is None
    finally:
        children = run.descendants()
        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(timeout=90) == 0, run.output[-3000:]
        assert gone(children) == []
