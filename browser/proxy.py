"""The filtering forward proxy every browser job talks through: the one place where Chromium's traffic
leaves the machine, so the SSRF check runs on every connection the page opens (documents, redirects,
sub-resources, fetch/XHR, beacons, iframes, workers), not only on the URL the job was given.

Each job gets its own listener on 127.0.0.1 (its browser context is configured with it), so refusals and
bytes are counted per job. For `CONNECT host:port` (https, wss) the proxy checks the host, connects to the
checked address and tunnels bytes; TLS stays end to end, so Chromium verifies the certificate and sends
SNI for the real host name. For plain http the request is forwarded to the checked address with
`Connection: close`, one request per connection, which keeps the proxy small and the framing trivial.
Redirects are simply new requests and are checked like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from browser import ssrf
from browser.errors import Refused, ResolveError

HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
CHUNK = 64 * 1024
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate"}
_PHRASES = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}


class ProxyLoop:
    """An asyncio loop in a daemon thread that serves the job proxies of one pool."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="browser-proxy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


class JobProxy:
    """The proxy of one job: checks each destination with the job's Resolver, records what it refused in
    `blocked`, and stops passing bytes once the job has downloaded `max_bytes` (then `truncated` is set)."""

    def __init__(self, *, loop: ProxyLoop, resolver: ssrf.Resolver, max_bytes: int) -> None:
        self._loop = loop
        self.resolver = resolver
        self.max_bytes = max_bytes
        self.bytes_received = 0
        self.truncated = False
        self.blocked: list[dict[str, str]] = []
        self.connections: list[dict[str, Any]] = []  # where each request really went: {url, address, port}
        self.failures: dict[str, str] = {}  # url or origin -> why it could not be fetched (DNS, connect)
        self._refused: dict[str, str] = {}  # url (http) or origin (https) -> reason
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> JobProxy:
        self._server = self._loop.call(asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Closes the listener and every open connection; safe to call twice."""
        with contextlib.suppress(Exception):
            self._loop.call(self._shutdown(), timeout=10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def refusal_for(self, url: str) -> str | None:
        """Why the proxy refused `url` (matched exactly for http, by origin for https), if it did."""
        return self._refused.get(_key(url)) or self._refused.get(_origin(url))

    def failure_for(self, url: str) -> str | None:
        return self.failures.get(_key(url)) or self.failures.get(_origin(url))

    # --- serving ---

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            upstream = await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            pass  # the browser or the server went away; the browser sees a failed request
        except asyncio.CancelledError:
            pass  # the job ended (stop() cancels what is still open)
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()
                    self._writers.discard(w)
            self._tasks.discard(task)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> asyncio.StreamWriter | None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        try:
            method, target, version = request_line.split(" ")
        except ValueError:
            await self._reply(writer, 400, "the request line is malformed")
            return None
        tunnel = method.upper() == "CONNECT"
        if tunnel:
            try:
                parts = urlsplit(f"//{target}")
                host, port = parts.hostname, parts.port
            except ValueError:
                host = port = None
            if not host or not port:
                await self._reply(writer, 400, "CONNECT needs host:port")
                return None
            shown = f"[{host}]" if ":" in host else host
            url = f"https://{shown}/" if port == 443 else f"https://{shown}:{port}/"
        else:
            url = target
            if urlsplit(target).scheme.lower() != "http":
                await self._reply(writer, 400, "only absolute http:// requests and CONNECT are proxied")
                return None
        if self.truncated:
            reason = f"the job's download limit (max_bytes={self.max_bytes}) was reached"
            self._block(url, reason)
            await self._reply(writer, 403, reason)
            return None
        try:
            checked = await asyncio.get_running_loop().run_in_executor(None, self.resolver.check, ssrf.split_url(url))
        except Refused as error:
            self._refuse(url, error.reason)
            await self._reply(writer, 403, error.reason)
            return None
        except ResolveError as error:
            self.failures[_key(url) if not tunnel else _origin(url)] = str(error)
            await self._reply(writer, 502, str(error))
            return None
        up_reader, upstream = await self._connect(checked, url)
        if upstream is None:
            await self._reply(writer, 502, self.failure_for(url) or "could not connect")
            return None
        self._writers.add(upstream)
        if tunnel:
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
            await self._relay(reader, writer, up_reader, upstream, url=url, response_head=False)
        else:
            upstream.write(_origin_form_head(method, target, version, header_lines))
            await upstream.drain()
            await self._relay(reader, writer, up_reader, upstream, url=url, response_head=True)
        return upstream

    async def _connect(
        self, target: ssrf.Target, url: str
    ) -> tuple[asyncio.StreamReader | None, asyncio.StreamWriter | None]:
        """Connects to the checked addresses in order: never re-resolves the name (rebinding)."""
        errors = []
        for address in target.addresses:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(str(address), target.port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError) as error:
                errors.append(f"{address}: {error or 'timed out'}")
                continue
            self.connections.append({"url": url, "host": target.host, "address": str(address), "port": target.port})
            return reader, writer
        key = _origin(url) if url.startswith("https://") else _key(url)
        self.failures[key] = f"could not connect to {target.host} ({'; '.join(errors)})"
        return None, None

    async def _relay(
        self,
        client_reader: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        *,
        url: str,
        response_head: bool,
    ) -> None:
        outgoing = asyncio.ensure_future(self._copy(client_reader, upstream, url=url, count=False))
        try:
            if response_head:
                head = await up_reader.readuntil(b"\r\n\r\n")
                if not self._count(len(head), url):
                    return
                client.write(_close_response_head(head))
                await client.drain()
            incoming = asyncio.ensure_future(self._copy(up_reader, client, url=url, count=True))
            # Either side closing ends the exchange: the server after its reply (we asked for Connection:
            # close), or the browser when it gives up on the request; it never half-closes.
            await asyncio.wait({incoming, outgoing}, return_when=asyncio.FIRST_COMPLETED)
            incoming.cancel()
        finally:
            outgoing.cancel()

    async def _copy(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, url: str, count: bool) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await src.read(CHUNK):
                if count and not self._count(len(data), url):
                    return
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof():
                dst.write_eof()

    def _count(self, size: int, url: str) -> bool:
        self.bytes_received += size
        if self.bytes_received <= self.max_bytes:
            return True
        if not self.truncated:
            self.truncated = True
            self._block(url, f"the job's download limit (max_bytes={self.max_bytes}) was reached")
            for writer in list(self._writers):
                writer.transport.abort()
        return False

    def _refuse(self, url: str, reason: str) -> None:
        """An SSRF refusal: logged, listed in `blocked`, and remembered so the job can name it."""
        key = _origin(url) if url.startswith("https://") and urlsplit(url).path in ("", "/") else _key(url)
        self._refused.setdefault(key, reason)
        if self._block(url, reason):
            ssrf.log_refusal(url, reason)

    def _block(self, url: str, reason: str) -> bool:
        entry = {"url": url, "reason": reason}
        if entry in self.blocked:
            return False
        self.blocked.append(entry)
        return True

    async def _reply(self, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        body = f"Blocked by the browser service: {message}\n".encode()
        writer.write(
            f"HTTP/1.1 {status} {_PHRASES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nProxy-Connection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()


def _key(url: str) -> str:
    return url.split("#", 1)[0]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _origin_form_head(method: str, target: str, version: str, header_lines: list[str]) -> bytes:
    parts = urlsplit(target)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kept = [line for line in header_lines if line.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP]
    return "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""]).encode("latin-1")


def _close_response_head(head: bytes) -> bytes:
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    kept = [line for line in lines if line.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP]
    return "\r\n".join([status_line, *kept, "Connection: close", "Proxy-Connection: close", "", ""]).encode("latin-1")
