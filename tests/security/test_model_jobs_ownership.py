"""The Models page's jobs (benchmarks, long texts) belong to whoever started them: another user's job id
answers 404, exactly like one that does not exist."""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import Job

pytestmark = [pytest.mark.django_db]

SECRET = "Summary of alice's private contract: the price is 1.2 million."


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def finish(job_id: int, **result) -> None:
    """What the worker writes when the job is done (the run itself needs a worker; its record is the point)."""
    Job.objects.filter(pk=job_id).update(status="succeeded", progress=1.0, result=result)


def test_bob_cannot_read_alices_long_text_job(alice, bob):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    started = alice_client.post(
        "/models/api/longtext",
        {"model": "m", "text": "a contract", "instruction": "summarise"},
        content_type="application/json",
    )
    assert started.status_code == 202, started.content
    job_id = started.json()["job_id"]
    finish(job_id, message="done: 1 chunks", result=SECRET, chunks=1)

    for path in (f"/models/api/jobs/{job_id}", f"/models/api/benchmark/{job_id}"):
        stolen = bob_client.get(path)
        assert stolen.status_code == 404, path
        assert SECRET not in stolen.content.decode()
        assert stolen.json() == bob_client.get("/models/api/jobs/no-such-job").json()  # alike, nothing to tell apart

    mine = alice_client.get(f"/models/api/jobs/{job_id}")
    assert mine.status_code == 200
    assert mine.json()["result"] == SECRET and mine.json()["status"] == "succeeded"
    assert "a contract" not in mine.content.decode()  # the input stays in the row, not in every poll
    assert Job.objects.get(pk=job_id).user == alice


def test_bob_cannot_read_alices_benchmark(alice, bob, fake_backend):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    started = alice_client.post(
        "/models/api/benchmark",
        {"backend": "scripted", "model": "fake-ok", "runs": 1},
        content_type="application/json",
    )
    assert started.status_code == 202, started.content
    job_id = started.json()["job_id"]
    assert bob_client.get(f"/models/api/benchmark/{job_id}").status_code == 404
    assert bob_client.get(f"/models/api/jobs/{job_id}").status_code == 404
    mine = alice_client.get(f"/models/api/benchmark/{job_id}")
    assert mine.status_code == 200 and mine.json()["model"] == "fake-ok"


def test_a_token_reads_its_own_users_jobs_only(alice, bob):
    from core.services import api_token_create

    job_id = (
        logged_in(alice)
        .post("/models/api/longtext", {"model": "m", "text": "t", "instruction": "i"}, content_type="application/json")
        .json()["job_id"]
    )
    alice_token = api_token_create(user=alice, name="cli").secret
    bob_token = api_token_create(user=bob, name="cli").secret
    path = f"/models/api/jobs/{job_id}"
    assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {bob_token}").status_code == 404
    assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {alice_token}").status_code == 200


def test_only_the_owner_cancels_a_job_and_once(alice, bob):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    job_id = alice_client.post(
        "/models/api/longtext", {"model": "m", "text": "t", "instruction": "i"}, content_type="application/json"
    ).json()["job_id"]
    assert bob_client.post(f"/models/api/jobs/{job_id}/cancel").status_code == 404
    assert Job.objects.get(pk=job_id).status == "pending"
    cancelled = alice_client.post(f"/models/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = alice_client.post(f"/models/api/jobs/{job_id}/cancel")
    assert again.status_code == 409 and "already ended" in again.json()["error"]
