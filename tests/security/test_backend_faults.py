"""The attacker's side of the shared circuit breaker and of backend error texts (issue 15, rows 3 and 9)."""

from __future__ import annotations

import httpx
import pytest

from core.services import api_token_create
from llm.models import Backend
from tests.fixtures.llm import make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]

KEY = "sk-live-4f9Qz7XbT2mK8vLwR3nY"


def _v1(daphne_url: str, token: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{daphne_url}/v1/{path}", headers={"Authorization": f"Bearer {token}"}, json=body, timeout=60)


def test_an_ordinary_users_embedding_calls_cannot_take_chat_down_for_everyone(daphne_url, alice, bob, fake):
    # Row 3: a chat-only backend (LM Studio with a chat model loaded answers 404 on /v1/embeddings).
    make_backend("lms", fake.url, "openai")
    attacker = api_token_create(user=bob, name="attacker").secret
    victim = api_token_create(user=alice, name="victim").secret
    for _ in range(2 * 3):  # twice the breaker's threshold
        refused = _v1(daphne_url, attacker, "embeddings", {"model": "fake-ok", "input": "x"})
        assert refused.status_code == 400 and "does not serve embeddings" in refused.json()["error"]["message"]
    chat = _v1(
        daphne_url,
        victim,
        "chat/completions",
        {"model": "fake-ok", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
    )
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"]


def test_a_backend_that_echoes_its_key_never_shows_it(daphne_url, alice, staff, fake, client):
    # Row 9: the key reaches the backend, the backend repeats it in errors; nobody may read it back.
    backend = make_backend("echo", fake.url, "openai")
    backend.api_key = KEY
    backend.save()
    assert Backend.objects.get(name="echo").api_key == KEY
    token = api_token_create(user=alice, name="t").secret
    ask = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    for model in ("fake-echo-key", "fake-echo-key-500", "fake-echo-key-500"):
        failed = _v1(daphne_url, token, "chat/completions", {**ask, "model": model})
        assert failed.status_code >= 400
        assert KEY not in failed.text and KEY[-6:] not in failed.text
        assert "Incorrect API key provided: [redacted]" in failed.json()["error"]["message"]
    assert fake.state.auth_headers[-1] == f"Bearer {KEY}"  # the key did go out: the echo was real

    client.force_login(alice)
    seen = client.get("/models/api/state").json()
    row = next(b for b in seen["backends"] if b["name"] == "echo")
    assert KEY not in str(seen) and KEY[-6:] not in str(seen)
    assert row["last_error"] and "Incorrect API key" not in row["last_error"]  # a generic reason for non-staff

    client.force_login(staff)
    row = next(b for b in client.get("/models/api/state").json()["backends"] if b["name"] == "echo")
    assert "Incorrect API key provided: [redacted]" in row["last_error"]
    assert KEY not in row["last_error"] and KEY[-6:] not in row["last_error"]
