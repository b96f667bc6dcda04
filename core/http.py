"""Small helpers for the JSON endpoints."""

from __future__ import annotations

import json

from django.http import HttpRequest


class BadJSON(ValueError):
    """The request body is not a JSON object; the message says which."""


def json_body(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise BadJSON("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadJSON("the body must be a JSON object")
    return body
