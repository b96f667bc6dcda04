from __future__ import annotations

import pytest
import redis
from django.conf import settings

from core import embedded
from llm import catalogue, gateway
from llm.models import Backend
from tests.conftest import require_env
from tests.fakes.openai_server import FakeServer


@pytest.fixture(autouse=True)
def clean_gateway_state():
    """Breaker, in-flight, latency and catalogue live in Redis and in-process: start each test clean."""

    def wipe() -> None:
        client = redis.Redis.from_url(settings.REDIS_CLIENT_URL)
        keys = list(client.scan_iter("orch:llm:*"))
        if keys:
            client.delete(*keys)
        client.close()
        catalogue.catalogue_forget_local()
        gateway.backends_forget_local()

    wipe()
    yield
    wipe()


@pytest.fixture
def llm_url_2() -> str:
    return require_env("ORCH_TEST_LLM_URL_2")


@pytest.fixture
def fake():
    server = FakeServer(embedded.free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def fake2():
    server = FakeServer(embedded.free_port()).start()
    yield server
    server.stop()


def make_backend(name: str, url: str, kind: str = "openai", **fields) -> Backend:
    return Backend.objects.create(name=name, base_url=url, kind=kind, **fields)


@pytest.fixture
def llama(llm_url) -> Backend:
    return make_backend("llama1", llm_url, "llamacpp")


@pytest.fixture
def llama2(llm_url_2) -> Backend:
    return make_backend("llama2", llm_url_2, "llamacpp")


MODEL = embedded.EMBEDDED_MODEL_ALIAS
