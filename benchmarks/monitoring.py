"""What live monitoring costs, in one run against a real daphne with 100 subscribers.

    .venv/bin/python benchmarks/monitoring.py [--quick]

Starts an embedded Redis, a scripted OpenAI-compatible server and daphne with the app. Prints:
- `sampler_cpu_percent_of_core`: daphne's CPU time spent sampling and broadcasting to 100
  subscribers, per wall second at the default 10 s interval (measured at a 1 s interval and
  scaled, minus the same connections' CPU time when nobody is subscribed);
- `tick_delivery_p50_ms` / `tick_delivery_p99_ms`: from a sample's timestamp to its arrival
  at each of the 100 clients;
- `ttft_delta_ms`: chat time to first token over /ws with those 100 subscribers minus without
  (medians, blocks alternated so drift hits both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stack import app_stack
from benchmarks.stats import percentile

SUBSCRIBERS = 100
INTERVAL_S = 1.0
DEFAULT_INTERVAL_S = 10.0


async def ttft(ws) -> float:
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "chat:send", "content": "hi", "model": "fake-ok", "id": "c"}))
    first = None
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == "chat:streaming" and first is None:
            first = time.perf_counter()
        if frame["type"] in ("chat:done", "chat:error"):
            return (first - started) * 1000


async def measure(stack, *, window_s: float, ttft_runs: int) -> dict[str, float]:
    import psutil
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Bearer {stack.token}"}
    clients = []
    for _ in range(SUBSCRIBERS):
        ws = await connect(stack.url, additional_headers=headers, max_size=None)
        await ws.recv()  # welcome
        clients.append(ws)
    chatter = await connect(stack.url, additional_headers=headers, max_size=None)
    await chatter.recv()
    delays: list[float] = []
    subscribed = asyncio.Event()

    async def reader(ws) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "monitoring:metrics" and subscribed.is_set():
                delays.append(time.time() * 1000 - frame["ts"])

    readers = [asyncio.create_task(reader(ws)) for ws in clients]
    proc = psutil.Process(stack.daphne.pid)

    def cpu() -> float:
        t = proc.cpu_times()
        return t.user + t.system

    await ttft(chatter)  # warm the path
    await asyncio.sleep(1)
    before = cpu()
    await asyncio.sleep(window_s)
    idle_cpu = cpu() - before

    off, on = [], []

    async def block(into: list[float]) -> None:
        for _ in range(ttft_runs):
            into.append(await ttft(chatter))

    await block(off)
    for ws in clients:
        await ws.send(json.dumps({"type": "monitoring:subscribe"}))
    await asyncio.sleep(INTERVAL_S * 1.5)  # past the first (immediate) samples
    subscribed.set()
    before = cpu()
    await asyncio.sleep(window_s)
    busy_cpu = cpu() - before
    ticks = window_s / INTERVAL_S
    await block(on)
    for ws in clients:
        await ws.send(json.dumps({"type": "monitoring:unsubscribe"}))
    await asyncio.sleep(0.5)
    await block(off)
    for ws in clients:
        await ws.send(json.dumps({"type": "monitoring:subscribe"}))
    await asyncio.sleep(0.5)
    await block(on)
    for task in readers:
        task.cancel()
    for ws in [*clients, chatter]:
        await ws.close()
    per_tick_s = max(0.0, busy_cpu - idle_cpu) / ticks
    return {
        "sampler_cpu_percent_of_core": 100 * per_tick_s / DEFAULT_INTERVAL_S,
        "sampler_cpu_ms_per_tick_100_subscribers": per_tick_s * 1000,
        "tick_delivery_p50_ms": statistics.median(delays),
        "tick_delivery_p99_ms": percentile(delays, 0.99),
        "ticks_delivered": len(delays),
        "ttft_p50_ms_without_monitoring": statistics.median(off),
        "ttft_p50_ms_with_monitoring": statistics.median(on),
        "ttft_delta_ms": statistics.median(on) - statistics.median(off),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter window: under a minute")
    args = parser.parse_args()
    window_s, ttft_runs = (10.0, 15) if args.quick else (60.0, 60)
    with app_stack(env_extra={"MONITORING_INTERVAL_S": str(INTERVAL_S)}, answer_tokens=20) as stack:
        figures = asyncio.run(measure(stack, window_s=window_s, ttft_runs=ttft_runs))
    for key, value in figures.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
