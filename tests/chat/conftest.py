from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator

from orchestrator_site.asgi import application
from tests.conftest import make_user, session_cookie_for
from tests.llm.conftest import clean_gateway_state, fake, fake2, llama, llama2, llm_url_2  # noqa: F401


class Client:
    """A /ws client over Channels' communicator, with helpers to read frames by type."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.ws = communicator

    async def send(self, **frame) -> None:
        await self.ws.send_to(text_data=json.dumps(frame))

    async def recv(self, timeout: float = 30) -> dict:
        return await self.ws.receive_json_from(timeout=timeout)

    async def until(self, *types: str, timeout: float = 60) -> list[dict]:
        """Every frame up to and including the first of `types`."""
        frames = []
        while True:
            frame = await self.recv(timeout)
            frames.append(frame)
            if frame["type"] in types:
                return frames

    async def close(self) -> None:
        await self.ws.disconnect()


async def connect_as(user) -> Client:
    cookie = await session_cookie_for(user)
    communicator = WebsocketCommunicator(
        application,
        "/ws",
        headers=[(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie.encode())],
    )
    connected, _ = await communicator.connect()
    assert connected
    client = Client(communicator)
    assert (await client.recv())["type"] == "welcome"
    return client


@pytest.fixture
async def alice_ws(db):
    user = await make_user("alice")
    client = await connect_as(user)
    client.user = user
    yield client
    await client.close()
