"""JSON shapes of core's rows."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser


def me_json(user: AbstractBaseUser, *, auth: str) -> dict:
    return {"id": user.pk, "username": user.get_username(), "is_staff": user.is_staff, "auth": auth}
