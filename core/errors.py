"""The errors every app's services and selectors raise, so one decorator (`core.http.json_api`) and the /ws
consumers can answer each of them the same way. An app names its own errors by subclassing these
(`KnowledgeInputError(InputError)`); nothing else decides a status code or an error code.

    InputError  → 400 bad_request   the caller sent something wrong; the message says what to fix
    NotFound    → 404 not_found     absent, or not the caller's: the two are never told apart
    Conflict    → 409 conflict      valid, but not now (the job already ended, a key names another job)
"""

from __future__ import annotations

from django.http import Http404


class AppError(Exception):
    """An error meant for the caller: its message is safe to show and says what to do."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InputError(AppError, ValueError):
    """Bad input; `field` names it when one field is to blame."""


class Conflict(AppError):
    """The request is well formed but cannot be carried out in the object's current state."""

    status = 409
    code = "conflict"


class NotFound(AppError, Http404):
    """The object does not exist for this user (it may exist for another). A page view that lets it
    propagate gets Django's 404 page; a JSON endpoint gets the 404 envelope."""

    status = 404
    code = "not_found"
