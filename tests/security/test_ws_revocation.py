"""An open /ws keeps checking what let it in: a revoked token, a logged-out session or a deactivated user
closes it with 4401 within seconds (WS_AUTH_RECHECK_S), not whenever the client happens to reconnect."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient
from websockets.asyncio.client import connect

from chat import protocol as p
from core.services import api_token_create, api_token_revoke
from orchestrator_site.asgi import application
from tests.fixtures.users import make_user, session_cookie_for

pytestmark = [pytest.mark.django_db(transaction=True)]

RECHECK_S = 0.5


@pytest.fixture(autouse=True)
def quick_recheck(settings):
    settings.WS_AUTH_RECHECK_S = RECHECK_S


async def open_socket(headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, "/ws", headers=[(b"host", b"127.0.0.1:8000"), *headers])
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "welcome"
    return ws


async def still_answers(ws: WebsocketCommunicator) -> bool:
    await ws.send_to(text_data=json.dumps({"type": "ping", "id": "p"}))
    return (await ws.receive_json_from(timeout=5))["type"] == "pong"


async def close_code(ws: WebsocketCommunicator, within: float) -> int | None:
    """The code the server closed with, waiting at most `within` seconds; no other frame may come first."""
    message = await ws.receive_output(timeout=within)
    assert message["type"] == "websocket.close", message
    return message.get("code")


async def session_socket(user) -> tuple[WebsocketCommunicator, str]:
    cookie = await session_cookie_for(user)
    ws = await open_socket([(b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie.encode())])
    return ws, cookie


async def test_a_revoked_token_closes_its_open_socket_within_seconds():
    user = await make_user("scripty")
    created = await sync_to_async(api_token_create)(user=user, name="ws")
    ws = await open_socket([(b"authorization", f"Bearer {created.secret}".encode())])
    await asyncio.sleep(RECHECK_S * 3)
    assert await still_answers(ws)  # the checks pass while the token is good

    await sync_to_async(api_token_revoke)(token=created.token, by=user)
    started = time.monotonic()
    assert await close_code(ws, within=RECHECK_S + 3) == p.CLOSE_UNAUTHORIZED == 4401
    assert time.monotonic() - started < RECHECK_S + 3
    await ws.disconnect()


async def test_logging_out_closes_the_sockets_of_that_session():
    user = await make_user("alice")
    ws, cookie = await session_socket(user)
    other_ws, _ = await session_socket(user)  # another browser, its own session: not logged out
    browser = AsyncClient()
    browser.cookies["sessionid"] = cookie.split("=", 1)[1]
    assert (await browser.post("/accounts/logout/")).status_code == 302
    assert await close_code(ws, within=RECHECK_S + 3) == 4401
    assert await still_answers(other_ws)
    await ws.disconnect()
    await other_ws.disconnect()


async def test_deactivating_the_user_closes_every_socket_of_theirs():
    user = await make_user("alice")
    created = await sync_to_async(api_token_create)(user=user, name="ws")
    by_session, _ = await session_socket(user)
    by_token = await open_socket([(b"authorization", f"Bearer {created.secret}".encode())])
    user.is_active = False
    await user.asave(update_fields=["is_active"])
    assert await close_code(by_session, within=RECHECK_S + 3) == 4401
    assert await close_code(by_token, within=RECHECK_S + 3) == 4401
    await by_session.disconnect()
    await by_token.disconnect()


async def test_a_password_change_closes_sockets_of_the_sessions_made_before_it():
    user = await make_user("alice")
    ws, _ = await session_socket(user)
    user.set_password("a-brand-new-password-456")
    await user.asave(update_fields=["password"])
    assert await close_code(ws, within=RECHECK_S + 3) == 4401
    await ws.disconnect()


async def test_a_real_daphne_closes_a_revoked_tokens_socket_with_the_default_interval(daphne_url):
    """The server process runs with the shipped default (WS_AUTH_RECHECK_S=5)."""
    user = await make_user("scripty")
    created = await sync_to_async(api_token_create)(user=user, name="ws")
    url = daphne_url.replace("http://", "ws://") + "/ws"
    async with connect(url, additional_headers={"Authorization": f"Bearer {created.secret}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        await sync_to_async(api_token_revoke)(token=created.token, by=user)
        started = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), timeout=12)
        assert time.monotonic() - started < 5 + 3
    assert closed.value.rcvd.code == 4401
