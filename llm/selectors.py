"""Reads of the gateway: backends with their live state, the catalogue, benchmark results."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from core.models import Job
from core.supervision import backend_down_reason
from llm import breaker, catalogue
from llm.jobs import KINDS as JOB_KINDS
from llm.models import Backend, BenchmarkResult


def backend_list(*, enabled: bool | None = None) -> QuerySet[Backend]:
    qs = Backend.objects.all()
    return qs if enabled is None else qs.filter(enabled=enabled).order_by("name")


def backend_get(*, name: str) -> Backend:
    backend = Backend.objects.filter(name=name).first()
    if backend is None:
        raise NotFound(f"No backend named {name!r}.")
    return backend


async def abackend_get(*, name: str) -> Backend:
    backend = await Backend.objects.filter(name=name).afirst()
    if backend is None:
        raise NotFound(f"No backend named {name!r}.")
    return backend


GENERIC_DOWN = "the backend does not answer (an administrator sees the details)"
GENERIC_ERROR = "the backend's last call failed (an administrator sees the details)"


async def panel_state(*, user, refresh: bool = False) -> dict:
    """Everything the model panel shows: each backend's health, circuit, in-flight, latency, and models.
    A backend's own error text (already scrubbed of credentials) is for staff; other users see that it failed."""
    backends = [b async for b in Backend.objects.all()]
    entry = await catalogue.catalogue_get(refresh=refresh)
    states = await breaker.states([b.name for b in backends])
    rows = []
    for b in backends:
        found = entry["backends"].get(b.name)
        st = states[b.name]
        rows.append(
            {
                "name": b.name,
                "kind": b.kind,
                "kind_label": b.get_kind_display(),
                "url": b.base_url,
                "enabled": b.enabled,
                "weight": b.weight,
                "max_concurrency": b.max_concurrency,
                "has_api_key": b.has_api_key,
                "status": "disabled"
                if not b.enabled
                else ("unknown" if found is None else ("up" if found["ok"] else "down")),
                "error": (found or {}).get("error", ""),
                "circuit": st.circuit,
                "failures": st.failures,
                "in_flight": st.in_flight,
                "latency_ms": round(st.latency_ms, 1) if st.latency_ms is not None else None,
                "last_error": st.last_error,
                "models": (found or {}).get("models", []),
                "reason": backend_down_reason(b.name, detail=user.is_staff)
                if found is not None and not found["ok"]
                else "",
            }
        )
        if not user.is_staff:
            row = rows[-1]
            row["error"] = GENERIC_DOWN if row["error"] else ""
            row["last_error"] = GENERIC_ERROR if row["last_error"] else ""
    return {"refreshed_at": entry.get("refreshed_at"), "backends": rows}


def benchmark_list(*, limit: int = 50) -> QuerySet[BenchmarkResult]:
    return BenchmarkResult.objects.select_related("backend")[:limit]


def job_get(*, user, job_id: str | int) -> Job:
    """The caller's Models-page job (benchmark, long text); another user's is as missing as one that never was."""
    if not str(job_id).isdigit():
        raise NotFound("No such job.")
    job = Job.objects.filter(user=user, kind__in=JOB_KINDS, pk=int(job_id)).first()
    if job is None:
        raise NotFound("No such job.")
    return job
