"""Job rows and `task:*`: claimed once, progress published, every outcome stored, owner-only."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from core import jobs
from core.models import Job
from tests.fixtures.chat import connect_as
from tests.fixtures.users import make_user

pytestmark = [pytest.mark.django_db(transaction=True)]

GATE = threading.Event()


def steps_handler(job: Job, report: jobs.Reporter) -> dict:
    """A handler the tests drive: three steps, optional failure, waits on GATE when asked."""
    done = []
    for i in range(3):
        report.check_cancelled()
        if job.params.get("wait") and i == 1:
            assert GATE.wait(20)
        report.update(progress=(i + 1) / 3, subtask={"id": i, "title": f"step {i}", "status": "succeeded"})
        report.log(f"step {i} done")
        done.append(i)
        report.partial = {"done": done}
        if job.params.get("fail_at") == i:
            raise RuntimeError(f"step {i} broke")
    return {"done": done}


jobs.register("test.steps", "tests.core.test_jobs.steps_handler")


def late_cancel_handler(job: Job, report: jobs.Reporter) -> dict:
    """Does its work, then a cancel request arrives before the job's row is finished."""
    report.check_cancelled()
    jobs.job_cancel(Job.objects.get(pk=job.pk))
    return {"written": True}


jobs.register("test.late_cancel", "tests.core.test_jobs.late_cancel_handler")


def create(user, **params) -> Job:
    return jobs.job_create(user=user, kind="test.steps", title="three steps", params=params, enqueue=False)


async def test_job_runs_once_with_progress_subtasks_log_and_result():
    user = await make_user("alice")
    job = await sync_to_async(create)(user)
    finished = await sync_to_async(jobs.job_run)(job.pk)
    assert finished.status == "succeeded" and finished.result == {"done": [0, 1, 2]}
    row = await Job.objects.aget(pk=job.pk)
    assert row.progress == 1.0 and row.attempts == 1 and row.finished_at is not None
    assert [s["status"] for s in row.subtasks] == ["succeeded"] * 3
    assert "step 2 done" in row.log
    # A redelivered message finds the job ended and does not run it again.
    assert await sync_to_async(jobs.job_run)(job.pk) is None
    assert (await Job.objects.aget(pk=job.pk)).attempts == 1


async def test_failed_job_keeps_log_partial_result_and_error():
    user = await make_user("alice")
    job = await sync_to_async(create)(user, fail_at=1)
    finished = await sync_to_async(jobs.job_run)(job.pk)
    assert finished.status == "failed"
    assert finished.error == "step 1 broke"
    assert finished.result == {"done": [0, 1]}
    assert "failed: step 1 broke" in finished.log


async def test_running_job_is_not_claimed_twice_until_its_heartbeat_is_stale():
    user = await make_user("alice")
    job = await sync_to_async(create)(user)
    assert await sync_to_async(jobs.job_claim)(job.pk) is not None
    assert await sync_to_async(jobs.job_claim)(job.pk) is None  # alive elsewhere
    await Job.objects.filter(pk=job.pk).aupdate(heartbeat_at=timezone.now() - timedelta(hours=1))
    again = await sync_to_async(jobs.job_claim)(job.pk)  # its worker died: run it again
    assert again is not None and again.attempts == 2


async def test_idempotency_key_returns_the_same_job():
    user = await make_user("alice")
    first = await sync_to_async(jobs.job_create)(
        user=user, kind="test.steps", title="a", idempotency_key="k1", enqueue=False
    )
    second = await sync_to_async(jobs.job_create)(
        user=user, kind="test.steps", title="b", idempotency_key="k1", enqueue=False
    )
    assert first.pk == second.pk
    with pytest.raises(jobs.JobError, match="unknown job kind"):
        await sync_to_async(jobs.job_create)(user=user, kind="nope", title="x")


async def test_cancel_pending_ends_at_once_and_retry_makes_a_new_job():
    user = await make_user("alice")
    job = await sync_to_async(create)(user)
    await sync_to_async(jobs.job_cancel)(job)
    row = await Job.objects.aget(pk=job.pk)
    assert row.status == "cancelled" and row.finished_at is not None
    assert await sync_to_async(jobs.job_run)(job.pk) is None
    with pytest.raises(jobs.JobError, match="already ended"):
        await sync_to_async(jobs.job_cancel)(row)
    retry = await sync_to_async(jobs.job_retry)(row)
    assert retry.pk != job.pk and retry.retry_of_id == job.pk and retry.status == "pending"


async def test_subscriber_sees_current_state_then_every_change_and_cancel_of_a_running_job():
    GATE.clear()
    user = await make_user("alice")
    job = await sync_to_async(create)(user, wait=True)
    ws = await connect_as(user)
    await ws.send(type="task:subscribe", id="s", task_id=job.pk)
    assert await ws.recv() == {"type": "task:subscribed", "id": "s", "task_id": job.pk}
    first = await ws.recv()
    assert first["type"] == "task:update" and first["status"] == "pending" and first["progress"] == 0
    runner = asyncio.get_running_loop().run_in_executor(None, jobs.job_run, job.pk)
    updates = []
    while len(updates) < 2 or updates[-1]["progress"] < 0.3:
        updates.append(await ws.recv(timeout=30))
    assert updates[0]["status"] == "running"
    assert updates[-1]["subtasks"][0] == {"id": 0, "title": "step 0", "status": "succeeded"}
    await sync_to_async(jobs.job_cancel)(await Job.objects.aget(pk=job.pk))
    GATE.set()
    await runner
    frames = await ws.until("task:update", timeout=30)
    while frames[-1]["status"] not in ("cancelled", "succeeded", "failed"):
        frames = await ws.until("task:update", timeout=30)
    assert frames[-1]["status"] == "cancelled"
    await ws.send(type="task:unsubscribe", id="u", task_id=job.pk)
    assert (await ws.recv())["type"] == "task:unsubscribed"
    await ws.close()


async def test_a_cancel_after_the_work_finished_does_not_undo_its_result():
    user = await make_user("alice")
    job = await sync_to_async(jobs.job_create)(user=user, kind="test.late_cancel", title="late", enqueue=False)
    finished = await sync_to_async(jobs.job_run)(job.pk)
    row = await Job.objects.aget(pk=job.pk)
    assert finished.status == row.status == "succeeded" and row.result == {"written": True} and row.error == ""
    assert row.cancel_requested and "came after the work had finished" in row.log


async def test_another_users_task_does_not_exist_for_them():
    alice, bob = await make_user("alice"), await make_user("bob")
    job = await sync_to_async(create)(alice)
    ws = await connect_as(bob)
    await ws.send(type="task:subscribe", id="x", task_id=job.pk)
    frame = await ws.recv()
    assert frame["type"] == "error" and frame["code"] == "not_found" and frame["id"] == "x"
    await ws.close()
