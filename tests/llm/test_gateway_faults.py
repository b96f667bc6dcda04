"""Faults a real server cannot show on cue, against the scripted fake: breaker, retries before the
first token only, fallbacks recorded, timeouts, validation flags."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async

from llm import breaker, catalogue, gateway
from llm.models import Backend
from tests.fixtures.llm import make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]


def ask(model: str, **kw) -> gateway.ChatRequest:
    return gateway.ChatRequest(messages=[{"role": "user", "content": "hi"}], model=model, **kw)


async def backend_at(name: str, server, **fields) -> Backend:
    return await sync_to_async(make_backend)(name, server.url, **fields)


async def test_breaker_opens_after_repeated_failures_and_stops_calling(fake, monkeypatch):
    monkeypatch.setattr(breaker, "COOLDOWN_S", 60.0)
    await backend_at("f1", fake)
    for _ in range(breaker.FAILURE_THRESHOLD):
        with pytest.raises(gateway.GatewayError) as failed:
            await gateway.chat(ask("fake-500"))
        assert failed.value.code == "backend_unavailable"
    assert (await breaker.states(["f1"]))["f1"].circuit == "open"
    calls = fake.state.calls
    with pytest.raises(gateway.GatewayError) as refused:
        await gateway.chat(ask("fake-ok"))
    assert fake.state.calls == calls  # the open circuit kept the call off the backend
    assert [a.outcome for a in refused.value.attempts] == ["skipped_open"]


async def test_half_open_lets_exactly_one_probe_through_then_closes(fake, monkeypatch):
    monkeypatch.setattr(breaker, "COOLDOWN_S", 0.3)
    await backend_at("f1", fake)
    httpx.post(fake.url.replace("/v1", "/_control"), json={"fail": True})
    for _ in range(breaker.FAILURE_THRESHOLD):
        with pytest.raises(gateway.GatewayError):
            await gateway.chat(ask("fake-ok"))
    assert (await breaker.states(["f1"]))["f1"].circuit == "open"
    httpx.post(fake.url.replace("/v1", "/_control"), json={"fail": False, "tokens_per_s": 50})
    await asyncio.sleep(0.4)

    calls = fake.state.calls
    results = await asyncio.gather(*(gateway.chat(ask("fake-ok")) for _ in range(4)), return_exceptions=True)
    ok = [r for r in results if isinstance(r, gateway.ChatResult)]
    refused = [r for r in results if isinstance(r, gateway.GatewayError)]
    assert len(ok) == 1 and len(refused) == 3  # one probe; the others were kept off while it ran
    assert fake.state.calls == calls + 1
    assert (await breaker.states(["f1"]))["f1"].circuit == "closed"
    assert (await gateway.chat(ask("fake-ok"))).content  # closed: traffic flows again


async def test_a_failed_probe_opens_the_circuit_again(fake, monkeypatch):
    monkeypatch.setattr(breaker, "COOLDOWN_S", 0.2)
    await backend_at("f1", fake)
    for _ in range(breaker.FAILURE_THRESHOLD):
        with pytest.raises(gateway.GatewayError):
            await gateway.chat(ask("fake-500"))
    await asyncio.sleep(0.3)
    with pytest.raises(gateway.GatewayError):
        await gateway.chat(ask("fake-500"))  # the probe fails
    st = (await breaker.states(["f1"]))["f1"]
    assert st.circuit == "open" and "HTTP 500" in st.last_error


async def test_a_single_backend_group_is_cooled_down_too(fake, monkeypatch):
    """LiteLLM never cools down a group of one; we do, so a dead server is not hammered."""
    monkeypatch.setattr(breaker, "COOLDOWN_S", 60.0)
    await backend_at("only", fake)
    for _ in range(breaker.FAILURE_THRESHOLD + 3):
        with pytest.raises(gateway.GatewayError):
            await gateway.chat(ask("fake-500"))
    assert fake.state.calls <= breaker.FAILURE_THRESHOLD * 2  # retries included, then nothing


async def test_429_is_retried_then_the_fallback_model_answers_and_is_recorded(fake):
    await backend_at("f1", fake)
    result = await gateway.chat(ask("fake-429", fallbacks=["fake-ok"]))
    assert result.model == "fake-ok"
    tried = [(a.model, a.outcome) for a in result.attempts]
    assert tried[0] == ("fake-429", "error") and tried[-1] == ("fake-ok", "ok")
    assert fake.state.chat_calls.count("fake-429") == 2  # one retry with backoff, then fall back
    assert "HTTP 429" in result.attempts[0].error


async def test_connection_refused_moves_to_the_other_backend(fake, fake2):
    await backend_at("a", fake)
    await backend_at("b", fake2)
    await catalogue.catalogue_refresh()
    fake.stop()  # a is now refusing connections
    for _ in range(3):
        result = await gateway.chat(ask("fake-ok"))
        assert result.backend == "b"
    errors = [a for a in result.attempts if a.outcome == "error"]
    assert all(a.backend == "a" for a in errors)


async def test_a_stream_cut_mid_way_ends_partial_and_is_never_resent(fake):
    await backend_at("f1", fake)
    received = []
    with pytest.raises(gateway.StreamInterrupted) as cut:
        async for event in gateway.chat_stream(ask("fake-cut", fallbacks=["fake-ok"])):
            if isinstance(event, gateway.StreamDelta):
                received.append(event.text)
    assert received and cut.value.partial == "".join(received)
    assert fake.state.chat_calls == ["fake-cut"]  # no retry, no fallback: text had reached the caller


async def test_a_slow_first_token_times_out_and_falls_back(fake):
    await backend_at("f1", fake, first_token_timeout_s=0.5)
    result = await gateway.chat(ask("fake-slow-first", fallbacks=["fake-ok"]))
    assert result.model == "fake-ok"
    assert any(a.model == "fake-slow-first" and "timed out" in a.error for a in result.attempts)


async def test_a_stall_between_tokens_ends_the_stream_as_partial(fake):
    await backend_at("f1", fake, idle_timeout_s=0.5)
    with pytest.raises(gateway.StreamInterrupted) as stalled:
        async for _ in gateway.chat_stream(ask("fake-stall")):
            pass
    assert stalled.value.partial.split() == ["the", "quick", "brown"]
    assert "timed out" in str(stalled.value)


async def test_an_unknown_model_is_not_found(fake):
    await backend_at("f1", fake)
    with pytest.raises(gateway.GatewayError) as missing:
        await gateway.chat(ask("nope"))
    assert missing.value.code == "not_found"


@pytest.mark.parametrize(
    ("model", "expect_json", "code"),
    [
        ("fake-empty", False, "empty"),
        ("fake-length", False, "truncated"),
        ("fake-repeat", False, "repetition"),
        ("fake-ok", True, "invalid_json"),
    ],
)
async def test_validation_flags_bad_answers_with_a_reason(fake, model, expect_json, code):
    await backend_at("f1", fake)
    result = await gateway.chat(ask(model, expect_json=expect_json))
    assert [f.code for f in result.flags] == [code]
    assert result.flags[0].reason


async def test_a_flagged_answer_is_retried_once_when_asked(fake):
    await backend_at("f1", fake)
    result = await gateway.chat(ask("fake-empty", retry_invalid=True))
    assert fake.state.chat_calls == ["fake-empty", "fake-empty"]
    assert [f.code for f in result.flags] == ["empty"]


async def test_the_api_key_is_encrypted_at_rest_and_sent_only_to_its_backend(fake):
    backend = await backend_at("keyed", fake)
    backend.api_key = "sk-very-secret"
    await backend.asave()
    stored = await Backend.objects.filter(pk=backend.pk).values_list("api_key_encrypted", flat=True).aget()
    assert "sk-very-secret" not in stored and stored.startswith("v1:")
    assert (await Backend.objects.aget(pk=backend.pk)).api_key == "sk-very-secret"
    await gateway.chat(ask("fake-ok"))
    assert fake.state.auth_headers[-1] == "Bearer sk-very-secret"


async def test_latency_is_tracked_per_backend(fake):
    await backend_at("f1", fake)
    await gateway.chat(ask("fake-ok"))
    assert (await breaker.states(["f1"]))["f1"].latency_ms > 0


async def test_max_concurrency_sends_overflow_to_the_other_backend(fake, fake2):
    httpx.post(fake.url.replace("/v1", "/_control"), json={"tokens_per_s": 20})
    await backend_at("small", fake, max_concurrency=1)
    await backend_at("big", fake2, max_concurrency=8)
    results = await asyncio.gather(*(gateway.chat(ask("fake-ok")) for _ in range(4)))
    used = [r.backend for r in results]
    assert used.count("small") <= 1 and used.count("big") >= 3


async def test_when_every_backend_is_full_requests_wait_rather_than_fail(fake, fake2):
    """Two backends that each take one request at a time and six requests at once: the overflow queues at the
    backends (least loaded first) instead of coming back as backend_unavailable."""
    for server in (fake, fake2):
        httpx.post(server.url.replace("/v1", "/_control"), json={"tokens_per_s": 40})
    await backend_at("one", fake, max_concurrency=1)
    await backend_at("two", fake2, max_concurrency=1)
    results = await asyncio.gather(*(gateway.chat(ask("fake-ok")) for _ in range(6)))
    assert all(r.content for r in results)
    used = [r.backend for r in results]
    assert used.count("one") >= 2 and used.count("two") >= 2


async def test_a_call_from_another_event_loop_leaves_this_loops_streams_alone(fake):
    """A thread running its own loop (asyncio.run in a sync helper) must not close the sessions
    that streams on daphne's loop are reading from."""
    await backend_at("f1", fake)
    fake.state.tokens_per_s, fake.state.answer_tokens = 100.0, 40
    parts: list[str] = []
    stream = gateway.chat_stream(ask("fake-ok"))
    async for event in stream:
        if isinstance(event, gateway.StreamDelta):
            parts.append(event.text)
            if len(parts) == 5:  # mid-stream: another loop uses the same backend
                other = await asyncio.to_thread(lambda: asyncio.run(gateway.chat(ask("fake-ok"))))
                assert other.content
    assert len(parts) == 40
