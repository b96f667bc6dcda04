"""The OpenAI-compatible API, used by the official OpenAI client through a real daphne."""

from __future__ import annotations

import httpx
import openai
import pytest

from core.services import api_token_create
from tests.fixtures.llm import MODEL, make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def token(alice) -> str:
    return api_token_create(user=alice, name="openai client").secret


@pytest.fixture
def client_for(daphne_url):
    def make(api_key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{daphne_url}/v1", api_key=api_key, max_retries=0, timeout=60)

    return make


def test_models_list_through_the_openai_client(client_for, token, llama):
    models = client_for(token).models.list()
    assert [m.id for m in models.data] == [MODEL]


def test_chat_completion_plain(client_for, token, llama):
    reply = client_for(token).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Name three colours."}], max_tokens=16
    )
    assert reply.model == MODEL
    assert reply.choices[0].finish_reason in {"stop", "length"}
    assert isinstance(reply.choices[0].message.content, str)
    assert reply.usage.completion_tokens >= 0


def test_chat_completion_streamed(client_for, token, llama):
    stream = client_for(token).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Count to five."}], max_tokens=16, stream=True
    )
    chunks = list(stream)
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(texts) > 1
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_embeddings(client_for, token, llama2):
    result = client_for(token).embeddings.create(model=MODEL, input=["hello", "world"])
    assert [len(d.embedding) for d in result.data] == [640, 640]


def test_without_a_token_it_is_401(client_for, daphne_url, llama):
    with pytest.raises(openai.AuthenticationError):
        client_for("orch_wrong").models.list()
    response = httpx.post(f"{daphne_url}/v1/chat/completions", json={"messages": []})
    assert response.status_code == 401


def test_bad_requests_name_the_problem(daphne_url, token, llama):
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{daphne_url}/v1/chat/completions", headers=headers, json={"model": MODEL, "messages": []})
    assert response.status_code == 400
    assert "'messages' must be a non-empty list" in response.json()["error"]["message"]
    response = httpx.post(f"{daphne_url}/v1/chat/completions", headers=headers, content=b"{nope")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]
    response = httpx.post(
        f"{daphne_url}/v1/chat/completions",
        headers=headers,
        json={"model": "missing", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 404


def test_a_failed_backend_mid_stream_ends_the_sse_stream_with_an_error_event(daphne_url, token, fake):
    make_backend("fakeone", fake.url)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "POST",
        f"{daphne_url}/v1/chat/completions",
        headers=headers,
        timeout=30,
        json={"model": "fake-cut", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    ) as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    assert '"content":"the "' in body
    assert "stream_interrupted" in body
    assert body.rstrip().endswith("data: [DONE]")
