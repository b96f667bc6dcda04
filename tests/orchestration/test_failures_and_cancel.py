"""A model that fails is recorded and the task goes on while enough answers remain; too few is a clear
failure; cancel stops a running task within about a second, model calls in flight included."""

from __future__ import annotations

import time

import pytest

from core import jobs
from core.models import Job
from orchestration import services
from orchestration.models import Subtask, Task
from orchestration.runner import job as runner_job
from tests.orchestration.conftest import API, ORCH_RIGHT, create_task, detail, wait_task

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_failing_model_is_recorded_and_the_others_decide(alice_client, scripted, celery_worker):
    created = create_task(
        alice_client, prompt="Capital of France?", models=["fake-agree-1", "fake-500", "fake-agree-2"]
    )
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    got = detail(alice_client, task.pk)
    failed = got["answers"][1]
    assert failed["status"] == "failed" and "scripted failure" in failed["error"]
    reviews = {(r["reviewer_label"], r["target_label"]): r["status"] for r in got["reviews"]}
    assert reviews[("A", "C")] == reviews[("C", "A")] == "succeeded"
    assert {reviews[k] for k in reviews if "B" in k} == {"skipped"}
    assert got["decision"]["method"] == "consensus" and got["final_answer"] == ORCH_RIGHT
    assert got["metrics"]["answers"] == {"asked": 3, "succeeded": 2, "failed": 1}
    assert got["agreement"]["scores"] == [1.0, None, 1.0]


def test_too_few_answers_fail_the_task_saying_which_models_failed(alice_client, scripted, celery_worker):
    created = create_task(alice_client, prompt="Capital of France?", models=["fake-agree-1", "fake-500"])
    task = wait_task(created["id"])
    assert task.status == "failed" and task.job.status == "failed"
    assert "only 1 of 2 models answered" in task.error and "ORCHESTRATION_MIN_ANSWERS" in task.error
    assert "B fake-500" in task.error and task.job.error == task.error
    statuses = dict(Subtask.objects.filter(task=task).values_list("key", "status"))
    assert statuses["answer-0"] == "succeeded" and statuses["answer-1"] == "failed"
    assert statuses["decision"] == "skipped"


def test_one_model_is_enough_when_only_one_was_asked(alice_client, scripted, celery_worker):
    created = create_task(alice_client, prompt="Capital of France?", models=["fake-agree-1"])
    task = wait_task(created["id"])
    assert task.status == "succeeded", task.error
    assert task.decision["method"] == "single" and task.final_answer == ORCH_RIGHT
    assert list(task.subtasks.values_list("key", flat=True)) == ["answer-0", "decision"]


def test_cancel_stops_a_running_task_and_its_model_calls_within_a_second(alice_client, scripted, celery_worker):
    # fake-stall sends three words, then stays silent for 30 s: its call is in flight when the cancel comes.
    created = create_task(alice_client, prompt="Capital of France?", models=["fake-agree-1", "fake-stall"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = dict(Subtask.objects.filter(task_id=created["id"]).values_list("key", "status"))
        if rows.get("answer-0") == "succeeded" and rows.get("answer-1") == "running":
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the task never reached the stalled call: {rows}")
    time.sleep(0.3)  # well inside the stall
    asked = time.monotonic()
    response = alice_client.post(f"{API}/tasks/{created['id']}/cancel")
    assert response.status_code == 200, response.content
    task = wait_task(created["id"], timeout=10)
    took = time.monotonic() - asked
    assert task.status == "cancelled" and task.job.status == "cancelled"
    assert took < 2.5, f"cancel took {took:.2f} s"
    got = detail(alice_client, task.pk)
    assert got["answers"][0]["status"] == "succeeded" and got["answers"][0]["content"] == ORCH_RIGHT
    assert got["answers"][1]["status"] == "cancelled"
    assert {s["status"] for s in got["subtasks"][2:]} == {"cancelled"}
    assert alice_client.post(f"{API}/tasks/{task.pk}/cancel").status_code == 409


def test_cancel_before_the_task_starts_ends_it_at_once(alice, scripted):
    task = services.task_create(user=alice, prompt="Capital?", models=["fake-agree-1"], enqueue=False)
    services.task_cancel(task=task)
    task.refresh_from_db()
    assert task.status == "cancelled" and task.finished_at is not None
    assert Job.objects.get(pk=task.job_id).status == "cancelled"
    assert jobs.job_run(task.job_id) is None  # nothing runs it later


def test_a_cancel_landing_on_the_final_write_leaves_task_and_job_succeeded(alice, scripted, monkeypatch):
    """The watcher can cancel the run while the final UPDATE is under way in its thread: the write lands, the
    await is cancelled. The stored outcome (succeeded) must win, for the task and for its job."""

    async def cancelled_as_it_ends(work, job_id):
        await work
        await Job.objects.filter(pk=job_id).aupdate(cancel_requested=True)
        raise jobs.JobCancelled()

    monkeypatch.setattr(runner_job, "watched", cancelled_as_it_ends)
    task = services.task_create(user=alice, prompt="Capital of France?", models=["fake-agree-1"], enqueue=False)
    job = jobs.job_run(task.job_id)
    task = Task.objects.get(pk=task.pk)
    assert task.status == "succeeded" and task.final_answer == ORCH_RIGHT and task.error == ""
    assert job.status == "succeeded" and job.result["status"] == "succeeded"
