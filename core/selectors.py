"""Reads for accounts and core. Every read of user data takes the user."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from core.models import ApiToken


def api_token_list(*, user: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def api_token_get(*, user: AbstractBaseUser, pk: int) -> ApiToken:
    """The caller's own token; anyone else's is Http404, as if it did not exist."""
    token = api_token_list(user=user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    return token


async def job_for_user(*, user, job_id: int):
    """A job of the caller's own, or None: another user's job does not exist for them."""
    from core.models import Job

    return await Job.objects.filter(pk=job_id, user=user).afirst()


def jobs_for_user(*, user, kind: str | None = None):
    from core.models import Job

    qs = Job.objects.filter(user=user)
    return qs.filter(kind=kind) if kind else qs
