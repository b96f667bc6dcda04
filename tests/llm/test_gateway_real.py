"""The gateway against real llama.cpp servers: discovery, completion, streaming, embeddings,
tokenize, routing across two instances, benchmarks."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from llm import catalogue, gateway, services
from llm.models import Backend, BenchmarkResult
from tests.fixtures.llm import MODEL, make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]


def ask(text: str = "Name three colours.", **kw) -> gateway.ChatRequest:
    return gateway.ChatRequest(messages=[{"role": "user", "content": text}], max_tokens=kw.pop("max_tokens", 24), **kw)


async def test_discovery_lists_the_real_model_as_loaded(llama):
    entry = await catalogue.catalogue_refresh()
    assert entry["backends"]["llama1"]["ok"] is True
    models = entry["backends"]["llama1"]["models"]
    assert [(m["id"], m["loaded"]) for m in models] == [(MODEL, True)]
    # and it is cached in Redis for the other processes
    catalogue.catalogue_forget_local()
    assert (await catalogue.catalogue_get())["backends"]["llama1"]["models"][0]["id"] == MODEL


async def test_discovery_reports_a_dead_backend_without_failing_the_others(llama):
    from core import embedded

    await sync_to_async(make_backend)("dead", f"http://127.0.0.1:{embedded.free_port()}/v1", "lmstudio")
    entry = await catalogue.catalogue_refresh()
    assert entry["backends"]["llama1"]["ok"] is True
    assert entry["backends"]["dead"]["ok"] is False
    assert "dead (http://127.0.0.1:" in entry["backends"]["dead"]["error"]


async def test_plain_completion_through_the_gateway(llama):
    result = await gateway.chat(ask(model=MODEL))
    assert result.backend == "llama1" and result.model == MODEL
    assert result.content.strip()
    assert result.usage["completion_tokens"] > 0
    assert result.timings["ttft_ms"] > 0 and result.timings["total_ms"] >= result.timings["ttft_ms"]
    assert [a.outcome for a in result.attempts] == ["ok"]


async def test_streaming_yields_start_deltas_end_and_the_default_model_is_found(llama):
    events = [e async for e in gateway.chat_stream(ask())]  # no model named: the loaded one
    assert isinstance(events[0], gateway.StreamStart) and events[0].model == MODEL
    assert isinstance(events[-1], gateway.StreamEnd)
    deltas = [e.text for e in events if isinstance(e, gateway.StreamDelta)]
    assert len(deltas) > 1
    assert "".join(deltas).strip()
    assert events[-1].finish_reason in {"stop", "length"}


async def test_embeddings_are_mean_pooled_to_one_vector_per_text(llama2):
    vectors = await gateway.embeddings(MODEL, ["hello world", "a much longer sentence about the sea"])
    assert len(vectors) == 2
    assert len(vectors[0]) == len(vectors[1]) == 640
    assert vectors[0] != vectors[1]


async def test_tokenize_is_exact_on_llama_cpp_and_an_estimate_elsewhere(llama, fake):
    exact = await gateway.tokenize(MODEL, "hello world")
    assert exact.exact is True
    assert exact.count == 3  # BOS + two tokens, as the server's own tokenizer counts
    await sync_to_async(make_backend)("fakeone", fake.url)
    estimate = await gateway.tokenize("fake-ok", "x" * 400)
    assert estimate.exact is False and estimate.count == 100 and "estimate" in estimate.method


async def test_routing_spreads_concurrent_streams_over_both_instances(llama, llama2):
    async def one() -> str:
        return (await gateway.chat(ask(model=MODEL, max_tokens=12))).backend

    used = Counter(await asyncio.gather(*(one() for _ in range(6))))
    assert set(used) == {"llama1", "llama2"}, used


async def test_disabled_backends_get_no_traffic(llama, llama2):
    await Backend.objects.filter(name="llama2").aupdate(enabled=False)
    results = await asyncio.gather(*(gateway.chat(ask(model=MODEL, max_tokens=6)) for _ in range(3)))
    assert {r.backend for r in results} == {"llama1"}


async def test_sticky_conversations_return_to_the_same_backend(llama, llama2):
    first = await gateway.chat(ask(model=MODEL, max_tokens=6, sticky_key="conv-7"))
    for _ in range(3):
        again = await gateway.chat(ask(model=MODEL, max_tokens=6, sticky_key="conv-7"))
        assert again.backend == first.backend


async def test_benchmark_stores_ttft_rate_and_latency(llama, django_user_model):
    seen = []
    result = await services.benchmark_run(
        backend=llama, model=MODEL, runs=2, max_tokens=16, progress=lambda f, m: seen.append((f, m))
    )
    stored = await BenchmarkResult.objects.aget(pk=result.pk)
    assert stored.runs == 2
    assert 0 < stored.ttft_ms_min <= stored.ttft_ms_median <= stored.ttft_ms_max
    assert stored.tokens_per_s_median > 0
    assert stored.latency_ms_min >= stored.ttft_ms_min
    assert seen[0] == (0.0, "run 1 of 2") and seen[-1] == (1.0, "done")


async def test_compare_answers_side_by_side_and_names_a_missing_model(llama):
    results = await services.models_compare(models=[MODEL, "no-such-model"], prompt="Name three colours.", max_tokens=8)
    assert results[0]["ok"] is True and results[0]["backend"] == "llama1"
    assert results[0]["finish_reason"] in {"stop", "length"} and results[0]["timings"]["total_ms"] > 0
    assert results[1] == {
        "model": "no-such-model",
        "ok": False,
        "error": "No enabled backend serves the model 'no-such-model'.",
    }


async def test_long_text_is_mapped_over_chunks_and_reduced(llama):
    text = "\n\n".join(f"Paragraph {i}: " + "the tide comes in and goes out again. " * 12 for i in range(8))
    steps = []
    out = await services.long_text_process(
        model=MODEL,
        text=text,
        instruction="Summarise.",
        context_tokens=400,
        answer_tokens=16,
        progress=lambda f, m: steps.append(m),
    )
    assert out["chunks"] > 1
    assert len(out["partials"]) == out["chunks"]
    assert "combining" in steps and steps[-1] == "done"
    assert all(
        len(c) <= out["budget_tokens"] * 4 for c in services.text_chunks(text, budget_tokens=out["budget_tokens"])
    )


async def test_two_answers_at_once_from_the_embedded_server_both_complete(llm_url):
    """The embedded llama.cpp server queues a second request instead of cutting off the first
    (`--interrupt_requests false`): two chats at once must both get their whole answer."""
    import asyncio

    import openai

    client = openai.AsyncOpenAI(base_url=llm_url, api_key="x", max_retries=0)

    async def answer() -> tuple[str, str | None]:
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Count to ten."}], max_tokens=24, stream=True
        )
        parts, finish = [], None
        async for chunk in stream:
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
        return "".join(parts), finish

    results = await asyncio.gather(answer(), answer())
    for text, finish in results:
        assert text.strip() and finish in {"stop", "length"}, results
    await client.close()
