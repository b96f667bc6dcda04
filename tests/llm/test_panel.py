"""The model control panel and its JSON endpoints; staff-only management; LM Studio and Ollama
management requests checked against a fake that implements their documented endpoints."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import PermissionDenied

from llm import catalogue, discovery, services
from llm.models import Backend
from tests.fixtures.llm import MODEL, make_backend

pytestmark = [pytest.mark.django_db(transaction=True)]


def job_finished(client, url: str, *, timeout: float) -> dict:
    """Poll a job's status URL until it has succeeded or failed."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = client.get(url).json()
        if job["status"] in {"succeeded", "failed"} or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def test_panel_page_renders_for_users_with_staff_controls_only_for_staff(alice_client, client, staff, llama):
    page = alice_client.get("/models/")
    assert page.status_code == 200
    assert b'id="backend-rows"' in page.content
    assert b"Add backend" not in page.content
    client.force_login(staff)
    assert b"Add backend" in client.get("/models/").content


def test_state_json_shows_backends_models_and_circuit(alice_client, llama):
    body = alice_client.get("/models/api/state?refresh=1").json()
    row = body["backends"][0]
    assert row["name"] == "llama1" and row["status"] == "up" and row["circuit"] == "closed"
    assert row["models"][0]["id"] == MODEL and row["models"][0]["loaded"] is True
    assert row["models"][0]["manageable"] is False  # a single-model llama.cpp server: no load/unload buttons
    assert "api_key" not in str(row).replace("has_api_key", "")


def test_only_staff_add_or_change_a_backend(alice_client, alice, staff):
    data = {
        "name": "studio",
        "base_url": "http://10.0.0.9:1234/v1",
        "kind": "lmstudio",
        "weight": 1,
        "max_concurrency": 4,
        "enabled": "on",
        "connect_timeout_s": 5,
        "first_token_timeout_s": 60,
        "idle_timeout_s": 30,
        "api_key": "sk-abc",
    }
    assert alice_client.post("/models/backends/new/", data).status_code == 302  # to the admin login
    assert not Backend.objects.filter(name="studio").exists()
    with pytest.raises(PermissionDenied):
        services.backend_save(user=alice, backend=Backend(name="studio", base_url="http://10.0.0.9:1234/v1"))
    client = alice_client
    client.force_login(staff)
    assert client.post("/models/backends/new/", data).status_code == 302
    backend = Backend.objects.get(name="studio")
    assert backend.api_key == "sk-abc" and "sk-abc" not in backend.api_key_encrypted
    page = client.get("/models/backends/studio/edit/")
    assert b"sk-abc" not in page.content  # never echoed back


def test_a_url_with_credentials_is_refused(client, staff):
    client.force_login(staff)
    data = {
        "name": "x",
        "base_url": "http://user:pw@gpubox:1234/v1",
        "kind": "openai",
        "weight": 1,
        "max_concurrency": 1,
        "connect_timeout_s": 5,
        "first_token_timeout_s": 60,
        "idle_timeout_s": 30,
    }
    page = client.post("/models/backends/new/", data)
    assert page.status_code == 200 and b"Put the API key in the key field" in page.content
    data["base_url"] = "http://gpubox:1234/v1"  # a LAN name without a dot is fine
    assert client.post("/models/backends/new/", data).status_code == 302


def test_load_is_staff_only_and_a_single_model_llama_server_says_it_cannot(alice_client, client, staff, llama):
    url = "/models/api/backends/llama1/load"
    response = alice_client.post(url, {"model": MODEL}, content_type="application/json")
    assert response.status_code == 403
    client.force_login(staff)
    response = client.post(url, {"model": MODEL}, content_type="application/json")
    assert response.status_code == 409
    assert "single-model llama.cpp server" in response.json()["error"]


def test_lmstudio_load_and_unload_use_its_rest_api(fake, staff):
    backend = make_backend("studio", fake.url, "lmstudio")
    models = {m.id: m for m in async_to_sync(discovery.models_list)(backend)}
    assert models["fake-ok"].loaded and not models["fake-cold"].loaded
    assert models["fake-cold"].context_length == 8192 and models["fake-cold"].manageable
    async_to_sync(services.model_load)(user=staff, backend=backend, model="fake-cold")
    assert fake.state.requests[-1] == ("lms_load", {"model": "fake-cold"})
    entry = async_to_sync(catalogue.catalogue_get)()
    cold = next(m for m in entry["backends"]["studio"]["models"] if m["id"] == "fake-cold")
    assert cold["loaded"] is True and cold["instances"] == ["fake-cold"]
    async_to_sync(services.model_unload)(user=staff, backend=backend, model="fake-cold")
    assert fake.state.requests[-1] == ("lms_unload", {"instance_id": "fake-cold"})


def test_ollama_load_and_unload_use_keep_alive(fake, staff):
    backend = make_backend("olla", fake.url, "ollama")
    models = {m.id: m for m in async_to_sync(discovery.models_list)(backend)}
    assert set(models) == {"llama3:8b", "qwen:4b"} and not models["qwen:4b"].loaded
    async_to_sync(services.model_load)(user=staff, backend=backend, model="qwen:4b")
    assert fake.state.requests[-1] == ("ollama_generate", {"model": "qwen:4b", "keep_alive": -1, "stream": False})
    assert {m.id: m.loaded for m in async_to_sync(discovery.models_list)(backend)}["qwen:4b"] is True
    async_to_sync(services.model_unload)(user=staff, backend=backend, model="qwen:4b")
    assert fake.state.requests[-1][1]["keep_alive"] == 0


def test_a_generic_openai_server_cannot_load(fake, staff):
    backend = make_backend("generic", fake.url, "openai")
    with pytest.raises(discovery.ManagementUnsupported, match="cannot load"):
        async_to_sync(services.model_load)(user=staff, backend=backend, model="fake-ok")


def test_benchmark_job_runs_on_the_worker_and_reports_progress(alice_client, llama, celery_worker):
    response = alice_client.post(
        "/models/api/benchmark", {"backend": "llama1", "model": MODEL, "runs": 2}, content_type="application/json"
    )
    assert response.status_code == 202
    job = job_finished(alice_client, f"/models/api/benchmark/{response.json()['job_id']}", timeout=120)
    assert job["status"] == "succeeded", job
    assert job["result"]["runs"] == 2 and job["result"]["tokens_per_s"][1] > 0


def test_tokenize_endpoint(alice_client, llama):
    body = alice_client.post("/models/api/tokenize", {"text": "hello world"}, content_type="application/json").json()
    assert body == {"count": 3, "exact": True, "method": "llama1 tokenizer"}


def test_long_text_job_maps_and_reduces_on_the_worker(alice_client, llama, celery_worker):
    text = "\n\n".join(f"Part {i}. " + "The river runs to the sea and the sea returns as rain. " * 40 for i in range(6))
    response = alice_client.post(
        "/models/api/longtext",
        {"model": MODEL, "text": text, "instruction": "Summarise."},
        content_type="application/json",
    )
    assert response.status_code == 202
    job = job_finished(alice_client, f"/models/api/jobs/{response.json()['job_id']}", timeout=180)
    assert job["status"] == "succeeded", job
    assert job["chunks"] >= 1 and "result" in job
    # A core Job row like every other: owned, logged, with a heartbeat; the text is in the row, not in the poll.
    from core.models import Job

    row = Job.objects.get(pk=job["job_id"])
    assert row.kind == "llm.long_text" and row.user.username == "alice" and row.heartbeat_at is not None
    assert "chunk 1 of" in row.log and "combining" in row.log and "chunk 1 of" in job["log"]
    assert row.params["text"] == text and "text" not in job and "params" not in job


def test_long_text_requires_its_fields(alice_client):
    response = alice_client.post("/models/api/longtext", {"model": "m", "text": ""}, content_type="application/json")
    assert response.status_code == 400 and "'text' is required" in response.json()["error"]
