"""Chat over /ws against the same backend called directly, in one run.

    .venv/bin/python benchmarks/ws_chat.py [--quick]

Starts an embedded Redis, a scripted OpenAI-compatible server (500 tokens/s) and a real daphne
with the app, all on 127.0.0.1. Prints `name: value` lines: added time to first token through
/ws at 1 and 16 concurrent streams, token-rate ratio, wire bytes per text byte on a 1,000-token
answer (measured by a byte-counting TCP relay in front of daphne, compression as browsers
negotiate it), memory per idle connection and the idle connections one process held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stats import percentile  # noqa: E402


class CountingRelay:
    """TCP relay that counts the bytes the server sends to the client."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.down = 0

    async def handle(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src, dst, count: bool) -> None:
            try:
                while data := await src.read(65536):
                    if count:
                        self.down += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]


async def direct_ttft(client, max_tokens: int | None = None) -> tuple[float, float]:
    started = time.perf_counter()
    first, size = None, 0
    stream = await client.chat.completions.create(
        model="fake-ok", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            size += len(chunk.choices[0].delta.content.encode())
            first = first or time.perf_counter()
    end = time.perf_counter()
    return first - started, size / max(1e-9, end - first)


async def ws_stream(url: str, token: str) -> tuple[float, float, str]:
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None) as ws:
        await ws.recv()  # welcome
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "chat:send", "content": "hi", "model": "fake-ok"}))
        first, size = None, 0
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "chat:streaming":
                size += len(frame["delta"].encode())
                first = first or time.perf_counter()
            elif frame["type"] in {"chat:done", "chat:error"}:
                end = time.perf_counter()
                return first - started, size / max(1e-9, end - first), frame.get("content", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: under a minute")
    args = parser.parse_args()
    runs, idle = (20, 100) if args.quick else (60, 1000)

    workdir = Path(tempfile.mkdtemp(prefix="orch-wsbench-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env.update(
        ORCH_DATA_DIR=str(workdir / "data"), SECRET_KEY="bench", DJANGO_SETTINGS_MODULE="orchestrator_site.settings",
        LLM_BACKENDS="", LOG_LEVEL="WARNING", STATIC_FROM_SOURCE="true", WS_MESSAGES_PER_MINUTE="1000000",
        WS_CHAT_SENDS_PER_MINUTE="1000000",
    )  # fmt: skip
    os.environ.update(env)
    for key in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(key, None)

    import psutil

    from core import embedded
    from orchestrator_site.env import embedded_redis_socket

    socket_path = embedded_redis_socket(workdir / "data")
    procs = [embedded.redis_server_start(socket_path=socket_path, workdir=socket_path.parent)]
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from core.services import api_token_create
        from llm.models import Backend

        # The scripted server runs in its own process, so it does not share a core with the clients.
        fake_port = embedded.free_port()
        fake = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(fake_port), "--tokens-per-s", "500",
             "--answer-tokens", "200"], cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        procs.append(fake)
        fake_url = f"http://127.0.0.1:{fake_port}/v1"
        import httpx

        deadline = time.monotonic() + 30
        while not embedded.backend_answers(fake_url, timeout=1) and time.monotonic() < deadline:
            time.sleep(0.1)
        Backend.objects.create(name="scripted", base_url=fake_url, kind="openai", max_concurrency=64)
        user = get_user_model().objects.create_user("bench", "bench@example.com", "x")
        token = api_token_create(user=user, name="bench").secret
        port = embedded.free_port()
        daphne = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "orchestrator_site.asgi:application"],
            env=os.environ.copy(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        procs.append(daphne)

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        url = f"ws://127.0.0.1:{port}/ws"

        async def run() -> dict[str, float]:
            import openai
            from websockets.asyncio.client import connect

            client = openai.AsyncOpenAI(base_url=fake_url, api_key="x", max_retries=0)
            await direct_ttft(client)
            await ws_stream(url, token)
            d1, w1, rates = [], [], []
            for _ in range(runs):
                d_ttft, d_rate = await direct_ttft(client)
                w_ttft, w_rate, _ = await ws_stream(url, token)
                d1.append(d_ttft * 1000)
                w1.append(w_ttft * 1000)
                rates.append(w_rate / d_rate)
            added1 = [w - d for w, d in zip(w1, d1, strict=True)]

            rounds = max(2, runs // 6)
            d16, w16 = [], []
            for _ in range(rounds):
                d16 += [r[0] * 1000 for r in await asyncio.gather(*(direct_ttft(client) for _ in range(16)))]
                w16 += [r[0] * 1000 for r in await asyncio.gather(*(ws_stream(url, token) for _ in range(16)))]
            base16 = statistics.median(d16)
            added16 = [w - base16 for w in w16]

            httpx.post(fake_url.replace("/v1", "/_control"), json={"answer_tokens": 1000})
            relay = CountingRelay(port)
            relay_port = await relay.start()
            relay.down = 0
            _, _, content = await ws_stream(f"ws://127.0.0.1:{relay_port}/ws", token)
            wire = relay.down / max(1, len(content.encode()))
            relay.server.close()
            proc = psutil.Process(daphne.pid)
            await asyncio.sleep(0.5)
            before = proc.memory_info().rss
            sockets = []
            for _ in range(idle):
                try:
                    ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"})
                    await ws.recv()
                    sockets.append(ws)
                except Exception:  # noqa: BLE001 - the count says how many the process held
                    break
            await asyncio.sleep(1.0)
            after = proc.memory_info().rss
            held = len(sockets)
            for ws in sockets:
                await ws.close()
            return {
                "added_ttft_p50_ms": statistics.median(added1),
                "added_ttft_p95_ms": percentile(added1, 0.95),
                "added_ttft_p50_ms_c16": statistics.median(added16),
                "added_ttft_p95_ms_c16": percentile(added16, 0.95),
                "direct_ttft_p50_ms": statistics.median(d1),
                "rate_ratio": statistics.median(rates),
                "wire_bytes_per_text_byte": wire,
                "idle_connection_kib": (after - before) / 1024 / max(1, held),
                "idle_connections_held": held,
            }

        figures = asyncio.run(run())
    finally:
        for proc in reversed(procs):
            embedded.process_stop(proc)

    for key, value in figures.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
