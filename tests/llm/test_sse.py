"""The gateway's SSE reader against a server that writes exact bytes: events split across reads,
several events in one read (one batch), CRLF lines, comments and junk skipped, nothing after
`[DONE]`, a last line without its newline. A real server cannot be made to cut its writes on cue."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from llm import gateway, transport
from tests.fixtures.llm import make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]


def event(text: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}).encode() + b"\n\n"


class ByteServer:
    """Lists one model, and answers any POST with these writes, a pause between each, then closes the connection."""

    def __init__(self, writes: list[bytes]):
        self.writes = writes

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        await reader.readexactly(length)
        if head.startswith(b"GET"):  # the model list the gateway asks for first
            body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (len(body), body)
            )
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        for data in self.writes:
            writer.write(data)
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def __aexit__(self, *exc) -> None:
        self.server.close()


async def batches_from(writes: list[bytes]) -> list[list[str]]:
    async with ByteServer(writes) as url:
        backend = await sync_to_async(make_backend)("bytes", url)
        found = []
        async for batch in transport.sse_chunks(backend, {"model": "m", "stream": True}):
            found.append([chunk["choices"][0]["delta"]["content"] for chunk in batch])
        return found


async def test_events_split_across_reads_and_several_in_one_read():
    half = event("llo")
    writes = [
        event("He") + half[:20],  # one whole event and the start of the next
        half[20:].replace(b"\n", b"\r\n"),  # its end, with CRLF line ends
        b": a comment\n\ndata: not json\n\n",  # nothing to yield
        event("!") + event(" Bye") + b"data: [DONE]\n\n" + event("after the end"),
    ]
    assert await batches_from(writes) == [["He"], ["llo"], ["!", " Bye"]]


async def test_a_last_line_without_its_newline_is_kept():
    assert await batches_from([event("a"), event("b").rstrip(b"\n")]) == [["a"], ["b"]]


async def test_the_gateway_streams_the_text_of_every_batch():
    writes = [event("One") + event(" two"), event(" three") + b"data: [DONE]\n\n"]
    async with ByteServer(writes) as url:
        await sync_to_async(make_backend)("bytes", url)
        deltas = []
        async for item in gateway.chat_stream(
            gateway.ChatRequest(messages=[{"role": "user", "content": "hi"}], model="m", only_backend="bytes")
        ):
            if isinstance(item, gateway.StreamDelta):
                deltas.append(item.text)
            elif isinstance(item, gateway.StreamEnd):
                end = item
    assert deltas == ["One", " two", " three"]
    assert end.finish_reason == "stop" and end.usage["completion_tokens"] == 3
