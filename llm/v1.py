"""OpenAI-compatible API for scripts: /v1/models, /v1/chat/completions (stream or not), /v1/embeddings.

Authenticated with the user's API token only, never the session cookie: these endpoints take no CSRF token
(OpenAI clients send none), so a cookie would let any page on the same site spend the user's models. The same
routing, breaker and fallbacks as every other caller, so any OpenAI client can use the orchestrator as its backend.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.http import json_body
from llm import catalogue, gateway


def openai_error(
    status: int, message: str, kind: str = "invalid_request_error", code: str | None = None
) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": kind, "code": code}}, status=status)


GATEWAY_STATUS = {"not_found": 404, "bad_request": 400, "unsupported": 400, "backend_unavailable": 503}


def token_api(view: Callable) -> Callable:
    """An async /v1 view for `Authorization: Bearer <token>` callers only; anyone else (a session cookie
    included) gets OpenAI's 401. A wrong token never gets here (BearerTokenMiddleware answers it)."""

    @wraps(view)
    async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if getattr(request, "auth_method", None) != "token":
            response = openai_error(
                401,
                "Send an API token as `Authorization: Bearer <token>`; /v1 does not accept a session cookie.",
                code="invalid_api_key",
            )
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        return await view(request, *args, **kwargs)

    return login_not_required(csrf_exempt(wrapper))


def chat_request_from(body: dict) -> gateway.ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or "content" not in m:
            raise ValueError("each message needs 'role' and 'content'")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ValueError("'model' must be a string")
    for name in ("temperature", "top_p"):
        if body.get(name) is not None and not isinstance(body[name], (int, float)):
            raise ValueError(f"'{name}' must be a number")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError("'max_tokens' must be a positive integer")
    fallbacks = body.get("fallbacks") or []
    if not isinstance(fallbacks, list) or not all(isinstance(f, str) for f in fallbacks):
        raise ValueError("'fallbacks' must be a list of model names")
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    response_format = body.get("response_format") or {}
    return gateway.ChatRequest(
        messages=messages,
        model=model or None,
        temperature=body.get("temperature"),
        max_tokens=max_tokens,
        top_p=body.get("top_p"),
        fallbacks=fallbacks,
        stop=stop,
        expect_json=isinstance(response_format, dict) and response_format.get("type") == "json_object",
        sticky_key=body.get("user") if isinstance(body.get("user"), str) else None,
    )


async def model_list() -> list[dict]:
    """Every model the backends list, in OpenAI's shape plus `loaded` and `context_length` (/v1/models, and
    the app's own pages through llm.views.models_json)."""
    by_id = catalogue.models_by_id(await catalogue.catalogue_get())
    return [
        {
            "id": model_id,
            "object": "model",
            "created": 0,
            "owned_by": ",".join(sorted({i.backend for i in infos})),
            "loaded": any(i.loaded for i in infos),
            "context_length": max((i.context_length or 0 for i in infos), default=0) or None,
        }
        for model_id, infos in sorted(by_id.items())
    ]


@token_api
@require_GET
async def models(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"object": "list", "data": await model_list()})


def _sse(payload: dict | str) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


@token_api
@require_POST
async def chat_completions(request: HttpRequest):
    try:
        body = json_body(request)
        chat_request = chat_request_from(body)
    except ValueError as exc:
        return openai_error(400, str(exc))
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    if not body.get("stream"):
        try:
            result = await gateway.chat(chat_request)
        except gateway.GatewayError as exc:
            return openai_error(GATEWAY_STATUS.get(exc.code, 502), exc.message, "server_error", exc.code)
        response = JsonResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": result.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.content},
                        "finish_reason": result.finish_reason,
                    }
                ],
                "usage": result.usage,
                "orchestrator": {
                    "backend": result.backend,
                    "timings": result.timings,
                    "attempts": [a.to_dict() for a in result.attempts],
                    "flags": [{"code": f.code, "reason": f.reason} for f in result.flags],
                },
            }
        )
        response["X-Orchestrator-Backend"] = result.backend
        return response

    events = gateway.chat_stream(chat_request)
    try:
        first = await anext(events)  # errors before the first token are a plain HTTP error
    except gateway.GatewayError as exc:
        return openai_error(GATEWAY_STATUS.get(exc.code, 502), exc.message, "server_error", exc.code)
    model = first.model if isinstance(first, gateway.StreamStart) else chat_request.model

    def chunk(delta: dict, finish_reason=None) -> bytes:
        return _sse(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
        )

    async def stream():
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for event in events:
                if isinstance(event, gateway.StreamDelta):
                    yield chunk({"content": event.text})
                elif isinstance(event, gateway.StreamEnd):
                    yield chunk({}, event.finish_reason or "stop")
                    if event.usage:
                        yield _sse(
                            {
                                "id": completion_id,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": model,
                                "choices": [],
                                "usage": event.usage,
                            }
                        )
        except gateway.StreamInterrupted as exc:
            yield _sse({"error": {"message": str(exc), "type": "server_error", "code": "stream_interrupted"}})
        yield _sse("[DONE]")

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    if isinstance(first, gateway.StreamStart):
        response["X-Orchestrator-Backend"] = first.backend
    return response


@token_api
@require_POST
async def embeddings(request: HttpRequest) -> JsonResponse:
    try:
        body = json_body(request)
    except ValueError as exc:
        return openai_error(400, str(exc))
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return openai_error(400, "'input' must be a string or a non-empty list of strings")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return openai_error(400, "'model' is required")
    try:
        vectors = await gateway.embeddings(model, texts)
    except gateway.GatewayError as exc:
        status = GATEWAY_STATUS.get(exc.code, 502)
        kind = "invalid_request_error" if status < 500 else "server_error"
        return openai_error(status, exc.message, kind, exc.code)
    return JsonResponse(
        {
            "object": "list",
            "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": sum(gateway.tokens_estimate(t) for t in texts), "total_tokens": 0},
        }
    )
