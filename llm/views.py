"""The model control panel and its JSON endpoints (thin: parse, call a service, shape the answer)."""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync, sync_to_async
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.auth import api_view
from core.http import BadJSON, json_body
from llm import api, discovery, gateway, selectors, services, tasks
from llm.forms import BackendForm
from llm.models import BenchmarkResult


def _json_body(request: HttpRequest) -> dict:
    try:
        return json_body(request)
    except BadJSON as exc:
        raise ValidationError(str(exc)) from None


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


async def _user(request: HttpRequest):
    return await sync_to_async(lambda: request.user if request.user.is_authenticated else None)()


@require_GET
def panel(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "llm/panel.html",
        {"benchmarks": selectors.benchmark_list(limit=20), "form": BackendForm() if request.user.is_staff else None},
    )


@staff_member_required
@require_http_methods(["GET", "POST"])
def backend_edit(request: HttpRequest, name: str | None = None) -> HttpResponse:
    instance = selectors.backend_get(name=name) if name else None
    form = BackendForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            backend = services.backend_save(
                user=request.user, backend=form.save(commit=False), api_key=form.api_key_value()
            )
        except ValidationError as exc:
            form.add_error("base_url", exc)
        else:
            messages.success(request, f"Backend “{backend.name}” saved.")
            return redirect("llm:panel")
    return render(request, "llm/backend_form.html", {"form": form, "backend": instance})


@api_view
@require_GET
async def models_json(request: HttpRequest) -> JsonResponse:
    """The model list of /v1/models for the app's own pages (the session works here; /v1 takes API tokens only)."""
    return JsonResponse({"object": "list", "data": await api.model_list()})


@api_view
@require_GET
async def state_json(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse(await selectors.panel_state(user=user, refresh=request.GET.get("refresh") == "1"))


@api_view
@require_POST
async def backend_test(request: HttpRequest) -> JsonResponse:
    """The backend form's "Test connection": what the address answers, before anything is saved."""
    user = await _user(request)
    try:
        body = _json_body(request)
        fields = {k: body.get(k) or "" for k in ("base_url", "kind", "api_key", "name")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise ValidationError("base_url, kind, api_key and name must be strings")
        result = await services.backend_test(user=user, **fields)
    except PermissionDenied as exc:
        return _error(403, str(exc))
    except ValidationError as exc:
        return _error(400, "; ".join(exc.messages))
    return JsonResponse(result)


@api_view
@require_POST
async def model_action(request: HttpRequest, name: str, action: str) -> JsonResponse:
    user = await _user(request)
    try:
        body = _json_body(request)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ValidationError("'model' is required")
        backend = await selectors.abackend_get(name=name)
        call = services.model_load if action == "load" else services.model_unload
        result = await call(user=user, backend=backend, model=model)
    except PermissionDenied as exc:
        return _error(403, str(exc))
    except ValidationError as exc:
        return _error(400, "; ".join(exc.messages))
    except discovery.ManagementUnsupported as exc:
        return _error(409, str(exc))
    except Exception as exc:  # noqa: BLE001 - the backend's own failure, shown to the operator
        return _error(502, f"{backend.name} answered: {type(exc).__name__}: {exc}"[:400])
    return JsonResponse({"ok": True, "result": result})


@api_view
@require_POST
def benchmark_start(request: HttpRequest) -> JsonResponse:
    try:
        body = _json_body(request)
        backend = selectors.backend_get(name=str(body.get("backend", "")))
        model = body.get("model")
        runs = int(body.get("runs", 3))
        if not isinstance(model, str) or not model:
            raise ValidationError("'model' is required")
        if not 1 <= runs <= 20:
            raise ValidationError("runs must be between 1 and 20")
    except (ValidationError, ValueError) as exc:
        return _error(400, "; ".join(getattr(exc, "messages", [str(exc)])))
    job_id = uuid.uuid4().hex
    async_to_sync(tasks.job_start)(
        job_id, user_id=request.user.pk, status="pending", progress=0, message="queued", backend=backend.name,
        model=model,
    )  # fmt: skip
    transaction.on_commit(lambda: tasks.benchmark.delay(job_id, backend.name, model, runs, request.user.pk))
    return JsonResponse({"job_id": job_id}, status=202)


LONG_TEXT_MAX_CHARS = 2_000_000


@api_view
@require_POST
def long_text_start(request: HttpRequest) -> JsonResponse:
    try:
        body = _json_body(request)
        model, text, instruction = body.get("model"), body.get("text"), body.get("instruction")
        for name, value in (("model", model), ("text", text), ("instruction", instruction)):
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"'{name}' is required")
        if len(text) > LONG_TEXT_MAX_CHARS:
            raise ValidationError(f"the text is longer than {LONG_TEXT_MAX_CHARS:,} characters")
    except ValidationError as exc:
        return _error(400, "; ".join(exc.messages))
    job_id = uuid.uuid4().hex
    async_to_sync(tasks.job_start)(
        job_id, user_id=request.user.pk, status="pending", progress=0, message="queued", model=model
    )
    transaction.on_commit(lambda: tasks.long_text.delay(job_id, model, text, instruction))
    return JsonResponse({"job_id": job_id}, status=202)


@api_view
@require_GET
async def job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    user = await _user(request)
    job = await tasks.job_get(job_id, user_id=user.pk)
    if job is None:  # another user's job is as missing as one that never was
        return _error(404, "No such job (they are kept for an hour).")
    if job.get("result_id"):
        result = await BenchmarkResult.objects.select_related("backend").aget(pk=job["result_id"])
        job["result"] = {
            "backend": result.backend.name, "model": result.model, "runs": result.runs,
            "ttft_ms": [result.ttft_ms_min, result.ttft_ms_median, result.ttft_ms_max],
            "tokens_per_s": [result.tokens_per_s_min, result.tokens_per_s_median, result.tokens_per_s_max],
            "latency_ms": [result.latency_ms_min, result.latency_ms_median, result.latency_ms_max],
        }  # fmt: skip
    return JsonResponse(job)


@api_view
@require_POST
async def compare(request: HttpRequest) -> JsonResponse:
    try:
        body = _json_body(request)
        models = body.get("models")
        prompt = body.get("prompt")
        if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
            raise ValidationError("'models' must be a list of model names")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValidationError("'prompt' is required")
        results = await services.models_compare(
            models=models, prompt=prompt, max_tokens=int(body.get("max_tokens", 256))
        )
    except (ValidationError, ValueError) as exc:
        return _error(400, "; ".join(getattr(exc, "messages", [str(exc)])))
    return JsonResponse({"results": results})


@api_view
@require_POST
async def tokenize(request: HttpRequest) -> JsonResponse:
    try:
        body = _json_body(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise ValidationError("'text' is required")
        count = await gateway.tokenize(body.get("model") or None, text)
    except ValidationError as exc:
        return _error(400, "; ".join(exc.messages))
    except gateway.GatewayError as exc:
        return _error(503, exc.message)
    return JsonResponse({"count": count.count, "exact": count.exact, "method": count.method})
