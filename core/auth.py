"""Bearer-token authentication for the JSON API and the /ws handshake, and the /ws origin guard."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from inspect import iscoroutinefunction

from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.services import api_token_authenticate


def bearer_from_header(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, credential = value.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def unauthorized(message: str) -> JsonResponse:
    response = JsonResponse({"error": "unauthorized", "message": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


class BearerTokenMiddleware:
    """Authenticate `Authorization: Bearer <token>` requests; a wrong token is a 401, never a login page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        # Other schemes (Basic from an auth proxy in front of us) are not ours to judge.
        if header[:7].lower() == "bearer ":
            secret = bearer_from_header(header)
            scrape = secret and request.path == "/metrics" and settings.METRICS_TOKEN
            if scrape and hmac.compare_digest(secret.encode(), settings.METRICS_TOKEN.encode()):
                request.metrics_scraper = True  # Prometheus' own token: /metrics only, no user
                return self.get_response(request)
            user = api_token_authenticate(secret) if secret else None
            if user is None:
                return unauthorized("The API token is missing, malformed, revoked or unknown.")
            request.user = user
            request.auth_method = "token"
            # Token requests carry no cookies, so CSRF does not apply to them.
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)


def api_view(view: Callable) -> Callable:
    """A JSON endpoint: 401 JSON (not a login redirect) when neither session nor token authenticates."""

    message = "Log in, or send an API token as `Authorization: Bearer <token>`."
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not await sync_to_async(lambda: request.user.is_authenticated)():
                return unauthorized(message)
            return await view(request, *args, **kwargs)

        return login_not_required(async_wrapper)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return unauthorized(message)
        return view(request, *args, **kwargs)

    return login_not_required(wrapper)


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


class TokenAuthMiddleware:
    """Channels: a Bearer token on the handshake authenticates; otherwise the session cookie does."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        secret = bearer_from_header(_header(scope, b"authorization"))
        if secret is not None:
            user = await sync_to_async(api_token_authenticate)(secret)
            if user is None:
                return await WebsocketDenier()(scope, receive, send)
            scope = dict(scope, user=user, auth_method="token")
        return await self.app(scope, receive, send)


def TokenAuthMiddlewareStack(app):  # noqa: N802 - named like Channels' AuthMiddlewareStack
    return AuthMiddlewareStack(TokenAuthMiddleware(app))


class WebsocketOriginGuard(OriginValidator):
    """Browser handshakes must come from ALLOWED_HOSTS; a script with a Bearer token sends no Origin."""

    def __init__(self, application):
        super().__init__(application, list(settings.ALLOWED_HOSTS))

    async def __call__(self, scope, receive, send):
        has_origin = _header(scope, b"origin") is not None
        has_bearer = bearer_from_header(_header(scope, b"authorization")) is not None
        has_cookie = _header(scope, b"cookie") is not None
        if not has_origin and has_bearer and not has_cookie:
            return await self.application(scope, receive, send)
        return await super().__call__(scope, receive, send)

    def validate_origin(self, parsed_origin) -> bool:
        # `null` origins (sandboxed frames, file://) have no host and never match.
        if parsed_origin is None or not parsed_origin.hostname:
            return False
        return super().validate_origin(parsed_origin)
