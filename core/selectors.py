"""Reads for accounts and core. Every read of user data takes the user."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils.crypto import constant_time_compare

from core.errors import NotFound
from core.models import ApiToken


def api_token_list(*, user: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def api_token_get(*, user: AbstractBaseUser, pk: int) -> ApiToken:
    """The caller's own token; anyone else's is NotFound (404), as if it did not exist."""
    token = api_token_list(user=user).filter(pk=pk).first()
    if token is None:
        raise NotFound("No such token.")
    return token


async def job_for_user(*, user, job_id: int):
    """A job of the caller's own, or None: another user's job does not exist for them."""
    from core.models import Job

    return await Job.objects.filter(pk=job_id, user=user).afirst()


def jobs_for_user(*, user, kind: str | None = None):
    from core.models import Job

    qs = Job.objects.filter(user=user)
    return qs.filter(kind=kind) if kind else qs


def credentials_still_valid(*, user_id: int, api_token_hash: str | None = None, session_key: str | None = None) -> bool:
    """Whether what authenticated a long-lived connection still does: its token is not revoked, or its session
    is not logged out, expired or from before a password change; and the user is still active. One query for a
    token, two primary-key lookups for a session."""
    if api_token_hash is not None:
        return ApiToken.objects.filter(
            token_hash=api_token_hash, user_id=user_id, revoked_at__isnull=True, user__is_active=True
        ).exists()
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    if data.get(SESSION_KEY) != str(user_id):
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).only("password").first()
    if user is None:
        return False
    # As django.contrib.auth.get_user: the hash of the password the session was made with, or a key fallback's.
    session_hash = data.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(session_hash, h) for h in hashes)


def usernames(*, ids) -> dict[int, str]:
    """pk → username for the given users (staff pages naming who is connected)."""
    return dict(get_user_model().objects.filter(pk__in=list(ids)).values_list("pk", "username"))
