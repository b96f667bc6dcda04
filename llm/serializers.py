"""JSON shapes of the Models page's rows."""

from __future__ import annotations

from core.models import Job


def job_json(job: Job) -> dict:
    """What the Models page polls: the job's state and, once it succeeded, its result (never the input text)."""
    result = job.result or {}
    last_line = job.log.rstrip("\n").rsplit("\n", 1)[-1].split(" ", 1)[-1] if job.log else ""
    if job.status == Job.Status.SUCCEEDED:
        message = result.get("message", "done")
    elif job.is_finished:
        message = job.error or job.status
    else:
        message = last_line or "queued"
    data = {
        "job_id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "progress": round(job.progress, 3),
        "message": message,
        "error": job.error,
        "log": job.log,
        "model": job.params.get("model"),
        "backend": job.params.get("backend"),
    }
    if job.status == Job.Status.SUCCEEDED:
        if job.kind == "llm.benchmark":
            data["result"], data["result_id"] = result.get("benchmark"), result.get("result_id")
        else:
            data["result"], data["chunks"] = result.get("result", ""), result.get("chunks")
    return data
