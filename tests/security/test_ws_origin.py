"""/ws accepts a browser's handshake only from the app's own origin: scheme, host AND port. A page served
from another port of the same host is another origin, however much the cookie jar treats it as the same site."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from chat.models import Conversation
from core.services import api_token_create
from orchestrator_site.asgi import application
from tests.fixtures.pages import browser_login
from tests.fixtures.users import make_user, session_cookie_for
from tests.fixtures.web import Reply

pytestmark = [pytest.mark.django_db(transaction=True)]

SECRET_TITLE = "alice's secret conversation"

# Opens the victim's /ws from wherever it is served, asks for her conversations and reports what came back.
STEAL = """
window.result = new Promise((resolve) => {
  const frames = [];
  const ws = new WebSocket("WS_URL");
  ws.onopen = () => ws.send(JSON.stringify({type: "chat:history", id: "h"}));
  ws.onmessage = (event) => {
    frames.push(JSON.parse(event.data));
    if (frames.length >= 2) resolve({opened: true, frames});
  };
  ws.onclose = (event) => resolve({opened: frames.length > 0, code: event.code, frames});
  setTimeout(() => resolve({timeout: true, frames}), 15000);
});
"""


async def handshake(headers: list[tuple[bytes, bytes]]) -> bool:
    communicator = WebsocketCommunicator(application, "/ws", headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.fixture
async def cookie(db) -> str:
    """A logged-in browser's session cookie."""
    return await session_cookie_for(await make_user("alice"))


def browser(cookie: str, origin: str, host: str = "127.0.0.1:8000") -> list[tuple[bytes, bytes]]:
    return [(b"host", host.encode()), (b"origin", origin.encode()), (b"cookie", cookie.encode())]


def test_a_page_on_another_port_cannot_open_the_victims_socket_in_chromium(chromium, daphne_url, attacker_site, alice):
    Conversation.objects.create(user=alice, title=SECRET_TITLE)
    ws_url = daphne_url.replace("http://", "ws://") + "/ws"
    attacker_site.routes["/"] = lambda h: Reply(
        body=f"<!doctype html><title>Free prizes</title><script>{STEAL.replace('WS_URL', ws_url)}</script>"
    )
    browser_login(chromium, daphne_url, "alice")

    # The same script on the app's own page connects: the session and the socket work.
    own = chromium.new_page()
    own.goto(f"{daphne_url}/")
    own.evaluate(STEAL.replace("WS_URL", ws_url))
    mine = own.evaluate("window.result")
    assert mine.get("opened"), mine
    assert mine["frames"][0]["type"] == "welcome"
    assert SECRET_TITLE in str(mine["frames"][1])

    # From http://127.0.0.1:<another port> the browser sends the cookie (same site) but the Origin is foreign.
    attacker = chromium.new_page()
    attacker.goto(attacker_site.url("/"))
    assert attacker_site.port != int(daphne_url.rsplit(":", 1)[1])
    stolen = attacker.evaluate("window.result")
    assert not stolen.get("opened"), stolen
    assert stolen["frames"] == []
    assert SECRET_TITLE not in str(stolen)


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:8767",  # another port of the same host: the attack
        "http://127.0.0.1:9999",
        "https://127.0.0.1",  # another scheme (and port)
        "https://127.0.0.1:8000",  # another scheme, same port
        "http://127.0.0.1",  # port 80
        "http://localhost:8000",  # another host name, though in ALLOWED_HOSTS
        "http://127.0.0.1:8000/ws",  # not an origin
        "http://user@127.0.0.1:8000",
        "null",
        "",
    ],
)
async def test_a_cookie_handshake_from_any_other_origin_is_refused(cookie, origin):
    assert not await handshake(browser(cookie, origin))


async def test_a_cookie_handshake_from_the_apps_own_origin_is_accepted(cookie):
    assert await handshake(browser(cookie, "http://127.0.0.1:8000"))


async def test_the_own_origin_follows_the_port_the_app_is_served_on(cookie):
    """`PORT=8080 make run`, or the tests' daphne on a random port: no setting to change."""
    assert await handshake(browser(cookie, "http://127.0.0.1:8080", host="127.0.0.1:8080"))
    assert await handshake(browser(cookie, "http://localhost:8080", host="localhost:8080"))


async def test_a_host_the_app_does_not_serve_is_no_own_origin(cookie):
    """DNS rebinding: the attacker's name pointed at 127.0.0.1 is not in ALLOWED_HOSTS."""
    assert not await handshake(browser(cookie, "http://evil.example:8000", host="evil.example:8000"))


async def test_behind_the_https_proxy_the_own_origin_is_https(cookie, settings):
    settings.ALLOWED_HOSTS = ["orch.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    headers = browser(cookie, "https://orch.example.com", host="orch.example.com")
    assert await handshake([*headers, (b"x-forwarded-proto", b"https")])
    assert not await handshake(headers)  # the proxy did not say https: the origin is http://orch.example.com
    settings.SECURE_PROXY_SSL_HEADER = None
    assert not await handshake([*headers, (b"x-forwarded-proto", b"https")])  # no proxy is trusted


async def test_ws_allowed_origins_adds_exact_origins(cookie, settings):
    settings.WS_ALLOWED_ORIGINS = ["https://app.example.com", "https://*.corp.example"]
    for origin, allowed in [
        ("https://app.example.com", True),
        ("https://app.example.com:443", True),
        ("http://app.example.com", False),
        ("https://app.example.com:8443", False),
        ("https://tools.corp.example", True),
        ("https://corp.example.evil", False),
    ]:
        assert await handshake(browser(cookie, origin)) is allowed, origin


async def test_a_script_with_a_bearer_token_and_no_origin_is_still_accepted():
    user = await make_user("scripty")
    created = await sync_to_async(api_token_create)(user=user, name="ws")
    assert await handshake([(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {created.secret}".encode())])
    # No Host either (a bare client): the token is what counts.
    assert await handshake([(b"authorization", f"Bearer {created.secret}".encode())])


async def test_a_bearer_token_does_not_excuse_a_foreign_origin_or_a_cookie_without_one():
    user = await make_user("scripty")
    created = await sync_to_async(api_token_create)(user=user, name="ws")
    bearer = (b"authorization", f"Bearer {created.secret}".encode())
    assert not await handshake([(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8767"), bearer])
    cookie = await session_cookie_for(user)
    assert not await handshake([(b"host", b"127.0.0.1:8000"), (b"cookie", cookie.encode()), bearer])
