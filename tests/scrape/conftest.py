"""Fixtures for the browser service: pages served on 127.0.0.1 by a recording HTTP server, a second
recording server on 127.0.0.2 (also loopback on Linux) that plays the internal service no job may reach,
and one shared browser pool for the tests that do not need a pool of their own."""

from __future__ import annotations

import socket

import pytest

from browser.pool import close_pool, get_pool
from tests.fixtures.web import RecordingServer, Reply, free_port_on_both
from tests.fixtures.web import html as html  # re-exported for tests/orchestration until it imports tests.fixtures

TEST_HOST_NETWORK = "127.0.0.1/32"


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
