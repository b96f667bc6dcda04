"""The model control panel and the backend form (pages; the panel's JSON is llm/api.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from llm import selectors, services
from llm.forms import BackendForm


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
