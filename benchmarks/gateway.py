"""Gateway overhead: the same backend called directly and through the gateway, in one run.

    .venv/bin/python benchmarks/gateway.py [--quick]

Starts its own embedded Redis, a scripted OpenAI-compatible server streaming at 500 tokens/s and
a llama.cpp server with the small model, all on 127.0.0.1, then alternates direct and gateway
calls. Prints `name: value` lines: added time to first token (P50/P95, ms) and the per-stream
token-rate ratio gateway/direct, for each backend; the headline lines are the scripted server's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stats import percentile  # noqa: E402


async def direct_stream(client, model: str, max_tokens: int) -> tuple[float, float]:
    """(ttft seconds, tokens per second after the first token) calling the backend itself."""
    started = time.perf_counter()
    first = None
    count = 0
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me about the sea."}],
        max_tokens=max_tokens,
        stream=True,
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            count += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    return first - started, (count - 1) / max(1e-9, end - first)


async def gateway_stream(gateway, model: str, max_tokens: int) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    count = 0
    request = gateway.ChatRequest(
        messages=[{"role": "user", "content": "Tell me about the sea."}], model=model, max_tokens=max_tokens
    )
    async for event in gateway.chat_stream(request):
        if isinstance(event, gateway.StreamDelta):
            count += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    return first - started, (count - 1) / max(1e-9, end - first)


async def measure(name: str, url: str, model: str, runs: int, max_tokens: int) -> dict[str, float]:
    import openai

    from llm import gateway

    client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
    await direct_stream(client, model, 8)  # warm both paths (connections, caches)
    await gateway_stream(gateway, model, 8)
    direct_ttft, gw_ttft, ratios = [], [], []
    for _ in range(runs):
        d_ttft, d_rate = await direct_stream(client, model, max_tokens)
        g_ttft, g_rate = await gateway_stream(gateway, model, max_tokens)
        direct_ttft.append(d_ttft * 1000)
        gw_ttft.append(g_ttft * 1000)
        ratios.append(g_rate / d_rate if d_rate else 0.0)
    added = [g - d for g, d in zip(gw_ttft, direct_ttft, strict=True)]
    return {
        f"{name}_direct_ttft_p50_ms": statistics.median(direct_ttft),
        f"{name}_gateway_ttft_p50_ms": statistics.median(gw_ttft),
        f"{name}_added_ttft_p50_ms": statistics.median(added),
        f"{name}_added_ttft_p95_ms": percentile(added, 0.95),
        f"{name}_rate_ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: under a minute")
    args = parser.parse_args()
    runs_fake, runs_llama = (12, 4) if args.quick else (60, 20)

    workdir = Path(tempfile.mkdtemp(prefix="orch-bench-"))
    os.environ.update(
        ORCH_DATA_DIR=str(workdir / "data"),
        SECRET_KEY="bench",
        DJANGO_SETTINGS_MODULE="orchestrator_site.settings",
        LLM_BACKENDS="",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)

    from core import embedded
    from orchestrator_site.env import embedded_redis_socket

    socket_path = embedded_redis_socket(workdir / "data")
    procs = [embedded.redis_server_start(socket_path=socket_path, workdir=socket_path.parent)]
    fake = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from llm.models import Backend
        from tests.fakes.openai_server import FakeServer

        fake = FakeServer(embedded.free_port(), tokens_per_s=500.0, answer_tokens=200).start()
        llama_port = embedded.free_port()
        procs.append(
            embedded.llm_server_start(
                model=embedded.model_path(ROOT / ".cache"), port=llama_port, log_path=workdir / "llama.log"
            )
        )
        llama_url = f"http://127.0.0.1:{llama_port}/v1"
        Backend.objects.create(name="scripted", base_url=fake.url, kind="openai", max_concurrency=64)
        Backend.objects.create(name="llamacpp", base_url=llama_url, kind="llamacpp")

        async def run() -> dict[str, float]:
            figures = await measure("scripted", fake.url, "fake-ok", runs_fake, 200)
            figures.update(await measure("llamacpp", llama_url, embedded.EMBEDDED_MODEL_ALIAS, runs_llama, 48))
            return figures

        figures = asyncio.run(run())
    finally:
        if fake is not None:
            fake.stop()
        for proc in reversed(procs):
            embedded.process_stop(proc)

    print(f"added_ttft_p50_ms: {figures['scripted_added_ttft_p50_ms']:.2f}")
    print(f"added_ttft_p95_ms: {figures['scripted_added_ttft_p95_ms']:.2f}")
    print(f"rate_ratio: {figures['scripted_rate_ratio']:.3f}")
    for key, value in figures.items():
        print(f"{key}: {value:.3f}" if "ratio" in key else f"{key}: {value:.2f}")


if __name__ == "__main__":
    main()
