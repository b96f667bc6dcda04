"""A worker killed in the middle of a task: after JOB_STALE_AFTER_S the sweep queues the job again, another
worker claims it, keeps the answers already stored, asks only what is missing, and the task finishes once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from core import embedded, jobs
from core.models import Job
from core.tasks import job_execute
from orchestration import services
from orchestration.models import Subtask, Task
from tests.conftest import ROOT, wait_until
from tests.orchestration.conftest import ORCH_RIGHT, wait_task

pytestmark = [pytest.mark.django_db(transaction=True)]

STALE_S = 3
PROMPT = "What is the capital of France?"


def start_worker(env: dict, queue: str, name: str) -> subprocess.Popen:
    from orchestrator_site.celery import app

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "orchestrator_site",
            "worker",
            "--pool",
            "solo",
            "-l",
            "warning",
            "-n",
            f"{name}@%h",
            "-Q",
            queue,
        ],
        env={**env, "JOB_STALE_AFTER_S": str(STALE_S)},
        cwd=ROOT,
        start_new_session=True,
    )

    def answers() -> bool:
        return bool(app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=0.5))

    wait_until(answers, timeout=60, what=f"worker {name} answering ping", proc=proc)
    return proc


def asked_the_question(fake, model: str) -> int:
    return sum(
        1
        for kind, body in fake.state.requests
        if kind == "chat" and body["model"] == model and body["messages"][-1]["content"] == PROMPT
    )


def test_a_task_whose_worker_is_killed_resumes_on_another_and_finishes_once(alice, scripted, subprocess_env):
    queue = f"orch-kill-{os.getpid()}"
    scripted.state.slow_first_s = 60  # fake-slow-first keeps its answer in flight until the worker dies
    task = services.task_create(
        user=alice,
        prompt=PROMPT,
        models=["fake-agree-1", "fake-agree-2", "fake-slow-first"],
        judge_model="fake-orch-judge",
        enqueue=False,
    )
    first = start_worker(subprocess_env, queue, f"kill-a-{os.getpid()}")
    second = None
    try:
        job_execute.apply_async(args=[task.job_id], queue=queue)

        def two_answers_in() -> bool:
            rows = dict(Subtask.objects.filter(task=task).values_list("key", "status"))
            return rows.get("answer-0") == rows.get("answer-1") == "succeeded" and rows.get("answer-2") == "running"

        wait_until(two_answers_in, timeout=60, what="two answers stored, the third in flight", proc=first)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        job = Job.objects.get(pk=task.job_id)
        assert job.status == "running" and job.attempts == 1

        # A live job is not taken for a dead one; once its heartbeat is stale, the sweep queues it again.
        assert services.jobs_requeue_stale(stale_after=timedelta(seconds=STALE_S), queue=queue) == []
        time.sleep(STALE_S + 0.5)
        scripted.state.slow_first_s = 0.1
        second = start_worker(subprocess_env, queue, f"kill-b-{os.getpid()}")
        assert services.jobs_requeue_stale(stale_after=timedelta(seconds=STALE_S), queue=queue) == [task.job_id]
        done = wait_task(task.pk, timeout=60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                embedded.process_stop(proc)

    assert done.status == "succeeded", done.error
    job = Job.objects.get(pk=task.job_id)
    assert job.status == "succeeded" and job.attempts == 2
    assert job.result["task_id"] == task.pk and job.result["final_answer"] == done.final_answer == ORCH_RIGHT
    # The stored answers were kept: each agreeing model was asked the question once, over both attempts.
    assert asked_the_question(scripted, "fake-agree-1") == asked_the_question(scripted, "fake-agree-2") == 1
    assert asked_the_question(scripted, "fake-slow-first") == 2  # in flight when the first worker died
    assert Subtask.objects.filter(task=task).count() == 3 + 6 + 1
    assert set(Subtask.objects.filter(task=task).values_list("status", flat=True)) == {"succeeded"}
    assert done.metrics["resumed"] is True
    # A late redelivery of the first message (or a third worker) finds nothing to do: one result, not two.
    finished_at = done.finished_at
    assert jobs.job_run(task.job_id) is None
    again = Task.objects.get(pk=task.pk)
    assert again.finished_at == finished_at and again.final_answer == ORCH_RIGHT
