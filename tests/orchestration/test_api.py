"""The JSON API with an API token (scripts), instructions, ownership (another user's ids are not_found),
idempotency, and clear errors for bad requests."""

from __future__ import annotations

import pytest

from core.services import api_token_create
from orchestration import services
from orchestration.models import Task
from tests.orchestration.conftest import API, ORCH_RIGHT, bearer, create_task, stop_task, wait_job, wait_task

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_script_creates_follows_and_lists_tasks_with_a_token(client, token, scripted, celery_worker):
    auth = bearer(token)
    instruction = client.post(
        f"{API}/instructions",
        {"name": "Short", "content": "Answer in one sentence."},
        content_type="application/json",
        **auth,
    )
    assert instruction.status_code == 201, instruction.content
    instruction_id = instruction.json()["instruction"]["id"]
    created = create_task(
        client,
        auth,
        prompt="What is the capital of France?",
        models=["fake-agree-1", "fake-agree-2"],
        instruction_ids=[instruction_id],
        system_prompt="Be precise.",
        title="Capital",
    )
    assert created["system_prompt"] == "Answer in one sentence.\n\nBe precise."
    assert created["instruction_ids"] == [instruction_id] and created["title"] == "Capital"
    task = wait_task(created["id"])
    got = client.get(f"{API}/tasks/{task.pk}", **auth).json()["task"]
    assert got["status"] == "succeeded" and got["final_answer"] == ORCH_RIGHT
    first_call = next(body for kind, body in scripted.state.requests if kind == "chat")
    assert first_call["messages"][0] == {"role": "system", "content": "Answer in one sentence.\n\nBe precise."}
    listed = client.get(f"{API}/tasks?status=succeeded&q=capital", **auth).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == task.pk
    assert client.get(f"{API}/tasks?status=failed", **auth).json()["total"] == 0
    assert client.get(f"{API}/tasks?status=nope", **auth).status_code == 400
    assert client.post(f"{API}/tasks/{task.pk}/cancel", **auth).status_code == 409
    again = client.post(f"{API}/tasks/{task.pk}/rerun", **auth)
    assert again.status_code == 201 and again.json()["task"]["prompt"] == task.prompt
    assert again.json()["task"]["id"] != task.pk
    assert wait_task(again.json()["task"]["id"]).status == "succeeded"


def test_a_finished_task_is_deleted_with_its_answers_and_job_and_a_running_one_is_not(
    client, token, scripted, celery_worker
):
    from core.models import Job
    from orchestration.models import Subtask

    auth = bearer(token)
    task = wait_task(create_task(client, auth, prompt="Q?", models=["fake-agree-1", "fake-agree-2"])["id"])
    assert task.status == "succeeded" and Subtask.objects.filter(task=task).exists()
    pending = services.task_create(user=task.user, prompt="Later", models=["fake-agree-1"], enqueue=False)
    refused = client.delete(f"{API}/tasks/{pending.pk}", **auth)
    assert refused.status_code == 409 and "cancel it first" in refused.json()["error"]
    assert Task.objects.filter(pk=pending.pk).exists()

    assert client.delete(f"{API}/tasks/{task.pk}", **auth).status_code == 204
    assert not Task.objects.filter(pk=task.pk).exists()
    assert not Subtask.objects.filter(task_id=task.pk).exists() and not Job.objects.filter(pk=task.job_id).exists()
    assert client.get(f"{API}/tasks/{task.pk}", **auth).status_code == 404
    assert client.delete(f"{API}/tasks/{task.pk}", **auth).status_code == 404


def test_without_a_login_or_with_a_wrong_token_it_is_401_json(client):
    assert client.get(f"{API}/tasks").status_code == 401
    response = client.get(f"{API}/tasks", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_another_users_rows_do_not_exist_for_them(client, alice, bob, scripted, celery_worker):
    task = services.task_create(user=alice, prompt="Alice's question", models=["fake-agree-1"], enqueue=False)
    template = services.template_create(user=alice, name="T", body="About {{ x }}", variables=[{"name": "x"}])
    instruction = services.instruction_create(user=alice, name="I", content="Be brief.")
    workflow = services.workflow_create(
        user=alice, name="W", steps=[{"name": "t", "type": "transform", "template": "hi"}]
    )
    run = services.workflow_run_start(workflow=workflow)
    wait_job(run.job_id)
    auth = bearer(api_token_create(user=bob, name="bob").secret)
    for method, path in [
        ("get", f"/tasks/{task.pk}"),
        ("post", f"/tasks/{task.pk}/cancel"),
        ("post", f"/tasks/{task.pk}/rerun"),
        ("delete", f"/tasks/{task.pk}"),
        ("get", f"/templates/{template.pk}"),
        ("patch", f"/templates/{template.pk}"),
        ("delete", f"/templates/{template.pk}"),
        ("post", f"/templates/{template.pk}/render"),
        ("get", f"/instructions/{instruction.pk}"),
        ("delete", f"/instructions/{instruction.pk}"),
        ("get", f"/workflows/{workflow.pk}"),
        ("post", f"/workflows/{workflow.pk}/runs"),
        ("get", f"/workflows/{workflow.pk}/runs"),
        ("get", f"/runs/{run.pk}"),
        ("post", f"/runs/{run.pk}/cancel"),
    ]:
        response = getattr(client, method)(f"{API}{path}", {}, content_type="application/json", **auth)
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"] == "not_found"
    assert client.get(f"{API}/tasks", **auth).json()["total"] == 0
    assert client.get(f"{API}/templates", **auth).json()["templates"] == []
    assert client.get(f"{API}/runs", **auth).json()["total"] == 0
    # Nor can bob use alice's template, instructions or knowledge in a task of his own.
    for body, message in [
        ({"template_id": template.pk, "variables": {"x": 1}}, f"you have no template {template.pk}"),
        ({"prompt": "q", "instruction_ids": [instruction.pk]}, f"you have no instruction {instruction.pk}"),
    ]:
        response = client.post(
            f"{API}/tasks", {**body, "models": ["fake-agree-1"]}, content_type="application/json", **auth
        )
        assert response.status_code == 400 and message in response.json()["error"]
    assert Task.objects.filter(user=bob).count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": ""}, "prompt: give some text"),
        ({"prompt": "q", "models": []}, 'models: a list of model names, or "all_loaded"'),
        ({"prompt": "q", "models": ["no-such-model"]}, "no backend serves the model 'no-such-model'"),
        ({"prompt": "q", "models": ["fake-agree-1"] * 6}, "at most 5 (ORCHESTRATION_MAX_MODELS)"),
        (
            {"prompt": "q", "models": ["fake-agree-1"], "strategy": "dice"},
            "strategy: one of cross_validate, vote, judge",
        ),
        ({"prompt": "q", "models": ["fake-agree-1"], "judge_model": "nobody"}, "judge_model: no backend serves"),
        (
            {"prompt": "q", "models": ["fake-agree-1"], "options": {"temperature": 9}},
            "options.temperature: from 0 to 2",
        ),
        ({"prompt": "q", "models": ["fake-agree-1"], "options": {"colour": 1}}, "unknown option 'colour'"),
        ({"prompt": "q", "models": ["fake-agree-1"], "knowledge_base_ids": [999]}, "you have no knowledge base 999"),
        ({"prompt": "q", "colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_bad_requests_name_the_problem(alice_client, scripted, body, message):
    response = alice_client.post(f"{API}/tasks", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]
    assert not Task.objects.exists()


def test_not_json_is_a_clear_400(alice_client):
    response = alice_client.post(f"{API}/tasks", "nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "the body is not valid JSON"


def test_the_same_idempotency_key_returns_the_same_task(client, token, scripted):
    auth = {**bearer(token), "HTTP_IDEMPOTENCY_KEY": "k-1"}
    first = client.post(
        f"{API}/tasks", {"prompt": "q", "models": ["fake-agree-1"]}, content_type="application/json", **auth
    )
    second = client.post(
        f"{API}/tasks", {"prompt": "q", "models": ["fake-agree-1"]}, content_type="application/json", **auth
    )
    assert first.json()["task"]["id"] == second.json()["task"]["id"] and Task.objects.count() == 1
    stop_task(Task.objects.get().pk)  # not run: the point was its creation


def test_all_loaded_takes_every_loaded_model(alice_client, scripted):
    models = alice_client.get(f"{API}/models").json()["models"]
    assert {"id": "fake-agree-1", "loaded": True} in models
    response = alice_client.post(
        f"{API}/tasks", {"prompt": "q", "models": "all_loaded"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["task"]["models"] == sorted(m["id"] for m in models if m["loaded"])[:5]
    stop_task(Task.objects.get().pk)


def test_the_task_list_costs_the_same_few_queries_however_many_tasks(
    alice_client, alice, scripted, django_assert_max_num_queries
):
    instruction = services.instruction_create(user=alice, name="I", content="Be brief.")
    for n in range(6):
        services.task_create(
            user=alice, prompt=f"q{n}", models=["fake-agree-1"], instruction_ids=[instruction.pk], enqueue=False
        )
    with django_assert_max_num_queries(6):
        listed = alice_client.get(f"{API}/tasks").json()
    assert listed["total"] == 6 and all(t["instruction_ids"] == [instruction.pk] for t in listed["items"])


def test_instructions_are_the_owners_to_change(alice_client):
    created = alice_client.post(
        f"{API}/instructions", {"name": "French", "content": "Réponds en français."}, content_type="application/json"
    ).json()["instruction"]
    changed = alice_client.patch(
        f"{API}/instructions/{created['id']}", {"content": "Answer in French."}, content_type="application/json"
    )
    assert changed.json()["instruction"]["content"] == "Answer in French."
    assert alice_client.get(f"{API}/instructions").json()["instructions"][0]["name"] == "French"
    assert alice_client.delete(f"{API}/instructions/{created['id']}").status_code == 204
    assert alice_client.get(f"{API}/instructions/{created['id']}").status_code == 404
