"""Idempotency keys are per user: bob sending alice's key gets a job of his own (never hers, never a 500),
alice's retry still gets hers, and a key that cannot be replayed is a clean 409 in the JSON error envelope."""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import Job
from orchestration.models import Task, WorkflowRun

pytestmark = [pytest.mark.django_db]

KEY = "alices-key-1"
API = "/orchestration/api"


def logged_in(user) -> Client:
    # raise_request_exception: a 500 would be the view's exception, raised here.
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, body: dict, key: str = KEY):
    return client.post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_bob_reusing_alices_key_for_a_scrape_gets_his_own_job(alice, bob):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    hers = post(alice_client, "/browser/api/scrape", {"url": "https://example.com/alice"})
    assert hers.status_code == 201
    his = post(bob_client, "/browser/api/scrape", {"url": "https://example.com/bob"})
    assert his.status_code == 201, his.content
    assert his.json()["job"]["task_id"] != hers.json()["job"]["task_id"]
    assert Job.objects.get(pk=his.json()["job"]["task_id"]).user == bob
    assert "alice" not in his.content.decode()
    again = post(alice_client, "/browser/api/scrape", {"url": "https://example.com/alice"})
    assert again.status_code == 201 and again.json()["job"]["task_id"] == hers.json()["job"]["task_id"]
    assert Job.objects.filter(idempotency_key=KEY).count() == 2


def test_bob_reusing_alices_key_for_a_task_gets_his_own_task(alice, bob, fake_backend):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    body = {"prompt": "What is the capital of France?", "models": ["fake-agree-1"]}
    hers = post(alice_client, f"{API}/tasks", body)
    assert hers.status_code == 201, hers.content
    his = post(bob_client, f"{API}/tasks", {**body, "prompt": "bob's question"})
    assert his.status_code == 201, his.content
    assert his.json()["task"]["id"] != hers.json()["task"]["id"]
    assert Task.objects.get(pk=his.json()["task"]["id"]).user == bob
    assert post(alice_client, f"{API}/tasks", body).json()["task"]["id"] == hers.json()["task"]["id"]


def workflow(client: Client, name: str) -> int:
    response = client.post(
        f"{API}/workflows",
        {
            "name": name,
            "inputs": [{"name": "who", "type": "str"}],
            "steps": [{"name": "greet", "type": "transform", "template": "Hello {{ inputs.who }}"}],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["workflow"]["id"]


def test_bob_reusing_alices_key_for_a_workflow_run_gets_his_own_run(alice, bob):
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    hers = post(alice_client, f"{API}/workflows/{workflow(alice_client, 'Hers')}/runs", {"inputs": {"who": "a"}})
    assert hers.status_code == 201, hers.content
    bobs_workflow = workflow(bob_client, "His")
    his = post(bob_client, f"{API}/workflows/{bobs_workflow}/runs", {"inputs": {"who": "b"}})
    assert his.status_code == 201, his.content
    assert his.json()["run"]["id"] != hers.json()["run"]["id"]
    assert WorkflowRun.objects.get(pk=his.json()["run"]["id"]).user == bob


@pytest.mark.usefixtures("fake_backend")
def test_one_users_key_reused_for_another_kind_of_request_is_a_409(alice):
    client = logged_in(alice)
    assert post(client, "/browser/api/scrape", {"url": "https://example.com/"}).status_code == 201

    as_task = post(client, f"{API}/tasks", {"prompt": "q", "models": ["fake-agree-1"]})
    assert as_task.status_code == 409, as_task.content
    assert as_task.json()["code"] == "conflict" and "Idempotency-Key" in as_task.json()["error"]
    as_automation = post(
        client, "/browser/api/automate", {"steps": [{"action": "goto", "url": "https://example.com/"}]}
    )
    assert as_automation.status_code == 409 and "Idempotency-Key" in as_automation.json()["error"]
    as_run = post(client, f"{API}/workflows/{workflow(client, 'W')}/runs", {"inputs": {"who": "x"}})
    assert as_run.status_code == 409 and as_run.json()["code"] == "conflict"
    assert Task.objects.count() == 0 and WorkflowRun.objects.count() == 0  # nothing half-made was left behind
    assert Job.objects.filter(user=alice).count() == 1


def test_a_workflow_runs_key_is_no_replay_for_another_workflow(alice):
    client = logged_in(alice)
    first, second = workflow(client, "First"), workflow(client, "Second")
    assert post(client, f"{API}/workflows/{first}/runs", {"inputs": {"who": "x"}}).status_code == 201
    other = post(client, f"{API}/workflows/{second}/runs", {"inputs": {"who": "x"}})
    assert other.status_code == 409 and other.json()["code"] == "conflict"


@pytest.mark.usefixtures("fake_backend")
def test_a_workflow_runs_key_is_no_replay_for_a_task(alice):
    """A run's step tasks share its job and key; they must not come back as the answer to a task request."""
    client = logged_in(alice)
    run = post(client, f"{API}/workflows/{workflow(client, 'W')}/runs", {"inputs": {"who": "x"}})
    assert run.status_code == 201
    Task.objects.create(
        user=alice,
        title="a step",
        prompt="p",
        model_names=["fake-agree-1"],
        workflow_run_id=run.json()["run"]["id"],
        step_name="greet",
        job_id=run.json()["run"]["job_id"],
    )
    as_task = post(client, f"{API}/tasks", {"prompt": "q", "models": ["fake-agree-1"]})
    assert as_task.status_code == 409 and as_task.json()["code"] == "conflict"
