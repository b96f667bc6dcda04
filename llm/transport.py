"""How the gateway talks to a backend: one openai client (plain calls) and one aiohttp session (streamed chat)
per backend and event loop, and the SSE reader for streamed chat completions."""

from __future__ import annotations

import asyncio
import atexit
import json
from collections.abc import AsyncIterator

import aiohttp
import httpx
import openai

from llm.models import Backend

# --- clients, one per backend and event loop (connection reuse keeps added latency low) ---
# openai (over httpx) for the plain calls; aiohttp for streamed chat, the hot path: its C parser
# reads a token's SSE event for about a third of the CPU httpx + anyio spend on it (16 streams of
# 500 tokens/s: 0.13 s vs 0.41 s per 8,000 events), which is what a busy daphne process runs out of.
_clients: dict[tuple[int, str, str], tuple[openai.AsyncOpenAI, aiohttp.ClientSession]] = {}


def _clients_for(backend: Backend) -> tuple[openai.AsyncOpenAI, aiohttp.ClientSession]:
    loop_id = id(asyncio.get_running_loop())
    key = (loop_id, backend.name, f"{backend.base_url}|{backend.api_key_encrypted}|{backend.connect_timeout_s}")
    found = _clients.get(key)
    loop = asyncio.get_running_loop()
    if found is not None and (found[1].closed or found[1].connector._loop is not loop):
        _clients.pop(key)  # a closed loop's id reused by a new loop: never hand out its clients
        _retire(found[1], same_loop=False)
        found = None
    if found is None:
        limit = max(8, backend.max_concurrency * 2)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=backend.connect_timeout_s),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=32),
            follow_redirects=False,  # a redirect could carry the key to another host
        )
        client = openai.AsyncOpenAI(
            base_url=backend.base_url, api_key=backend.api_key or "not-needed", max_retries=0, http_client=http
        )
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
            timeout=aiohttp.ClientTimeout(total=None, connect=backend.connect_timeout_s),
            read_bufsize=2**20,  # one SSE event (a line) may be long: a big usage or tool-call chunk
            auto_decompress=True,
        )
        # Another live loop's clients stay (a thread may run its own loop beside daphne's): only a
        # closed loop's, or this backend's old configuration on this loop, are retired.
        for stale, (_c, old) in list(_clients.items()):
            if stale[0] == loop_id and stale[1] == backend.name and stale != key:
                _retire(_clients.pop(stale)[1], same_loop=True)
            elif stale[0] != loop_id and old.connector is not None and old.connector._loop.is_closed():
                _retire(_clients.pop(stale)[1], same_loop=False)
        found = _clients[key] = (client, session)
    return found


@atexit.register
def _sessions_close() -> None:
    """At exit no loop is left to close the sessions properly: drop their sockets quietly."""
    for _client, session in list(_clients.values()):
        _retire(session, same_loop=False)


def _retire(session: aiohttp.ClientSession, *, same_loop: bool) -> None:
    """Close a session no longer used (its backend changed, or its event loop ended)."""
    if session.closed:
        return
    if same_loop:
        asyncio.get_running_loop().create_task(session.close())
    else:
        session.connector._close(abort_ssl=True)  # its loop is gone: drop the sockets without it


def client_for(backend: Backend) -> openai.AsyncOpenAI:
    return _clients_for(backend)[0]


def session_for(backend: Backend) -> aiohttp.ClientSession:
    return _clients_for(backend)[1]


class BackendHTTPError(Exception):
    """The backend answered with an HTTP error (or an error event inside its stream)."""

    def __init__(self, status_code: int, message: str):
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message


def _sse_data(raw: bytes) -> dict | bool | None:
    """One SSE line: its JSON chunk, None to skip it, or False at `[DONE]`."""
    if not raw.startswith(b"data:"):
        return None
    data = raw[5:].strip()
    if data == b"[DONE]":
        return False
    try:
        chunk = json.loads(data)
    except ValueError:
        return None
    if not isinstance(chunk, dict):
        return None
    if chunk.get("error"):
        error = chunk["error"]
        raise BackendHTTPError(500, str(error.get("message") if isinstance(error, dict) else error)[:300])
    return chunk


async def sse_chunks(backend: Backend, payload: dict) -> AsyncIterator[list[dict]]:
    """The chunks of a streamed chat completion as plain dicts, in batches: all that one read of
    the socket brought.

    Parsed here rather than by the openai client: its per-chunk model building was most of the
    CPU a busy process spent per token (profiled with 16 concurrent streams). Read in batches, not
    line by line: a busy process finds several tokens waiting per socket and pays one read, one
    timer and one generator step for all of them, so its cost per token falls as its load rises."""
    headers = {"Authorization": f"Bearer {backend.api_key}"} if backend.has_api_key else {}
    url = f"{backend.base_url.rstrip('/')}/chat/completions"
    async with session_for(backend).post(url, json=payload, headers=headers, allow_redirects=False) as response:
        if response.status >= 400:
            body = (await response.read()).decode(errors="replace")
            try:
                message = json.loads(body).get("error", {}).get("message") or body
            except (ValueError, AttributeError):
                message = body
            raise BackendHTTPError(response.status, str(message)[:300])
        rest = b""
        async for data in response.content.iter_any():
            if b"\n" not in data:
                rest += data
                continue
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            batch = []
            for raw in lines:
                chunk = _sse_data(raw)
                if chunk is False:
                    if batch:
                        yield batch
                    return
                if chunk is not None:
                    batch.append(chunk)
            if batch:
                yield batch
        chunk = _sse_data(rest)  # a last line without its newline
        if chunk:
            yield [chunk]
