"""Chat over /ws against the same backend called directly, in one run.

    .venv/bin/python benchmarks/ws_chat.py [--quick]

Starts an embedded Redis, a scripted OpenAI-compatible server (500 tokens/s) and a real daphne
with the app, all on 127.0.0.1. Prints `name: value` lines: added time to first token through
/ws at 1 and 16 concurrent streams (16 fresh connections each sending one message, and 16 open
connections sending in the same instant), token-rate ratio, wire bytes per text byte on a 1,000-token
answer (measured by a byte-counting TCP relay in front of daphne, compression as browsers
negotiate it), memory per idle connection and the idle connections one process held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stack import app_stack  # noqa: E402
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


async def ws_answer(ws) -> float:
    """Time to first token of one answer on an open connection (as a browser tab sends)."""
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "chat:send", "content": "hi", "model": "fake-ok"}))
    first = None
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == "chat:streaming":
            first = first or time.perf_counter()
        elif frame["type"] in {"chat:done", "chat:error"}:
            return first - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: under a minute")
    args = parser.parse_args()
    runs, idle = (20, 100) if args.quick else (60, 1000)
    quick = args.quick

    with app_stack() as stack:
        fake_url, url, token, daphne = stack.fake_url, stack.url, stack.token, stack.daphne
        port = stack.port

        async def run() -> dict[str, float]:
            import httpx
            import openai
            import psutil
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

            # 16 streams at once: each on a fresh connection (`_c16`, as measured since the first run), and
            # all sent in the same instant on 16 connections already open (`_c16_open_connections`).
            # A round's 16 samples move together (one pause delays them all), so a P95 needs many
            # rounds: with 10, a single slow round decided it.
            rounds = 3 if quick else 30
            tabs = [await connect(url, additional_headers={"Authorization": f"Bearer {token}"}) for _ in range(16)]
            for tab in tabs:
                await tab.recv()  # welcome
            d16, w16, r16 = [], [], []
            for _ in range(rounds):
                d16 += [r[0] * 1000 for r in await asyncio.gather(*(direct_ttft(client) for _ in range(16)))]
                w16 += [t * 1000 for t in await asyncio.gather(*(ws_answer(tab) for tab in tabs))]
                r16 += [r[0] * 1000 for r in await asyncio.gather(*(ws_stream(url, token) for _ in range(16)))]
            for tab in tabs:
                await tab.close()
            base16 = statistics.median(d16)
            added16 = [w - base16 for w in w16]
            added16_fresh = [w - base16 for w in r16]

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
                "added_ttft_p50_ms_c16": statistics.median(added16_fresh),
                "added_ttft_p95_ms_c16": percentile(added16_fresh, 0.95),
                "added_ttft_p50_ms_c16_open_connections": statistics.median(added16),
                "added_ttft_p95_ms_c16_open_connections": percentile(added16, 0.95),
                "direct_ttft_p50_ms": statistics.median(d1),
                "rate_ratio": statistics.median(rates),
                "wire_bytes_per_text_byte": wire,
                "idle_connection_kib": (after - before) / 1024 / max(1, held),
                "idle_connections_held": held,
            }

        figures = asyncio.run(run())

    for key, value in figures.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
