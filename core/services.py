"""Writes for accounts and core: API tokens and the audit trail."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import InputError
from core.models import ApiToken, AuditEvent

TOKEN_PREFIX = "orch_"
TOKEN_NAME_MAX = 100


class TokenError(InputError):
    """Bad input for a token operation; the message says what to fix."""


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the only time the plain token exists: show it once, never store it


def token_hash(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (a slow KDF guards weak passwords).
    return hashlib.sha256(secret.encode()).hexdigest()


def audit_record(*, user: AbstractBaseUser | None, action: str, ip: str | None = None, **detail) -> AuditEvent:
    """Append one audit event; never store secrets in `detail`."""
    return AuditEvent.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        action=action,
        detail=detail,
        ip_address=ip,
    )


LOCKOUT_AUDIT_EVERY_S = 300  # allauth's default window for failed logins per login name


def login_lockout_record(*, login: str, ip: str | None) -> AuditEvent | None:
    """Record that logins as `login` from `ip` are refused for too many failures: once per window, not once per
    refused attempt (an attacker would write a row per request). The user it names, if any, is attached."""
    mark = f"audit:login-locked:{hashlib.sha256(login.lower().encode()).hexdigest()}:{ip}"
    if not cache.add(mark, True, timeout=LOCKOUT_AUDIT_EVERY_S):
        return None
    user = (
        get_user_model().objects.filter(Q(username__iexact=login) | Q(email__iexact=login)).first() if login else None
    )
    return audit_record(user=user, action="account.login_locked", ip=ip, login=login[:150])


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser, name: str, ip: str | None = None) -> NewToken:
    """Create a token for `user`; raises TokenError for an empty or too long name."""
    name = (name or "").strip()
    if not name:
        raise TokenError("Give the token a name, e.g. the script that will use it.")
    if len(name) > TOKEN_NAME_MAX:
        raise TokenError(f"The token name is too long ({len(name)} characters, at most {TOKEN_NAME_MAX}).")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=secret[: len(TOKEN_PREFIX) + 6], token_hash=token_hash(secret)
    )
    audit_record(user=user, action="api_token.create", ip=ip, token_id=token.pk, name=name)
    return NewToken(token=token, secret=secret)


def api_token_revoke(*, token: ApiToken, by: AbstractBaseUser, ip: str | None = None) -> ApiToken:
    """Revoke a token (idempotent); it stops authenticating at once."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(user=by, action="api_token.revoke", ip=ip, token_id=token.pk, name=token.name)
    return token


def api_token_authenticate(secret: str) -> AbstractBaseUser | None:
    """The active user a bearer token belongs to, or None; records when the token was last used."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user").filter(token_hash=token_hash(secret), revoked_at__isnull=True).first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    interval = timedelta(seconds=settings.API_TOKEN_TOUCH_INTERVAL_S)
    if token.last_used_at is None or now - token.last_used_at > interval:
        # One write a minute at most, not one per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def admin_ensure(*, username: str, email: str, password: str | None) -> tuple[AbstractBaseUser | None, str | None]:
    """Create the first superuser when there is none; returns (user, generated password or None)."""
    User = get_user_model()  # noqa: N806 - the usual name for the user model
    if User.objects.filter(is_superuser=True).exists():
        return None, None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(username=username, email=email, password=password)
    audit_record(user=user, action="admin.create_first", username=username)
    return user, generated
