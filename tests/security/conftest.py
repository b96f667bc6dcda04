"""Fixtures for the attacker's side: a page served from another port of 127.0.0.1 (same host as the app,
another origin), real Chromium to open it in as the logged-in victim, and the scripted model server whose
call counter tells whether a completion was made."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from playwright.sync_api import sync_playwright

from tests.fixtures.llm import make_backend
from tests.fixtures.pages import CHROMIUM_ARGS
from tests.fixtures.web import RecordingServer


@pytest.fixture(autouse=True)
def clean_gateway_state(clean_gateway_state):
    """tests.fixtures.llm's, for every test here."""


@pytest.fixture(scope="session")
def attacker_server():
    server = RecordingServer("127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
def attacker_site(attacker_server) -> RecordingServer:
    """Pages the test writes into `routes`, served from http://127.0.0.1:<another port>."""
    attacker_server.seen.clear()
    attacker_server.routes.clear()
    return attacker_server


@pytest.fixture
def chromium(monkeypatch):
    """A fresh headless Chromium context (a browser profile of its own)."""
    # Playwright's sync API runs an event loop in this thread; the ORM work is done before it starts.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context()
        yield context
        browser.close()


@pytest.fixture
def fake_backend(fake):
    """The scripted server as the only backend (`fake-ok` answers); fake.state.calls counts completions."""
    make_backend("scripted", fake.url)
    return fake


def cache_keys_delete(*patterns: str) -> None:
    client = redis.Redis.from_url(settings.REDIS_CLIENT_URL)
    try:
        for pattern in patterns:
            keys = list(client.scan_iter(pattern))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def login_limits_clean():
    """allauth's failed-login counters (and the lockout audit's marks) live in the Redis cache: start and end clean."""
    patterns = ("*allauth:rl:*", "*audit:login-locked:*")
    cache_keys_delete(*patterns)
    yield
    cache_keys_delete(*patterns)
