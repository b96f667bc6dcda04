"""The JSON shape of a browser job, for the API and the job page alike."""

from __future__ import annotations

from browser import jobs as browser_jobs
from core import jobs
from core.models import Job


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def job_json(job: Job) -> dict:
    return {
        **jobs.job_state(job),
        "params": job.params,
        "log": job.log,
        "files": browser_jobs.files_of(job),
        "created_at": job.created_at.isoformat(),
        "retry_of": job.retry_of_id,
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "url": f"/browser/jobs/{job.pk}/",
    }
