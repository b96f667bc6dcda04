"""The JSON endpoints' kit: read a body, answer an error. Every JSON endpoint of every app is wrapped in
`json_api`, so each one answers errors in one envelope:

    {"error": "<what went wrong and what to do>", "code": "<bad_request|not_found|conflict|...>", "field": "<name>"}

(`field` only when one field is to blame). /ws keeps the frame protocol.md specifies and /v1 keeps
OpenAI's shape; both map the same `core.errors` classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from inspect import iscoroutinefunction

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from core.errors import AppError, InputError


class BadJSON(InputError):
    """The request body is not a JSON object; the message says which."""


def json_body(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise BadJSON("the body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise BadJSON("the body must be a JSON object", field="body")
    return body


def error_response(
    message: str, status: int = 400, code: str = "bad_request", field: str | None = None
) -> JsonResponse:
    """The one error envelope."""
    payload = {"error": message, "code": code}
    if field:
        payload["field"] = field
    return JsonResponse(payload, status=status)


def unauthorized(message: str) -> JsonResponse:
    """401 in the envelope, with the header that tells a client to send a Bearer token."""
    response = error_response(message, 401, "unauthorized")
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


SIGN_IN = "Log in, or send an API token as `Authorization: Bearer <token>`."


def error_for(exc: Exception) -> JsonResponse | None:
    """The envelope for an error meant for the caller; None for anything else (a bug: let it raise)."""
    if isinstance(exc, AppError):
        return error_response(exc.message, exc.status, exc.code, exc.field)
    if isinstance(exc, Http404):
        return error_response(str(exc) or "Not found.", 404, "not_found")
    if isinstance(exc, ValidationError):
        return error_response(" ".join(exc.messages), 400, "bad_request")
    if isinstance(exc, PermissionDenied):
        return error_response(str(exc) or "You may not do this.", 403, "forbidden")
    return None


def json_api(view: Callable) -> Callable:
    """A JSON endpoint: 401 JSON (not a login redirect) when neither session nor token authenticates, and
    every `core.errors` error, Http404, ValidationError and PermissionDenied answered in the one envelope.
    Sync or async views."""
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not await sync_to_async(lambda: request.user.is_authenticated)():
                return unauthorized(SIGN_IN)
            try:
                return await view(request, *args, **kwargs)
            except Exception as exc:
                response = error_for(exc)
                if response is None:
                    raise
                return response

        return login_not_required(async_wrapper)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return unauthorized(SIGN_IN)
        try:
            return view(request, *args, **kwargs)
        except Exception as exc:
            response = error_for(exc)
            if response is None:
                raise
            return response

    return login_not_required(wrapper)
