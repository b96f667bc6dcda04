"""What a `task:subscribe`r sees of a task run by the real worker: the planned checklist at once, then the
answers as they are written (the text so far on each running answer), then every subtask ending."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from orchestration import services
from orchestration.models import Subtask
from tests.chat.conftest import connect_as
from tests.conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_subscriber_sees_the_plan_then_the_answers_as_they_stream(scripted, celery_worker):
    scripted.state.tokens_per_s = 20  # 20 words each: a second per answer
    user = await make_user("alice")
    task = await sync_to_async(services.task_create)(
        user=user,
        prompt="Tell me something.",
        models=["fake-ok", "fake-ok"],
        strategy="judge",
        judge_model="fake-orch-judge",
        enqueue=False,
    )
    ws = await connect_as(user)
    await ws.send(type="task:subscribe", id="s", task_id=task.job_id)
    assert (await ws.recv())["type"] == "task:subscribed"
    first = await ws.recv()
    assert first["status"] == "pending" and first["progress"] == 0
    assert [(s["id"], s["status"]) for s in first["subtasks"]] == [
        ("answer-0", "pending"),
        ("answer-1", "pending"),
        ("decision", "pending"),
    ]
    from core import jobs

    await sync_to_async(jobs.job_enqueue)(task.job)
    updates = []
    while not updates or updates[-1]["status"] not in ("succeeded", "failed", "cancelled"):
        updates.append(await ws.recv(timeout=60))
    await ws.close()
    assert updates[-1]["status"] == "succeeded", updates[-1]
    answers = {s.key: s.content async for s in Subtask.objects.filter(task=task, kind="answer")}
    partial = [s for u in updates for s in u["subtasks"] if s["status"] == "running" and s.get("text")]
    assert partial, "no update carried an answer being written"
    assert all(answers[entry["id"]].startswith(entry["text"]) for entry in partial)
    assert any(len(entry["text"]) < len(answers[entry["id"]]) for entry in partial)  # seen half-written
    assert all("text" not in s for s in updates[-1]["subtasks"])
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress) and progress[-1] == 1.0
