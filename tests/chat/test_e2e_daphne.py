"""End to end against real daphne processes sharing Redis, with a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
import websockets
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect

from chat.models import Message
from core.services import api_token_create
from tests.fixtures.llm import make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/ws"


async def open_ws(http_url: str, token: str):
    ws = await connect(ws_url(http_url), additional_headers={"Authorization": f"Bearer {token}"})
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome"
    return ws


async def frames_until(ws, *types: str, timeout: float = 60) -> list[dict]:
    frames = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        frames.append(frame)
        if frame["type"] in types:
            return frames


@pytest.fixture
def token(alice) -> str:
    return api_token_create(user=alice, name="ws").secret


@pytest.fixture
def slow_fake(fake):
    make_backend("f1", fake.url)
    fake.state.tokens_per_s = 40
    fake.state.answer_tokens = 80
    return fake


async def test_resume_on_a_second_daphne_process_continues_the_stream(daphne_factory, token, slow_fake):
    _, url_a = await sync_to_async(daphne_factory)()
    _, url_b = await sync_to_async(daphne_factory)()
    a = await open_ws(url_a, token)
    await a.send(json.dumps({"type": "chat:send", "id": "s", "content": "go", "model": "fake-ok"}))
    started = json.loads(await a.recv())
    seen = []
    while len(seen) < 3:
        frame = json.loads(await a.recv())
        if frame["type"] == "chat:streaming":
            seen.append(frame)
    await a.close()  # the client moves to another server

    b = await open_ws(url_b, token)
    await b.send(
        json.dumps(
            {
                "type": "chat:resume",
                "id": "r",
                "message_id": started["assistant_message_id"],
                "after_seq": seen[-1]["seq"],
            }
        )
    )
    rest = await frames_until(b, "chat:done")
    await b.close()
    deltas = seen + [f for f in rest if f["type"] == "chat:streaming"]
    assert [f["seq"] for f in deltas] == list(range(len(deltas)))
    text = "".join(f["delta"] for f in deltas)
    assert rest[-1]["content"] == text
    message = await Message.objects.aget(pk=started["assistant_message_id"])
    assert message.status == "complete" and message.content == text and len(text.split()) == 80


async def test_sigterm_saves_running_answers_as_partial_and_tells_clients_to_reconnect(
    daphne_factory, token, slow_fake
):
    proc, url = await sync_to_async(daphne_factory)()
    ws = await open_ws(url, token)
    await ws.send(json.dumps({"type": "chat:send", "content": "go", "model": "fake-ok"}))
    started = json.loads(await ws.recv())
    await frames_until(ws, "chat:streaming")
    await asyncio.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4012
    await asyncio.to_thread(proc.wait, 30)
    message = await Message.objects.aget(pk=started["assistant_message_id"])
    assert message.status == "partial" and message.finish_reason == "cancelled"
    assert 0 < len(message.content.split()) < 80


async def test_foreign_origin_with_a_cookie_is_refused_by_the_real_server(daphne_url, alice):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect(ws_url(daphne_url), origin="http://evil.example", additional_headers={"Cookie": "sessionid=x"})
    assert refused.value.response.status_code == 403


async def test_unauthenticated_handshake_is_refused_by_the_real_server(daphne_url):
    with pytest.raises((websockets.InvalidStatus, websockets.ConnectionClosed)):
        ws = await connect(ws_url(daphne_url), origin=daphne_url)
        await ws.recv()


async def test_the_server_accepts_permessage_deflate(daphne_url, token):
    ws = await open_ws(daphne_url, token)
    try:
        extensions = [type(e).__name__ for e in ws.protocol.extensions]
        assert extensions == ["PerMessageDeflate"]
    finally:
        await ws.close()


async def test_regenerate_over_http_streams_a_new_answer_to_the_end(daphne_url, token, fake):
    import httpx

    await sync_to_async(make_backend)("f1", fake.url)
    ws = await open_ws(daphne_url, token)
    await ws.send(json.dumps({"type": "chat:send", "content": "go", "model": "fake-ok"}))
    first = await frames_until(ws, "chat:done")
    old_id = first[0]["assistant_message_id"]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        response = await http.post(f"{daphne_url}/chat/api/messages/{old_id}/regenerate")
    assert response.status_code == 202, response.text
    new_id = response.json()["assistant_message_id"]
    assert response.json()["replaces"] == old_id and response.json()["message"]["version_ids"] == [old_id, new_id]
    await ws.send(json.dumps({"type": "chat:resume", "id": "r", "message_id": new_id, "after_seq": -1}))
    frames = await frames_until(ws, "chat:done", "chat:error")
    assert frames[-1]["type"] == "chat:done" and frames[-1]["message_id"] == new_id
    # The conversation reads with the new answer in the old one's place; the old one is a version.
    conversation_id = first[0]["conversation_id"]
    await ws.send(json.dumps({"type": "chat:history", "id": "h", "conversation_id": conversation_id}))
    history = (await frames_until(ws, "chat:history"))[-1]
    await ws.close()
    assert [(m["role"], m["id"]) for m in history["messages"]] == [
        ("user", first[0]["user_message_id"]),
        ("assistant", new_id),
    ]
    assert history["messages"][1]["version_ids"] == [old_id, new_id]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        shown = await http.post(f"{daphne_url}/chat/api/messages/{old_id}/show")
    assert shown.status_code == 200 and shown.json()["id"] == old_id and shown.json()["content"] == first[-1]["content"]
    message = await Message.objects.aget(pk=new_id)
    assert message.status == "complete" and message.content == frames[-1]["content"] and message.content
