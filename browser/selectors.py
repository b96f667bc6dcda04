"""Reads of browser jobs; each takes the user, and another user's job does not exist for them."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from core.models import Job
from core.selectors import jobs_for_user

KINDS = ("browser.scrape", "browser.automate")


def job_list(*, user) -> QuerySet[Job]:
    return jobs_for_user(user=user).filter(kind__in=KINDS)


def job_get(*, user, pk: int) -> Job:
    job = job_list(user=user).filter(pk=pk).first()
    if job is None:
        raise NotFound("No such browser job.")
    return job
