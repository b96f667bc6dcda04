"""Every call to a model goes through here: routing, circuit breaker, retries, fallbacks, timeouts.

Retries happen only before the first token: once text has reached the caller, a stream that dies
ends as `StreamInterrupted` carrying the partial text, never re-sent. Fallback models are tried
in order after every backend of the asked model has failed or is open; each attempt is recorded.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import openai
from django.conf import settings

from core import redis_clients
from llm import breaker
from llm.catalogue import catalogue_get, enabled_backends, models_by_id
from llm.discovery import ModelInfo, headers_for
from llm.localcache import LocalCache
from llm.models import Backend
from llm.scrub import scrub
from llm.transport import BackendHTTPError, client_for, sse_chunks
from llm.validation import Flag, response_check

BACKOFF_BASE_S = 0.2
BACKOFF_MAX_S = 2.0
STICKY_TTL_S = 1800


class GatewayError(Exception):
    """No answer could be had. `code` is a protocol error code (backend_unavailable, not_found, bad_request)."""

    def __init__(self, code: str, message: str, attempts: list[Attempt] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.attempts = attempts or []


class StreamInterrupted(Exception):
    """The stream died after text had been sent; `partial` holds all of that text."""

    def __init__(self, message: str, partial: str, attempts: list[Attempt]):
        super().__init__(message)
        self.partial = partial
        self.attempts = attempts


@dataclass
class Attempt:
    backend: str
    model: str
    outcome: str  # ok | error | skipped_open | skipped_busy
    error: str = ""
    ms: float = 0.0
    retryable: bool = True  # an error worth a second round (a timeout, a 5xx), not a refusal
    refused: bool = False  # the backend refused this request (a 4xx): its fault is the request's, not its own

    def to_dict(self) -> dict:
        return {
            "backend": self.backend,
            "model": self.model,
            "outcome": self.outcome,
            "error": self.error,
            "ms": self.ms,
        }


@dataclass
class ChatRequest:
    messages: list[dict]
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    fallbacks: list[str] = field(default_factory=list)
    sticky_key: str | None = None
    expect_json: bool = False
    retry_invalid: bool = False
    stop: list[str] | None = None
    only_backend: str | None = None  # benchmarks measure one backend, bypassing routing
    extra: dict = field(default_factory=dict)

    def params(self) -> dict:
        params: dict[str, Any] = {"messages": self.messages}
        for name in ("temperature", "max_tokens", "top_p", "stop"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.expect_json:
            params["response_format"] = {"type": "json_object"}
        params.update(self.extra)
        return params


@dataclass
class ChatResult:
    content: str
    model: str
    backend: str
    finish_reason: str | None
    usage: dict
    timings: dict
    attempts: list[Attempt]
    flags: list[Flag] = field(default_factory=list)
    # Token log-probabilities (natural log), their tokens and each token's top alternatives ({token: logprob}),
    # when asked for with extra={"logprobs": True, "top_logprobs": N} and the backend returns them; else None.
    logprobs: list[float] | None = None
    logprob_tokens: list[str] | None = None
    top_logprobs: list[dict[str, float]] | None = None


@dataclass
class StreamStart:
    model: str
    backend: str


@dataclass
class StreamDelta:
    text: str


@dataclass
class StreamEnd:
    finish_reason: str | None
    usage: dict
    timings: dict
    attempts: list[Attempt]
    logprobs: list[float] | None = None  # only when asked for and the backend sent them (see ChatResult)
    logprob_tokens: list[str] | None = None
    top_logprobs: list[dict[str, float]] | None = None


_local_inflight: Counter[str] = Counter()
_backends_local: LocalCache[list[Backend]] = LocalCache(enabled_backends, "the backends")


async def backends_cached() -> list[Backend]:
    return await _backends_local.get()


def backends_forget_local() -> None:
    _backends_local.forget()


# --- routing ---
async def default_model() -> str:
    if getattr(settings, "LLM_DEFAULT_MODEL", ""):
        return settings.LLM_DEFAULT_MODEL
    by_id = models_by_id(await catalogue_get())
    loaded = sorted(m for m, infos in by_id.items() if any(i.loaded and i.kind == "llm" for i in infos))
    if loaded:
        return loaded[0]
    if by_id:
        return sorted(by_id)[0]
    raise GatewayError(
        "backend_unavailable", "No LLM backend answers with any model. Start LM Studio or check LLM_BACKENDS."
    )


async def candidates(
    model: str, *, sticky_key: str | None = None, only_backend: str | None = None
) -> list[tuple[Backend, ModelInfo, breaker.BackendState]]:
    """Backends serving `model`, best first: loaded, sticky, least in flight per weight, lowest latency."""
    backends = {b.name: b for b in await backends_cached()}
    if only_backend is not None:
        backends = {k: v for k, v in backends.items() if k == only_backend}
    infos = [i for i in models_by_id(await catalogue_get()).get(model, []) if i.backend in backends]
    if not infos:
        # The catalogue may be stale (a model was just loaded): ask the backends once more.
        infos = [i for i in models_by_id(await catalogue_get(refresh=True)).get(model, []) if i.backend in backends]
    if not infos:
        return []
    states, sticky = await breaker.states_and_sticky([i.backend for i in infos], sticky_key=sticky_key)

    def score(info: ModelInfo):
        backend, st = backends[info.backend], states[info.backend]
        # Redis counts every process's requests; the local count also sees this process's
        # requests routed a moment ago that have not reached Redis yet.
        in_flight = max(st.in_flight, _local_inflight[info.backend])
        return (
            0 if info.loaded else 1,
            0 if info.backend == sticky else 1,
            in_flight / max(1, backend.weight),
            st.latency_ms if st.latency_ms is not None else 0.0,
            random.random(),  # equal backends share the load
        )

    return [(backends[i.backend], i, states[i.backend]) for i in sorted(infos, key=score)]


def backoff_s(attempt: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt) * (0.5 + random.random() / 2)


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APIStatusError, BackendHTTPError)):
        return exc.status_code in (408, 409, 425, 429) or exc.status_code >= 500
    return isinstance(
        exc,
        (openai.APIConnectionError, openai.APITimeoutError, asyncio.TimeoutError, httpx.HTTPError, aiohttp.ClientError),
    )


# "This model or endpoint does not do that": the request's problem, not the backend's. Answered at once with a
# clear error of ours; never retried, never counted against the backend's circuit (one user's embeddings call to a
# chat-only LM Studio must not take chat down for everyone).
# 501 is llama.cpp's own server without --embeddings.
REQUEST_FAULTS = frozenset({400, 404, 405, 413, 415, 422, 501})
# Of those, the ones that say the request itself is malformed: no other backend would take it either.
REQUEST_INVALID = frozenset({400, 413, 422})
# llama-cpp-python's server started without `--embedding true` answers a 500 that says so.
_REFUSALS_AS_500 = ("must be created with embedding=True",)


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, (openai.APIStatusError, BackendHTTPError)):
        return exc.status_code
    return None


def request_fault(exc: BaseException) -> bool:
    """The backend refused this request ("this model/endpoint does not do that"), it did not fail."""
    status = _status_of(exc)
    if status in REQUEST_FAULTS:
        return True
    return status == 500 and any(text in str(exc) for text in _REFUSALS_AS_500)


def backend_fault(exc: BaseException) -> bool:
    """Whether an error counts against the backend's circuit: it could not answer (connection refused or cut,
    timeout, 5xx, 429/408), as opposed to refusing this request or this caller (any other 4xx)."""
    if request_fault(exc):
        return False
    status = _status_of(exc)
    return status is None or status >= 500 or status in (408, 429)


def describe(exc: BaseException, backend: Backend | None = None) -> str:
    """The error in a line, with the backend's own key and anything like a credential taken out."""
    if isinstance(exc, BackendHTTPError):
        text = str(exc)
    elif isinstance(exc, openai.APIStatusError):
        text = f"HTTP {exc.status_code}: {str(exc.message)[:200]}"
    elif isinstance(exc, asyncio.TimeoutError):
        text = "timed out"
    else:
        text = f"{type(exc).__name__}: {str(exc)[:200]}"
    return scrub(text, secrets=[backend.api_key] if backend is not None else ())


async def plan(request: ChatRequest) -> list[str]:
    model = request.model or await default_model()
    return [model, *[m for m in request.fallbacks if m and m != model]]


def _busy(backend: Backend, st) -> bool:
    return max(st.in_flight, _local_inflight[backend.name]) >= backend.max_concurrency


async def _each_try(request: ChatRequest, attempts: list[Attempt]):
    models = await plan(request)
    any_known = False
    for model in models:
        found = await candidates(model, sticky_key=request.sticky_key, only_backend=request.only_backend)
        any_known = any_known or bool(found)
        tried = 0
        for round_no in range(2):  # a second round retries backends that failed retryably
            for backend, _info, st in found:
                if round_no == 1 and not any(
                    a.backend == backend.name
                    and a.model == model
                    and (a.outcome == "skipped_busy" or (a.outcome == "error" and a.retryable))
                    for a in attempts
                ):
                    continue
                # A full backend is passed over for one with room; when every one is full, the request
                # waits in the least loaded one's own queue rather than failing (the order of `found`).
                if _busy(backend, st) and any(not _busy(b, s) for b, _i, s in found if b is not backend):
                    attempts.append(Attempt(backend.name, model, "skipped_busy"))
                    continue
                # A closed circuit needs no round trip (and no await between sorting and choosing,
                # so concurrent requests of this process see each other's choices).
                if st.circuit != "closed" or round_no or tried:
                    verdict = await breaker.breaker_allow(backend.name)
                    if verdict == "open":
                        attempts.append(Attempt(backend.name, model, "skipped_open", "circuit open"))
                        continue
                if tried:
                    await asyncio.sleep(backoff_s(tried - 1))
                tried += 1
                _local_inflight[backend.name] += 1
                try:
                    yield backend, model
                finally:
                    _local_inflight[backend.name] -= 1
            passed_over = any(a.model == model and a.outcome == "skipped_busy" for a in attempts)
            if round_no == 0 and tried == 0 and not passed_over:
                break
    if not any_known:
        asked = models[0] if models else request.model
        crashed = await _crash_reasons([b.name for b in await backends_cached()])
        if crashed:
            # Its server is down, so the catalogue no longer lists its models: say why, not "no such model".
            raise GatewayError("backend_unavailable", f"No running backend serves {asked!r}: {crashed}", attempts)
        raise GatewayError("not_found", f"No enabled backend serves the model {asked!r}.", attempts)
    summary = "; ".join(f"{a.backend}/{a.model}: {a.error or a.outcome}" for a in attempts[-6:])
    errors = [a for a in attempts if a.outcome == "error"]
    if errors and all(a.refused for a in errors):
        # Every backend that has the model said "not this request": the caller's problem, said as such.
        raise GatewayError("bad_request", f"Every backend refused the request ({summary}).", attempts)
    crashed = await _crash_reasons(list(dict.fromkeys(a.backend for a in attempts)))
    raise GatewayError(
        "backend_unavailable",
        f"Every backend failed or is cooling down ({summary}).{f' {crashed}' if crashed else ''}",
        attempts,
    )


async def _crash_reasons(names: list[str]) -> str:
    """What `serve` knows about embedded model servers among `names` that crashed, in words that say what to do."""
    from core.supervision import backend_down_reason

    reasons = []
    for name in names:
        try:
            reason = backend_down_reason(name)
        except OSError:
            reason = ""
        if reason:
            reasons.append(f"{name}: {reason}")
    return " ".join(reasons)


async def _remember_sticky(request: ChatRequest, backend: Backend) -> None:
    if request.sticky_key:
        await redis_clients.client().set(f"{breaker.PREFIX}:sticky:{request.sticky_key}", backend.name, ex=STICKY_TTL_S)


async def chat_stream(request: ChatRequest) -> AsyncIterator[StreamStart | StreamDelta | StreamEnd]:
    """Stream one answer: StreamStart, StreamDelta*, StreamEnd; GatewayError before any text,
    StreamInterrupted (with the partial text) after."""
    attempts: list[Attempt] = []
    params = request.params()
    async with aclosing(_each_try(request, attempts)) as tries:
        async for backend, model in tries:
            started = time.perf_counter()
            token = await breaker.inflight_add(backend.name)
            parts: list[str] = []
            logprobs: list[tuple[str, float, dict[str, float]]] = []
            sent_any = False
            try:
                chunks = sse_chunks(
                    backend, {"model": model, "stream": True, "stream_options": {"include_usage": True}, **params}
                )
                finish_reason, usage, ttft_ms = None, {}, None
                deadline = backend.first_token_timeout_s
                while True:
                    try:
                        # A timer per read, not wait_for: in Python 3.11 that wraps each read in a task.
                        async with asyncio.timeout(deadline):
                            batch = await chunks.__anext__()
                    except StopAsyncIteration:
                        break
                    for chunk in batch:
                        if chunk.get("usage"):
                            usage = chunk["usage"]
                        choices = chunk.get("choices")
                        if not choices:
                            continue
                        choice = choices[0]
                        delta = choice.get("delta") or {}
                        text = delta.get("content") or ""
                        if choice.get("finish_reason"):
                            finish_reason = choice["finish_reason"]
                        if choice.get("logprobs"):
                            logprobs.extend(_logprobs_of(choice["logprobs"]))
                        if text:
                            if not sent_any:
                                ttft_ms = (time.perf_counter() - started) * 1000
                                yield StreamStart(model=model, backend=backend.name)
                                sent_any = True
                                deadline = backend.idle_timeout_s
                            parts.append(text)
                            yield StreamDelta(text)
                total_ms = (time.perf_counter() - started) * 1000
                if not sent_any:
                    yield StreamStart(model=model, backend=backend.name)
                attempts.append(Attempt(backend.name, model, "ok", ms=round(total_ms, 1)))
                await breaker.breaker_success(backend.name, latency_ms=ttft_ms)
                await _remember_sticky(request, backend)
                completion = usage.get("completion_tokens") or len(parts)
                gen_s = max(1e-6, (total_ms - (ttft_ms or 0)) / 1000)
                yield StreamEnd(
                    finish_reason=finish_reason or "stop",  # some servers end a stream without saying why
                    usage=usage or {"prompt_tokens": None, "completion_tokens": len(parts), "total_tokens": None},
                    timings={
                        "ttft_ms": round(ttft_ms or total_ms, 1),
                        "total_ms": round(total_ms, 1),
                        "tokens_per_second": round(completion / gen_s, 2) if completion > 1 else None,
                    },
                    attempts=attempts,
                    logprobs=[lp for _t, lp, _top in logprobs] if logprobs else None,
                    logprob_tokens=[t for t, _lp, _top in logprobs] if logprobs else None,
                    top_logprobs=[top for _t, _lp, top in logprobs] if logprobs else None,
                )
                return
            except (
                BackendHTTPError,
                TimeoutError,
                openai.OpenAIError,
                httpx.HTTPError,
                aiohttp.ClientError,
                OSError,
            ) as exc:
                error = describe(exc, backend)
                if backend_fault(exc):
                    await breaker.breaker_failure(backend.name, error)
                refused = request_fault(exc)
                attempts.append(
                    Attempt(
                        backend.name,
                        model,
                        "error",
                        error,
                        ms=round((time.perf_counter() - started) * 1000, 1),
                        retryable=retryable(exc) and not refused,
                        refused=refused,
                    )
                )
                if sent_any:
                    raise StreamInterrupted(
                        f"{backend.name} stopped mid-answer ({error})", "".join(parts), attempts
                    ) from exc
                if _status_of(exc) in REQUEST_INVALID:
                    # The request itself is malformed (or too long): every backend would say the same.
                    raise GatewayError(
                        "bad_request", f"{backend.name} refused the request for {model!r}: {error}", attempts
                    ) from exc
            finally:
                await breaker.inflight_remove(backend.name, token)


def _logprobs_of(data) -> list[tuple[str, float, dict[str, float]]]:
    """(token, logprob, {alternative: logprob}) of a chunk's `logprobs`, as OpenAI sends them:
    {"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}, ...]}."""
    content = data.get("content") if isinstance(data, dict) else None
    if not isinstance(content, list):
        return []
    out = []
    for item in content:
        if isinstance(item, dict) and isinstance(item.get("logprob"), (int, float)):
            top = {
                str(alt.get("token", "")): float(alt["logprob"])
                for alt in item.get("top_logprobs") or []
                if isinstance(alt, dict) and isinstance(alt.get("logprob"), (int, float))
            }
            out.append((str(item.get("token", "")), float(item["logprob"]), top))
    return out


async def chat(request: ChatRequest) -> ChatResult:
    """One whole answer (streamed underneath, so the timeouts and the breaker behave the same).

    With `retry_invalid`, an answer flagged by validation (empty, truncated, repetitive, bad JSON)
    is asked for once more; the second answer is returned with its own flags either way."""
    for round_no in range(2 if request.retry_invalid else 1):
        parts: list[str] = []
        start: StreamStart | None = None
        end: StreamEnd | None = None
        async for event in chat_stream(request):
            if isinstance(event, StreamStart):
                start = event
            elif isinstance(event, StreamDelta):
                parts.append(event.text)
            else:
                end = event
        content = "".join(parts)
        flags = response_check(content, end.finish_reason, expect_json=request.expect_json)
        result = ChatResult(
            content=content,
            model=start.model,
            backend=start.backend,
            finish_reason=end.finish_reason,
            usage=end.usage,
            timings=end.timings,
            attempts=end.attempts,
            flags=flags,
            logprobs=end.logprobs,
            logprob_tokens=end.logprob_tokens,
            top_logprobs=end.top_logprobs,
        )
        if not flags or round_no == 1:
            return result
    return result


async def embedding_models() -> list[str]:
    """The models some backend lists as embedding models (LM Studio and Ollama say; llama.cpp does not)."""
    by_id = models_by_id(await catalogue_get())
    return sorted(m for m, infos in by_id.items() if any(i.kind == "embedding" for i in infos))


async def _not_embedding_model(model: str, why: str, attempts: list[Attempt]) -> GatewayError:
    others = [m for m in await embedding_models() if m != model]
    offer = f"models that do: {', '.join(others)}" if others else "no backend lists an embedding model: load one"
    return GatewayError("unsupported", f"The model {model!r} does not serve embeddings ({why}); {offer}.", attempts)


async def embeddings(model: str, texts: list[str]) -> list[list[float]]:
    """One vector per text. llama.cpp without pooling returns per-token vectors: mean-pooled here.

    A backend that refuses (4xx: the model is a chat model, the endpoint is off) answers GatewayError
    'unsupported' naming the models that do embed; it is never retried nor counted against the backend."""
    attempts: list[Attempt] = []
    try:
        async with aclosing(_each_try(ChatRequest(messages=[], model=model), attempts)) as tries:
            async for backend, model_id in tries:
                token = await breaker.inflight_add(backend.name)
                try:
                    response = await asyncio.wait_for(
                        client_for(backend).embeddings.create(model=model_id, input=texts),
                        timeout=backend.first_token_timeout_s,
                    )
                    await breaker.breaker_success(backend.name)
                    return [_pool(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]
                except (TimeoutError, openai.OpenAIError, httpx.HTTPError) as exc:
                    # A refusal is not retried on this backend, but another one with the model may embed.
                    error = describe(exc, backend)
                    refused = request_fault(exc)
                    attempts.append(
                        Attempt(
                            backend.name,
                            model_id,
                            "error",
                            error,
                            retryable=retryable(exc) and not refused,
                            refused=refused,
                        )
                    )
                    if backend_fault(exc):
                        await breaker.breaker_failure(backend.name, error)
                finally:
                    await breaker.inflight_remove(backend.name, token)
    except GatewayError as exc:
        if exc.code == "bad_request":  # every backend with the model refused
            why = "; ".join(f"{a.backend} answered {a.error}" for a in attempts if a.refused)
            raise await _not_embedding_model(model, why, attempts) from None
        raise
    raise GatewayError("backend_unavailable", "no backend produced embeddings", attempts)  # pragma: no cover


def _pool(vector: list) -> list[float]:
    if vector and isinstance(vector[0], list):
        width = len(vector[0])
        return [sum(row[i] for row in vector) / len(vector) for i in range(width)]
    return vector


@dataclass
class TokenCount:
    count: int
    exact: bool
    method: str


def tokens_estimate(text: str) -> int:
    """About 4 characters a token for English prose; labelled as an estimate wherever it is shown."""
    return max(1, round(len(text) / 4)) if text else 0


async def tokenize(model: str | None, text: str) -> TokenCount:
    """Exact through llama.cpp's /tokenize where the backend has it, an estimate elsewhere."""
    model = model or await default_model()
    for backend, _info, _st in await candidates(model):
        if backend.kind != Backend.Kind.LLAMACPP:
            continue
        try:
            async with httpx.AsyncClient(headers=headers_for(backend), timeout=10, follow_redirects=False) as http:
                for url in (f"{backend.root_url}/tokenize", f"{backend.root_url}/extras/tokenize"):
                    response = await http.post(url, json={"content": text, "input": text, "model": model})
                    if response.status_code == 200:
                        data = response.json()
                        tokens = data.get("tokens")
                        count = len(tokens) if tokens is not None else data.get("count")
                        if count is not None:
                            return TokenCount(count=int(count), exact=True, method=f"{backend.name} tokenizer")
        except httpx.HTTPError:
            continue
    return TokenCount(count=tokens_estimate(text), exact=False, method="estimate (~4 characters a token)")
