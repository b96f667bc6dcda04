"""End to end with two real llama.cpp servers: a task with three answers runs to `succeeded` on the real Celery
worker, created over HTTP on a real daphne with an API token, while a real WebSocket subscriber sees every
`task:update` in order with progress that never goes back."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect

from orchestration.models import Task
from tests.orchestration.conftest import MODEL, wait_task

pytestmark = [pytest.mark.django_db(transaction=True)]

ORDER = {"pending": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}


async def follow(url: str, token: str, job_id: int, timeout: float = 240) -> list[dict]:
    """Every task:update for the job until it ends, as a subscriber of the real server sees them."""
    async with connect(
        url.replace("http://", "ws://") + "/ws", additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "task:subscribe", "id": "s", "task_id": job_id}))
        updates = []
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "task:update":
                    updates.append(frame)
                    if frame["status"] in ("succeeded", "failed", "cancelled"):
                        return updates
                else:
                    assert frame["type"] == "task:subscribed", frame


async def test_three_answers_from_two_real_servers_run_to_succeeded_seen_live(
    llama, llama2, token, daphne_url, celery_worker
):
    # llama.cpp's Python server serves one request at a time (a second one interrupts the first): one slot each.
    for backend in (llama, llama2):
        backend.max_concurrency = 1
        await backend.asave(update_fields=["max_concurrency"])
    body = {
        "prompt": "Write one sentence about the sea.",
        "models": [MODEL, MODEL, MODEL],
        "title": "Colours",
        "options": {"max_tokens": 24, "review_max_tokens": 48, "temperature": 0.8},
    }
    async with httpx.AsyncClient(base_url=daphne_url, headers={"Authorization": f"Bearer {token}"}) as http:
        response = await http.post("/orchestration/api/tasks", json=body, timeout=30)
    assert response.status_code == 201, response.text
    created = response.json()["task"]
    updates = await follow(daphne_url, token, created["job_id"])
    task = await sync_to_async(wait_task)(created["id"], timeout=60)

    assert task.status == "succeeded", task.error
    assert [u["task_id"] for u in updates] == [created["job_id"]] * len(updates)
    statuses = [ORDER[u["status"]] for u in updates]
    assert statuses == sorted(statuses), [u["status"] for u in updates]
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress) and progress[-1] == 1.0, progress
    stamps = [u["updated_at"] for u in updates]
    assert stamps == sorted(stamps)
    assert len(updates) >= 4  # the claim, answers and reviews as they finish, the end
    final = updates[-1]
    assert final["status"] == "succeeded" and final["result"]["task_id"] == created["id"]
    assert len(final["subtasks"]) == 3 + 6 + 1
    errors = {s.key: s.error async for s in task.subtasks.all()}
    assert all(s["status"] == "succeeded" and s["completed_at"] for s in final["subtasks"]), [
        (s["id"], s["status"], errors[s["id"]]) for s in final["subtasks"] if s["status"] != "succeeded"
    ]
    assert {s["kind"] for s in final["subtasks"]} == {"answer", "review", "decision"}
    # Answers arrived one by one: some update showed an answer done while another was not.
    assert any(
        0 < sum(s["status"] == "succeeded" for s in u["subtasks"] if s["kind"] == "answer") < 3 for u in updates
    ) or any(
        sum(s["status"] == "succeeded" for s in u["subtasks"] if s["kind"] == "answer") == 3
        and any(s["status"] != "succeeded" for s in u["subtasks"] if s["kind"] == "review")
        for u in updates
    )

    row = await Task.objects.aget(pk=created["id"])
    answers = [s async for s in row.subtasks.filter(kind="answer").order_by("position")]
    assert all(a.content and a.latency_ms > 0 and a.completion_tokens for a in answers)
    assert {a.data["backend"] for a in answers} <= {"llama1", "llama2"}
    assert row.final_answer in [a.content for a in answers]
    assert row.decision["method"] in ("consensus", "judge", "vote", "fallback")
    assert row.metrics["answers"]["succeeded"] == 3 and row.metrics["tokens"]["completion"] > 0
