"""The Models page's JSON (thin: parse, call a service or selector, shape the answer). Errors are core.http's
envelope; a Models-page job that is not the caller's is 404, as if it did not exist."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from core import jobs as core_jobs
from core.errors import Conflict, InputError
from core.http import error_response, json_api, json_body
from core.validation import model_id
from llm import discovery, gateway, selectors, serializers, services, v1

LONG_TEXT_MAX_CHARS = 2_000_000


def _required_str(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"'{name}' is required", field=name)
    return value


def _int(body: dict, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(body.get(name, default))
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number from {low} to {high}", field=name) from None
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high}", field=name)
    return value


@json_api
@require_GET
async def models_json(request: HttpRequest) -> JsonResponse:
    """The model list of /v1/models for the app's own pages (the session works here; /v1 takes API tokens only)."""
    return JsonResponse({"object": "list", "data": await v1.model_list()})


@json_api
@require_GET
async def state_json(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse(await selectors.panel_state(user=user, refresh=request.GET.get("refresh") == "1"))


@json_api
@require_POST
async def backend_test(request: HttpRequest) -> JsonResponse:
    """The backend form's "Test connection": what the address answers, before anything is saved."""
    user = await request.auser()
    body = json_body(request)
    fields = {k: body.get(k) or "" for k in ("base_url", "kind", "api_key", "name")}
    if not all(isinstance(v, str) for v in fields.values()):
        raise InputError("base_url, kind, api_key and name must be strings")
    return JsonResponse(await services.backend_test(user=user, **fields))


@json_api
@require_POST
async def model_action(request: HttpRequest, name: str, action: str) -> JsonResponse:
    user = await request.auser()
    body = json_body(request)
    model = model_id(body.get("model"))
    backend = await selectors.abackend_get(name=name)
    call = services.model_load if action == "load" else services.model_unload
    try:
        result = await call(user=user, backend=backend, model=model)
    except discovery.ManagementUnsupported as exc:
        raise Conflict(str(exc)) from exc
    except (PermissionDenied, ValidationError):  # staff only; a bad model name
        raise
    except Exception as exc:  # noqa: BLE001 - the backend's own failure, shown to the operator
        return error_response(f"{backend.name} answered: {type(exc).__name__}: {exc}"[:400], 502, "backend_error")
    return JsonResponse({"ok": True, "result": result})


@json_api
@require_POST
def benchmark_start(request: HttpRequest) -> JsonResponse:
    body = json_body(request)
    backend = selectors.backend_get(name=str(body.get("backend", "")))
    model = model_id(body.get("model"))
    runs = _int(body, "runs", 3, 1, 20)
    job = core_jobs.job_create(
        user=request.user,
        kind="llm.benchmark",
        title=f"Benchmark of {model} on {backend.name}",
        params={"backend": backend.name, "model": model, "runs": runs},
    )
    return JsonResponse({"job_id": job.pk}, status=202)


@json_api
@require_POST
def long_text_start(request: HttpRequest) -> JsonResponse:
    body = json_body(request)
    model = model_id(body.get("model"))
    text, instruction = (_required_str(body, n) for n in ("text", "instruction"))
    if len(text) > LONG_TEXT_MAX_CHARS:
        raise InputError(f"the text is longer than {LONG_TEXT_MAX_CHARS:,} characters", field="text")
    # The text travels in the job's row, not in the queue's message (up to 2 MB through Redis otherwise).
    job = core_jobs.job_create(
        user=request.user,
        kind="llm.long_text",
        title=f"Long text with {model}",
        params={"model": model, "instruction": instruction, "text": text},
    )
    return JsonResponse({"job_id": job.pk}, status=202)


@json_api
@require_GET
def job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    return JsonResponse(serializers.job_json(selectors.job_get(user=request.user, job_id=job_id)))


@json_api
@require_POST
def job_cancel(request: HttpRequest, job_id: str) -> JsonResponse:
    job = core_jobs.job_cancel(selectors.job_get(user=request.user, job_id=job_id))  # ended: a 409
    return JsonResponse(serializers.job_json(job))


@json_api
@require_POST
async def compare(request: HttpRequest) -> JsonResponse:
    body = json_body(request)
    models = body.get("models")
    if not isinstance(models, list):
        raise InputError("'models' must be a list of model names", field="models")
    models = [model_id(m, field="models") for m in models]
    prompt = _required_str(body, "prompt")
    max_tokens = _int(body, "max_tokens", 256, 1, 32_768)
    return JsonResponse({"results": await services.models_compare(models=models, prompt=prompt, max_tokens=max_tokens)})


@json_api
@require_POST
async def tokenize(request: HttpRequest) -> JsonResponse:
    body = json_body(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise InputError("'text' is required", field="text")
    try:
        count = await gateway.tokenize(body.get("model") or None, text)
    except gateway.GatewayError as exc:
        return error_response(exc.message, 503, exc.code)
    return JsonResponse({"count": count.count, "exact": count.exact, "method": count.method})
