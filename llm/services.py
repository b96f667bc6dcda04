"""Writes and side effects of the gateway: backends, load/unload, benchmarks, compare, long text."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError

from core.services import audit_record
from llm import catalogue, discovery, gateway
from llm.models import Backend, BenchmarkResult
from llm.scrub import scrub

Progress = Callable[[float, str], Awaitable[None] | None]


def _require_staff(user: AbstractBaseUser | None) -> None:
    if user is not None and not user.is_staff:
        raise PermissionDenied("Only staff may change LLM backends.")


def backend_validate_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise ValidationError("Put the API key in the key field, not in the URL.")
    return url.strip().rstrip("/")


async def backend_test(
    *, user: AbstractBaseUser | None, base_url: str, kind: str, api_key: str = "", name: str = ""
) -> dict:
    """Ask a backend that may not be saved yet for its models (staff only): what the form's "Test connection"
    shows. An empty `api_key` with the `name` of a saved backend uses its stored key. Never raises for the
    backend's own failure: {ok: False, error} says what it answered (scrubbed of the key)."""
    _require_staff(user)
    url = backend_validate_url(base_url)
    if kind not in Backend.Kind.values:
        raise ValidationError(f"kind must be one of {', '.join(Backend.Kind.values)}")
    probe = Backend(name=name or "test", base_url=url, kind=kind)
    if api_key:
        probe.api_key = api_key
    elif name:
        saved = await Backend.objects.filter(name=name).afirst()
        if saved is not None:
            probe.api_key_encrypted = saved.api_key_encrypted
    started = time.perf_counter()
    try:
        found = await discovery.models_list(probe)
    except discovery.DiscoveryError as exc:
        return {"ok": False, "error": scrub(str(exc), secrets=[probe.api_key]), "ms": _ms_since(started)}
    return {
        "ok": True,
        "ms": _ms_since(started),
        "models": [{"id": m.id, "loaded": m.loaded, "kind": m.kind} for m in found],
    }


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def backend_save(*, user: AbstractBaseUser | None, backend: Backend, api_key: str | None = None) -> Backend:
    """Create or change a backend (staff only). `api_key=None` keeps the stored key; '' clears it."""
    _require_staff(user)
    backend.base_url = backend_validate_url(backend.base_url)
    if api_key is not None:
        backend.api_key = api_key
    backend.full_clean(exclude=["api_key_encrypted"])
    is_new = backend.pk is None
    backend.save()
    gateway.backends_forget_local()
    catalogue.catalogue_forget_local()
    audit_record(
        user=user,
        action="llm.backend.create" if is_new else "llm.backend.update",
        backend=backend.name,
        url=backend.base_url,
    )
    return backend


def backend_register(*, name: str, kind: str, url: str, enabled: bool = True) -> Backend:
    """Create or refresh a backend that the environment defines (LLM_BACKENDS, the embedded model)."""
    backend, created = Backend.objects.get_or_create(
        name=name, defaults={"base_url": url, "kind": kind, "from_environment": True, "enabled": enabled}
    )
    if not created and backend.from_environment:
        changed = {"base_url": url, "kind": kind, "enabled": enabled}
        if any(getattr(backend, k) != v for k, v in changed.items()):
            for k, v in changed.items():
                setattr(backend, k, v)
            backend.save(update_fields=[*changed, "updated_at"])
    gateway.backends_forget_local()
    return backend


EMBEDDED_BACKEND = "embedded"
EMBEDDED_BACKENDS = ("embedded", "embedded-gemma")


def backends_sync_from_settings(*, extra: list | None = None) -> list[Backend]:
    """The backends named in LLM_BACKENDS (and `extra`: the embedded model servers `serve` just started);
    ones added in the UI are left as they are."""
    specs = [*settings.LLM_BACKENDS, *(extra or [])]
    synced = [backend_register(name=spec.name, kind=spec.kind, url=spec.url) for spec in specs]
    named = {spec.name for spec in specs}
    # The embedded model servers run only when `make run` starts them; until then they are switched off.
    absent = [name for name in EMBEDDED_BACKENDS if name not in named]
    Backend.objects.filter(name__in=absent, from_environment=True).update(enabled=False)
    return synced


async def model_load(*, user: AbstractBaseUser, backend: Backend, model: str) -> dict:
    """Load a model on a backend (staff only); raises discovery.ManagementUnsupported where impossible."""
    _require_staff(user)
    result = await discovery.model_load(backend, model)
    await catalogue.catalogue_refresh()
    return result


async def model_unload(*, user: AbstractBaseUser, backend: Backend, model: str) -> dict:
    _require_staff(user)
    entry = await catalogue.catalogue_get()
    instances = next(
        (m.get("instances") for m in entry["backends"].get(backend.name, {}).get("models", []) if m["id"] == model),
        None,
    )
    result = await discovery.model_unload(backend, model, instances or None)
    await catalogue.catalogue_refresh()
    return result


async def benchmark_run(
    *,
    backend: Backend,
    model: str,
    runs: int = 3,
    prompt: str = "Write a short paragraph about the sea.",
    max_tokens: int = 64,
    user: AbstractBaseUser | None = None,
    progress: Progress | None = None,
) -> BenchmarkResult:
    """Measure time to first token, tokens/s and latency over `runs` streamed calls to one backend."""
    if not 1 <= runs <= 20:
        raise ValidationError("runs must be between 1 and 20")
    ttfts, rates, latencies, completions = [], [], [], []
    for i in range(runs):
        if progress:
            await _maybe_await(progress(i / runs, f"run {i + 1} of {runs}"))
        request = gateway.ChatRequest(
            messages=[{"role": "user", "content": prompt}],
            model=model,
            max_tokens=max_tokens,
            temperature=0.7,
            only_backend=backend.name,
        )
        end = None
        async for event in gateway.chat_stream(request):
            if isinstance(event, gateway.StreamEnd):
                end = event
        ttfts.append(end.timings["ttft_ms"])
        latencies.append(end.timings["total_ms"])
        rates.append(end.timings["tokens_per_second"] or 0.0)
        completions.append(end.usage.get("completion_tokens") or 0)
    if progress:
        await _maybe_await(progress(1.0, "done"))
    return await BenchmarkResult.objects.acreate(
        backend=backend,
        model=model,
        runs=runs,
        prompt=prompt,
        max_tokens=max_tokens,
        ttft_ms_min=min(ttfts),
        ttft_ms_median=statistics.median(ttfts),
        ttft_ms_max=max(ttfts),
        tokens_per_s_min=min(rates),
        tokens_per_s_median=statistics.median(rates),
        tokens_per_s_max=max(rates),
        latency_ms_min=min(latencies),
        latency_ms_median=statistics.median(latencies),
        latency_ms_max=max(latencies),
        completion_tokens_median=statistics.median(completions),
        created_by=user,
    )


async def _maybe_await(value) -> None:
    if asyncio.iscoroutine(value):
        await value


async def models_compare(
    *, models: list[str], prompt: str, max_tokens: int = 256, temperature: float = 0.7
) -> list[dict]:
    """The same prompt to several models at once; answers side by side with their timings or errors."""
    if not 2 <= len(models) <= 6:
        raise ValidationError("compare 2 to 6 models")

    async def one(model: str) -> dict:
        request = gateway.ChatRequest(
            messages=[{"role": "user", "content": prompt}], model=model, max_tokens=max_tokens, temperature=temperature
        )
        try:
            result = await gateway.chat(request)
        except gateway.GatewayError as exc:
            return {"model": model, "ok": False, "error": exc.message}
        return {
            "model": model,
            "ok": True,
            "backend": result.backend,
            "content": result.content,
            "finish_reason": result.finish_reason,
            "timings": result.timings,
            "usage": result.usage,
            "flags": [f.reason for f in result.flags],
        }

    return list(await asyncio.gather(*(one(m) for m in models)))


def text_chunks(text: str, *, budget_tokens: int) -> list[str]:
    """Cut `text` into pieces of at most `budget_tokens` (estimated), on paragraph, then sentence, then word edges."""
    budget_chars = max(200, budget_tokens * 4)
    pieces: list[str] = []
    current = ""
    for para in text.split("\n\n"):
        units = [para] if len(para) <= budget_chars else para.replace(". ", ".\n").split("\n")
        for unit in units:
            while len(unit) > budget_chars:  # one huge sentence: cut on a word edge
                cut = unit.rfind(" ", 0, budget_chars)
                cut = cut if cut > 0 else budget_chars
                if current:
                    pieces.append(current)
                    current = ""
                pieces.append(unit[:cut])
                unit = unit[cut:].lstrip()
            joined = f"{current}\n\n{unit}" if current else unit
            if len(joined) > budget_chars and current:
                pieces.append(current)
                current = unit
            else:
                current = joined
    if current.strip():
        pieces.append(current)
    return [p for p in pieces if p.strip()]


async def long_text_process(
    *,
    model: str,
    text: str,
    instruction: str,
    context_tokens: int | None = None,
    answer_tokens: int = 256,
    progress: Progress | None = None,
) -> dict:
    """Map/reduce: `instruction` applied to each chunk cut to the model's context, then the partial answers combined."""
    if context_tokens is None:
        infos = catalogue.models_by_id(await catalogue.catalogue_get()).get(model, [])
        context_tokens = min((i.context_length for i in infos if i.context_length), default=4096)
    overhead = gateway.tokens_estimate(instruction) + answer_tokens + 64
    budget = max(128, context_tokens - overhead)
    chunks = text_chunks(text, budget_tokens=budget)
    partials: list[str] = []
    for i, chunk in enumerate(chunks):
        if progress:
            await _maybe_await(progress(i / (len(chunks) + 1), f"chunk {i + 1} of {len(chunks)}"))
        result = await gateway.chat(
            gateway.ChatRequest(
                messages=[{"role": "user", "content": f"{instruction}\n\n---\n{chunk}"}],
                model=model,
                max_tokens=answer_tokens,
                temperature=0.2,
            )
        )
        partials.append(result.content)
    if progress:
        await _maybe_await(progress(len(chunks) / (len(chunks) + 1), "combining"))
    if len(partials) == 1:
        final = partials[0]
    else:
        joined = "\n\n".join(f"Part {i + 1}:\n{p}" for i, p in enumerate(partials))
        final = (
            await gateway.chat(
                gateway.ChatRequest(
                    messages=[
                        {
                            "role": "user",
                            "content": f"{instruction}\n\nCombine these partial answers into one:\n{joined}",
                        }
                    ],
                    model=model,
                    max_tokens=answer_tokens,
                    temperature=0.2,
                )
            )
        ).content
    if progress:
        await _maybe_await(progress(1.0, "done"))
    return {"chunks": len(chunks), "budget_tokens": budget, "partials": partials, "result": final}
