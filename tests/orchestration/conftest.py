"""Fixtures for the orchestrator: the scripted OpenAI-compatible server as a backend (its fake-agree-*,
fake-disagree, fake-orch-judge and fake-garbage models answer deterministically), alice's API token, and
helpers that create tasks through the JSON API and wait for them to end on the real Celery worker."""

from __future__ import annotations

import contextlib
import time

import pytest

from core.models import Job
from core.services import api_token_create
from orchestration.models import Task
from tests.fakes.openai_server import ORCH_RIGHT, ORCH_WRONG  # noqa: F401 - re-exported for the tests
from tests.knowledge.conftest import page_server, site  # noqa: F401 - pages on 127.0.0.1 for scrape steps
from tests.llm.conftest import MODEL, clean_gateway_state, fake, llama, llama2, llm_url_2, make_backend  # noqa: F401

API = "/orchestration/api"


@pytest.fixture
def scripted(fake):  # noqa: F811 - the fixture imported above
    """The scripted server as the only backend; answers stream at 500 tokens/s."""
    make_backend("scripted", fake.url, max_concurrency=64)
    return fake


@pytest.fixture
def kb(alice):
    """A knowledge base with two chunks (keyword search needs no embeddings)."""
    from knowledge.models import Chunk, KnowledgeBase, Source

    base = KnowledgeBase.objects.create(user=alice, name="Geography")
    source = Source.objects.create(kb=base, kind="text", title="France", status="ready", text="x", chunk_count=2)
    Chunk.objects.create(source=source, kb=base, index=0, text="Paris is the capital of France, on the Seine.")
    Chunk.objects.create(source=source, kb=base, index=1, text="Alpacas are domesticated camelids from Peru.")
    return base


@pytest.fixture
def token(alice) -> str:
    return api_token_create(user=alice, name="orchestration tests").secret


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def create_task(client, headers: dict | None = None, **body) -> dict:
    response = client.post(f"{API}/tasks", body, content_type="application/json", **(headers or {}))
    assert response.status_code == 201, response.content
    return response.json()["task"]


def wait_task(task_id: int, timeout: float = 90) -> Task:
    """The task once it and its job have both ended (the job row is written just after the task's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = Task.objects.select_related("job").get(pk=task_id)
        if task.is_finished and (task.job is None or task.job.is_finished):
            return task
        time.sleep(0.1)
    task = Task.objects.select_related("job").get(pk=task_id)
    log = task.job.log if task.job else ""
    raise AssertionError(f"task {task_id} still {task.status} after {timeout} s: {task.error} {log}")


def stop_task(task_id: int) -> Task:
    """Cancel a task a test only needed created (or let it end if it already has), so no worker is still running
    it when the next test empties the database."""
    from orchestration import services
    from orchestration.validation import OrchestrationConflict

    with contextlib.suppress(OrchestrationConflict):  # it ended already
        services.task_cancel(task=Task.objects.select_related("job").get(pk=task_id))
    return wait_task(task_id, timeout=30)


def wait_job(job_id: int, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {Job.objects.get(pk=job_id).status} after {timeout} s")


def detail(client, task_id: int, headers: dict | None = None) -> dict:
    response = client.get(f"{API}/tasks/{task_id}", **(headers or {}))
    assert response.status_code == 200, response.content
    return response.json()["task"]
