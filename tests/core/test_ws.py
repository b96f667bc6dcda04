"""/ws handshake (session cookie or Bearer token, origin check) and the base frames of protocol v1."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator

from core.services import api_token_create
from orchestrator_site.asgi import application
from tests.fixtures.users import make_user, session_cookie_for

pytestmark = [pytest.mark.django_db(transaction=True)]


async def connect(headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, bool]:
    # Addressed to the app at 127.0.0.1:8000, as a browser's handshake always is (its Host header).
    communicator = WebsocketCommunicator(application, "/ws", headers=[(b"host", b"127.0.0.1:8000"), *headers])
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_session_cookie_with_our_origin_gets_welcome():
    user = await make_user("alice")
    cookie = await session_cookie_for(user)
    ws, connected = await connect([(b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie.encode())])
    assert connected
    welcome = await ws.receive_json_from()
    assert welcome["type"] == "welcome"
    assert welcome["protocol"] == 1
    assert welcome["user"] == {"id": user.pk, "username": "alice"}
    assert welcome["limits"]["max_frame_bytes"] == 64 * 1024
    assert isinstance(welcome["server_time"], int)
    await ws.disconnect()


async def test_bearer_token_without_origin_is_accepted():
    user = await make_user("scripty")
    from asgiref.sync import sync_to_async

    created = await sync_to_async(api_token_create)(user=user, name="ws")
    ws, connected = await connect([(b"authorization", f"Bearer {created.secret}".encode())])
    assert connected
    assert (await ws.receive_json_from())["user"]["username"] == "scripty"
    await ws.disconnect()


@pytest.mark.parametrize(
    "headers",
    [
        [],  # nobody
        [(b"origin", b"http://127.0.0.1:8000")],  # a browser with no session
        [(b"authorization", b"Bearer orch_wrong")],  # a bad token
    ],
)
async def test_unauthenticated_handshakes_are_refused(headers):
    ws, connected = await connect(headers)
    assert not connected
    await ws.disconnect()  # what the server does once it has sent the close: end the consumer


@pytest.mark.parametrize("origin", [b"http://evil.example", b"null", None])
async def test_a_cookie_from_a_foreign_null_or_missing_origin_is_refused(origin):
    user = await make_user("alice")
    headers = [(b"cookie", (await session_cookie_for(user)).encode())]
    if origin is not None:
        headers.append((b"origin", origin))
    ws, connected = await connect(headers)
    assert not connected
    await ws.disconnect()  # end the refused consumer, or its channel-layer read outlives the test's loop


async def test_base_frames_and_errors_keep_the_connection_usable():
    user = await make_user("alice")
    ws, connected = await connect(
        [(b"origin", b"http://127.0.0.1:8000"), (b"cookie", (await session_cookie_for(user)).encode())]
    )
    assert connected
    await ws.receive_json_from()  # welcome

    await ws.send_to(text_data=json.dumps({"type": "ping", "id": "p1"}))
    pong = await ws.receive_json_from()
    assert pong["type"] == "pong" and pong["id"] == "p1" and isinstance(pong["ts"], int)

    cases = [
        ("not json", "bad_request", None),
        ("[1, 2]", "bad_request", None),
        (json.dumps({"id": "x"}), "bad_request", "x"),
        (json.dumps({"type": "warp:drive", "id": "w"}), "unknown_type", "w"),
        (json.dumps({"type": "ping", "id": "z" * 65}), "bad_request", None),
        (json.dumps({"type": "ping", "pad": "x" * 70_000}), "too_large", None),
    ]
    for text, code, frame_id in cases:
        await ws.send_to(text_data=text)
        error = await ws.receive_json_from()
        assert error["type"] == "error", text[:40]
        assert error["code"] == code, text[:40]
        assert error["id"] == frame_id
        assert error["message"]

    await ws.send_to(bytes_data=b"\x00\x01")
    assert (await ws.receive_json_from())["code"] == "bad_request"

    await ws.send_to(text_data=json.dumps({"type": "ping", "id": "still-here", "extra": 1}))
    assert (await ws.receive_json_from())["id"] == "still-here"
    await ws.disconnect()


async def test_an_idle_connection_stays_open_past_the_channel_layers_blocking_read():
    """redis-py 8's 5 s default socket timeout used to kill every consumer idle for 5 s (1011)."""
    import asyncio

    user = await make_user("idler")
    cookie = await session_cookie_for(user)
    ws, connected = await connect([(b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie.encode())])
    assert connected
    await ws.receive_json_from()
    await asyncio.sleep(7)
    await ws.send_to(text_data=json.dumps({"type": "ping", "id": "p"}))
    assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
    await ws.disconnect()
