"""Orchestrator overhead: what a cross-validated task costs beyond its models' own time, and how long a queued
task waits for a worker, compared with a Redis round trip, in one run.

    .venv/bin/python benchmarks/orchestrator.py [--quick]

Starts its own embedded Redis, SQLite, a real Celery worker (solo pool, queue `orchestration`), the scripted
OpenAI-compatible server in its own process and a llama.cpp server with the small model, all on 127.0.0.1.
Runs 3-model cross_validate tasks one at a time (each answer reviewed by the two other models, the hallucination
detector on every answer) and prints `name: value` lines:

- overhead_ms: P50 of the job's time from its claim to its end minus its critical path (the slowest answer +
  the slowest review + the judge, as each call measured itself): the orchestrator's own time, detector
  included (target < 50 ms); overhead_p95_ms beside it, and overhead_no_detector_ms without the detector.
- enqueue_to_start_ms: P50 from queuing the job to a worker claiming it; redis_ping_ms: P50 of a PING on the
  same Redis; enqueue_to_start_minus_ping_ms: their difference, what Celery and the claim add.
- llama_*: the same task on the real llama.cpp server (three answers of 16 tokens, reviews of 32).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stats import percentile  # noqa: E402

PROMPT = "What is the capital of France?"
LLAMA_PROMPT = "Write one sentence about the sea."  # the small base model answers this one reliably
AGREEING = ["fake-agree-1", "fake-agree-2", "fake-agree-3"]


def critical_path_ms(task) -> float:
    """The time the task's model calls needed at least: its phases run one after another, calls in a phase at once."""
    rows = list(task.subtasks.all())

    def slowest(kind: str) -> float:
        return max((r.latency_ms or 0.0 for r in rows if r.kind == kind and r.status == "succeeded"), default=0.0)

    return slowest("answer") + max(slowest("review"), slowest("vote")) + slowest("decision")


def run_task(user, models: list[str], options: dict, *, prompt: str = PROMPT, timeout: float = 300) -> dict:
    """Queue one task, wait for its end; (overhead, enqueue→start) in ms."""
    from core import jobs
    from core.models import Job
    from orchestration import services
    from orchestration.models import Task

    task = services.task_create(user=user, prompt=prompt, models=models, options=options, enqueue=False)
    queued = time.time()
    jobs.job_enqueue(task.job)
    deadline = time.monotonic() + timeout
    while True:
        job = Job.objects.get(pk=task.job_id)
        if job.is_finished:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task.pk} still {job.status} after {timeout} s: {job.log}")
        time.sleep(0.005)
    task = Task.objects.get(pk=task.pk)
    if task.status != "succeeded":
        raise RuntimeError(f"task {task.pk} {task.status}: {task.error}")
    busy_ms = (job.finished_at - job.started_at).total_seconds() * 1000
    return {
        "overhead_ms": busy_ms - critical_path_ms(task),
        "enqueue_to_start_ms": (job.started_at.timestamp() - queued) * 1000,
        "critical_ms": critical_path_ms(task),
    }


def redis_ping_ms(url: str, n: int = 200) -> float:
    import redis

    client = redis.Redis.from_url(url)
    client.ping()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.ping()
        times.append((time.perf_counter() - started) * 1000)
    client.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: under a minute")
    args = parser.parse_args()
    runs, runs_llama = (10, 1) if args.quick else (50, 5)

    workdir = Path(tempfile.mkdtemp(prefix="orch-bench-"))
    os.environ.update(
        ORCH_DATA_DIR=str(workdir / "data"),
        SECRET_KEY="bench",
        DJANGO_SETTINGS_MODULE="orchestrator_site.settings",
        LLM_BACKENDS="",
        LOG_LEVEL="WARNING",
        KNOWLEDGE_LOCAL_EMBEDDINGS="false",
        MONITORING_SAMPLER_ENABLED="false",
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)

    from core import embedded
    from orchestrator_site.env import embedded_redis_socket

    socket_path = embedded_redis_socket(workdir / "data")
    procs = [embedded.redis_server_start(socket_path=socket_path, workdir=socket_path.parent)]
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from llm.models import Backend

        call_command("migrate", verbosity=0)
        fake_port, llama_port = embedded.free_port(), embedded.free_port()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(fake_port), "--tokens-per-s", "500"],
                cwd=ROOT,
                start_new_session=True,
            )
        )
        fake_url = f"http://127.0.0.1:{fake_port}/v1"
        procs.append(
            embedded.llm_server_start(
                model=embedded.model_path(ROOT / ".cache"), port=llama_port, log_path=workdir / "llama.log"
            )
        )
        deadline = time.monotonic() + 30
        while not embedded.backend_answers(fake_url, timeout=1) and time.monotonic() < deadline:
            time.sleep(0.1)
        Backend.objects.create(name="scripted", base_url=fake_url, kind="openai", max_concurrency=64)
        # llama.cpp's Python server serves one request at a time (another one interrupts it): one slot.
        Backend.objects.create(
            name="llamacpp", base_url=f"http://127.0.0.1:{llama_port}/v1", kind="llamacpp", max_concurrency=1
        )
        user = get_user_model().objects.create_user("bench", "bench@example.com", "x")
        worker = subprocess.Popen(
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
                f"bench-{os.getpid()}@%h",
                "-Q",
                "orchestration",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "worker.log").open("wb"),
        )
        procs.append(worker)
        from orchestrator_site.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"the worker did not start; see {workdir / 'worker.log'}")

        for _ in range(2):  # warm: imports, connections, the catalogue
            run_task(user, AGREEING, {})
        with_detector = [run_task(user, AGREEING, {}) for _ in range(runs)]
        without = [run_task(user, AGREEING, {"hallucination_check": False}) for _ in range(max(3, runs // 2))]
        ping = redis_ping_ms(settings.CELERY_BROKER_URL.replace("redis+socket://", "unix://"))
        llama_options = {"max_tokens": 16, "review_max_tokens": 32}
        llama = [
            run_task(user, [embedded.EMBEDDED_MODEL_ALIAS] * 3, llama_options, prompt=LLAMA_PROMPT)
            for _ in range(runs_llama)
        ]
    finally:
        for proc in reversed(procs):
            embedded.process_stop(proc)

    overhead = [r["overhead_ms"] for r in with_detector]
    enqueue = [r["enqueue_to_start_ms"] for r in with_detector + without]
    figures = {
        "tasks": len(with_detector),
        "critical_path_ms": statistics.median(r["critical_ms"] for r in with_detector),
        "overhead_ms": statistics.median(overhead),
        "overhead_p95_ms": percentile(overhead, 0.95),
        "overhead_no_detector_ms": statistics.median(r["overhead_ms"] for r in without),
        "enqueue_to_start_ms": statistics.median(enqueue),
        "enqueue_to_start_p95_ms": percentile(enqueue, 0.95),
        "redis_ping_ms": ping,
        "enqueue_to_start_minus_ping_ms": statistics.median(enqueue) - ping,
        "llama_critical_path_ms": statistics.median(r["critical_ms"] for r in llama),
        "llama_overhead_ms": statistics.median(r["overhead_ms"] for r in llama),
    }
    for name, value in figures.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
