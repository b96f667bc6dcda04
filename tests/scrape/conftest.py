"""Fixtures for the browser service: pages served on 127.0.0.1 by a recording HTTP server, a second
recording server on 127.0.0.2 (also loopback on Linux) that plays the internal service no job may reach,
and one shared browser pool for the tests that do not need a pool of their own."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from browser.pool import close_pool, get_pool

TEST_HOST_NETWORK = "127.0.0.1/32"


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Route = Callable[["Handler"], Reply]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RecordingServer

    def log_message(self, *args) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        self.request_body = body
        route = self.server.routes.get(urlsplit(self.path).path)
        reply = route(self) if route else Reply(404, "not found", content_type="text/plain")
        if reply is None:  # the route wrote the response itself (or hung up)
            return
        data = reply.body.encode() if isinstance(reply.body, str) else reply.body
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            for one in value.split("\n"):
                self.send_header(name, one)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with_body = self.command != "HEAD"
        if with_body:
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = _serve

    def query(self) -> dict[str, str]:
        merged = parse_qs(urlsplit(self.path).query)
        if self.request_body:
            merged.update(parse_qs(self.request_body.decode()))
        return {key: values[0] for key, values in merged.items()}


class RecordingServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP server that records every request it receives."""

    daemon_threads = True

    def __init__(self, host: str, port: int = 0) -> None:
        super().__init__((host, port), Handler)
        self.seen: list[Seen] = []
        self.routes: dict[str, Route] = {}
        self.release = threading.Event()  # frees handlers that wait forever
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def handle_error(self, request, client_address) -> None:
        pass  # the browser hung up (a cut-off download, a cancelled job): expected here

    @property
    def host(self) -> str:
        return self.server_address[0]

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


def free_port_on_both() -> int:
    """A port free on 127.0.0.1 and 127.0.0.2, so one URL differs from the other by its host only."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            with socket.socket() as other:
                other.bind(("127.0.0.2", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.fixture(scope="session")
def servers():
    port = free_port_on_both()
    site, target = RecordingServer("127.0.0.1", port), RecordingServer("127.0.0.2", port)
    yield site, target
    site.stop()
    target.stop()


@pytest.fixture
def site(servers) -> RecordingServer:
    """The allowed test site (127.0.0.1, allow-listed as /32 by `allow_test_host`)."""
    server = servers[0]
    server.seen.clear()
    server.routes.clear()
    return server


@pytest.fixture
def target(servers) -> RecordingServer:
    """The internal service on 127.0.0.2: a test passes only if it saw nothing."""
    server = servers[1]
    server.seen.clear()
    server.routes.clear()
    server.routes["/"] = server.routes["/secret"] = lambda h: Reply(body="internal secret")
    return server


@pytest.fixture(autouse=True)
def allow_test_host(settings):
    """Jobs may reach 127.0.0.1 (the test site) and nothing else private; SSRF tests override this."""
    settings.BROWSER_ALLOWED_NETWORKS = [TEST_HOST_NETWORK]
    settings.BROWSER_JOB_TIMEOUT_S = 20


@pytest.fixture(scope="session")
def pool():
    """This process's pool (get_pool(), as jobs use it), shared by the tests that do not count launches."""
    shared = get_pool()
    yield shared
    close_pool()


@pytest.fixture
def fake_dns(monkeypatch):
    """Names resolved as the test says (a dict of name -> list of addresses, or a callable); IP literals and
    anything else go to the real resolver. Records each lookup in `calls`."""
    real = socket.getaddrinfo
    table: dict[str, object] = {}
    calls: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name in table:
            calls.append(name)
            answer = table[name]
            addresses = answer() if callable(answer) else answer
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port or 0))
                for a in addresses
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    getaddrinfo.table = table
    getaddrinfo.calls = calls
    return getaddrinfo


def html(body: str, *, head: str = "", lang: str = "en") -> str:
    return f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'


def json_reply(data) -> Reply:
    return Reply(body=json.dumps(data), content_type="application/json")
