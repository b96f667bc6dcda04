"""Bearer-token authentication for the JSON API and the /ws handshake, and the /ws origin guard."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host

from core.http import unauthorized
from core.services import api_token_authenticate, token_hash

log = logging.getLogger(__name__)


def bearer_from_header(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, credential = value.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


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
            # The hash, not the secret, stays in the scope: the consumer re-checks it while the socket is open.
            scope = dict(scope, user=user, auth_method="token", api_token_hash=token_hash(secret))
        return await self.app(scope, receive, send)


def TokenAuthMiddlewareStack(app):  # noqa: N802 - named like Channels' AuthMiddlewareStack
    return AuthMiddlewareStack(TokenAuthMiddleware(app))


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_parse(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin such as `https://orch.example.com`, the default port filled in;
    None for anything that is not an http(s) origin (`null`, a path, garbage)."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username is not None:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def origin_matches(origin: tuple[str, str, int], allowed: tuple[str, str, int]) -> bool:
    """Scheme, host and port all equal; `https://*.example.com` stands for every subdomain (as in CSRF_TRUSTED_ORIGINS)."""
    scheme, host, port = allowed
    if origin[0] != scheme or origin[2] != port:
        return False
    if host.startswith("*."):
        return origin[1].endswith(host[1:])
    return origin[1] == host


def handshake_own_origin(scope: dict) -> tuple[str, str, int] | None:
    """The origin this handshake was addressed to: its Host (when ALLOWED_HOSTS serves it), over https when
    the socket is TLS or the trusted proxy says so (as Django's request.is_secure())."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") == "wss"
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header and not secure:
        name = proxy_header[0].removeprefix("HTTP_").lower().replace("_", "-").encode()
        secure = (_header(scope, name) or "").split(",")[0].strip() == proxy_header[1]
    return origin_parse(f"{'https' if secure else 'http'}://{host}")


def handshake_origin_allowed(scope: dict, origin: str) -> bool:
    """A browser's /ws handshake is ours when its Origin is the origin it was sent to, or one of
    WS_ALLOWED_ORIGINS (default: CSRF_TRUSTED_ORIGINS); scheme, host and port must all match."""
    parsed = origin_parse(origin)
    if parsed is None:
        return False
    own = handshake_own_origin(scope)
    if own is not None and parsed == own:
        return True
    allowed = (origin_parse(value) for value in settings.WS_ALLOWED_ORIGINS)
    return any(entry is not None and origin_matches(parsed, entry) for entry in allowed)


class WebsocketOriginGuard:
    """Browser handshakes must come from the app's own origin (scheme, host and port), or one listed in
    WS_ALLOWED_ORIGINS; a script with a Bearer token sends no Origin and no cookie, and passes."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        has_bearer = bearer_from_header(_header(scope, b"authorization")) is not None
        has_cookie = _header(scope, b"cookie") is not None
        if origin is None and has_bearer and not has_cookie:
            return await self.application(scope, receive, send)
        if origin is not None and handshake_origin_allowed(scope, origin):
            return await self.application(scope, receive, send)
        log.info("/ws handshake refused: Origin %r is not this site's (Host %r)", origin, _header(scope, b"host"))
        return await WebsocketDenier()(scope, receive, send)
