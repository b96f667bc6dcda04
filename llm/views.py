"""The model control panel and its JSON endpoints (thin: parse, call a service, shape the answer)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import jobs as core_jobs
from core import selectors as core_selectors
from core.auth import api_view
from core.http import BadJSON, json_body
from llm import api, discovery, gateway, jobs, selectors, services
from llm.forms import BackendForm


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
    job = core_jobs.job_create(
        user=request.user, kind="llm.benchmark", title=f"Benchmark of {model} on {backend.name}",
        params={"backend": backend.name, "model": model, "runs": runs},
    )  # fmt: skip
    return JsonResponse({"job_id": job.pk}, status=202)


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
    # The text travels in the job's row, not in the queue's message (up to 2 MB through Redis otherwise).
    job = core_jobs.job_create(
        user=request.user, kind="llm.long_text", title=f"Long text with {model}",
        params={"model": model, "instruction": instruction, "text": text},
    )  # fmt: skip
    return JsonResponse({"job_id": job.pk}, status=202)


def _own_job(request: HttpRequest, job_id: str):
    """The caller's Models-page job, or None: another user's is as missing as one that never was."""
    if not job_id.isdigit():
        return None
    return core_selectors.jobs_for_user(user=request.user).filter(kind__in=jobs.KINDS, pk=int(job_id)).first()


@api_view
@require_GET
def job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    job = _own_job(request, job_id)
    if job is None:
        return _error(404, "No such job.")
    return JsonResponse(jobs.job_json(job))


@api_view
@require_POST
def job_cancel(request: HttpRequest, job_id: str) -> JsonResponse:
    job = _own_job(request, job_id)
    if job is None:
        return _error(404, "No such job.")
    try:
        job = core_jobs.job_cancel(job)
    except core_jobs.JobError as exc:
        return _error(409, str(exc))
    return JsonResponse(jobs.job_json(job))


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
