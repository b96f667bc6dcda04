"""The circuit breaker counts the backend's faults, not the caller's: a model that does not serve embeddings
answers a clear 4xx of ours, is not retried, and leaves chat working for everyone."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from core.services import api_token_create
from llm import breaker, gateway
from tests.fixtures.llm import MODEL, make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def token(alice) -> str:
    return api_token_create(user=alice, name="breaker").secret


def _embed(daphne_url: str, token: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{daphne_url}/v1/embeddings",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": model, "input": "hello"},
        timeout=60,
    )


def _chat_streams(daphne_url: str, token: str, model: str) -> list[str]:
    texts = []
    with httpx.stream(
        "POST",
        f"{daphne_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": model, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "stream": True},
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content"' in line:
                texts.append(line)
    return texts


def _circuit(name: str) -> breaker.BackendState:
    return asyncio.run(breaker.states([name]))[name]


def test_twenty_embedding_calls_to_a_chat_only_lm_studio_leave_chat_up(daphne_url, token, fake):
    # LM Studio with only a chat model loaded: POST /v1/embeddings answers 404.
    make_backend("lms", fake.url, "openai")
    for _ in range(20):
        response = _embed(daphne_url, token, "fake-ok")
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "unsupported"
        assert "'fake-ok' does not serve embeddings" in error["message"]
        assert "404" in error["message"]
    st = _circuit("lms")
    assert (st.circuit, st.failures) == ("closed", 0)
    # Never retried: one backend call per request.
    assert fake.state.embedding_calls == 20
    assert _chat_streams(daphne_url, token, "fake-ok")


def test_a_real_llama_cpp_server_without_embeddings_is_a_request_fault(daphne_url, token, llama):
    # llama-cpp-python's server started without --embedding answers HTTP 500 "…embedding=True…".
    for _ in range(5):
        response = _embed(daphne_url, token, MODEL)
        assert response.status_code == 400, response.text
        assert f"{MODEL!r} does not serve embeddings" in response.json()["error"]["message"]
    st = _circuit("llama1")
    assert (st.circuit, st.failures) == ("closed", 0)
    assert _chat_streams(daphne_url, token, MODEL)


@pytest.mark.parametrize(
    ("status", "counts"),
    [(404, False), (400, False), (422, False), (405, False), (401, False), (500, True), (503, True), (429, True)],
)
def test_which_statuses_count_against_the_backend(status, counts):
    from llm.transport import BackendHTTPError

    assert gateway.backend_fault(BackendHTTPError(status, "x")) is counts
    assert gateway.backend_fault(httpx.ConnectError("refused")) is True


def test_a_refusal_by_one_backend_still_lets_another_with_the_model_embed(daphne_url, token, llama, llama2):
    # Both serve the model; only the second was started with embeddings. The first's refusal is not final.
    for _ in range(3):
        response = _embed(daphne_url, token, MODEL)
        assert response.status_code == 200, response.text
        assert len(response.json()["data"][0]["embedding"]) == 640
    assert _circuit("llama1").circuit == "closed"
