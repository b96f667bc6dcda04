"""/healthz: database, Redis, a Celery worker round trip and each LLM backend."""

from __future__ import annotations

import shutil

import pytest

from core import embedded
from llm.models import Backend
from llm.services import backends_sync_from_settings

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def backends_from_settings():
    """As `make run` does at start: LLM_BACKENDS (the test llama.cpp server) seeds the backends."""
    backends_sync_from_settings()


def test_green_when_database_redis_and_worker_are_up(client, celery_worker, llm_url):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "up",
        "redis": "up",
        "worker": "up",
    }
    assert body["backends"] == [
        {"name": "testllm", "kind": "llamacpp", "status": "up", "ms": body["backends"][0]["ms"]}
    ]
    assert body["backends_up"] == 1
    assert response["Cache-Control"].startswith("max-age=0")


def test_signed_in_users_see_backend_details(alice_client, celery_worker, llm_url):
    backend = alice_client.get("/healthz").json()["backends"][0]
    assert backend["url"] == llm_url
    assert backend["models"]  # the real llama.cpp server lists its model


def test_a_dead_llm_backend_is_reported_but_the_core_stays_green(alice_client, celery_worker, llm_url):
    Backend.objects.create(name="gone", kind="lmstudio", base_url=f"http://127.0.0.1:{embedded.free_port()}/v1")
    response = alice_client.get("/healthz")
    assert response.status_code == 200
    by_name = {b["name"]: b for b in response.json()["backends"]}
    assert by_name["testllm"]["status"] == "up"
    assert by_name["gone"]["status"] == "down"
    assert "ConnectError" in by_name["gone"]["error"]
    assert response.json()["backends_up"] == 1


def test_503_naming_redis_when_redis_is_stopped(alice_client, settings, tmp_path):
    port = embedded.free_port()
    proc = embedded.redis_server_start(port=port, workdir=tmp_path, executable=shutil.which("redis-server"))
    settings.REDIS_CLIENT_URL = f"redis://127.0.0.1:{port}/0"
    assert alice_client.get("/healthz").json()["checks"]["redis"]["status"] == "up"
    embedded.process_stop(proc)

    response = alice_client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["redis"]["status"] == "down"
    assert "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["worker"]["status"] == "down"


def test_anonymous_callers_get_status_without_addresses_or_errors(client, celery_worker):
    Backend.objects.all().delete()
    Backend.objects.create(name="gone", kind="lmstudio", base_url=f"http://127.0.0.1:{embedded.free_port()}/v1")
    body = client.get("/healthz").json()
    assert body["backends"][0]["status"] == "down"
    assert "url" not in body["backends"][0] and "error" not in body["backends"][0]


def test_disabled_backends_are_not_checked(alice_client, celery_worker):
    Backend.objects.update(enabled=False)
    assert alice_client.get("/healthz").json()["backends"] == []
