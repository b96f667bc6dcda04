"""Shared fixtures. The real servers (llama.cpp, MariaDB, Redis) are started by tests/stack.py
before pytest runs; the fixtures here start the project's own processes (daphne, a Celery
worker) against the test database, and create the usual users: alice, bob and a staff member.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore

from core import embedded

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the suite with `make test` (python -m tests.stack)")
    return value


async def make_user(name: str):
    return await get_user_model().objects.acreate_user(name, f"{name}@example.com", "pw-for-tests-123")


async def session_cookie_for(user) -> str:
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    await store.acreate()
    return f"sessionid={store.session_key}"


@pytest.fixture(scope="session")
def llm_url() -> str:
    return require_env("ORCH_TEST_LLM_URL")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("ORCH_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("charlie", "charlie@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture(scope="session")
def subprocess_env(django_db_setup) -> dict[str, str]:
    """Environment for project processes started by tests: the same settings, the test database."""
    from django.db import connection

    env = dict(os.environ)
    # Browser jobs in these processes may fetch the pages tests serve on 127.0.0.1 (and nothing
    # else private); in-process SSRF tests run with the allow-list off.
    env["BROWSER_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"mysql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return env


def wait_until(predicate, *, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} within {timeout} s")


@pytest.fixture(scope="session")
def celery_worker(subprocess_env):
    """A real Celery worker (solo pool) on the pass's Redis, for task round trips."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "orchestrator_site", "worker", "--pool", "solo", "-l", "warning",
         "-n", f"test-{os.getpid()}@%h", "-Q", "celery,browser,orchestration"],
        env=subprocess_env, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    from orchestrator_site.celery import app

    def answers() -> bool:
        return bool(app.control.ping(timeout=0.5))

    wait_until(answers, timeout=60, what="Celery worker answering ping", proc=proc)
    yield proc
    embedded.process_stop(proc)


def daphne_start(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = embedded.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "orchestrator_site.asgi:application"],
        env=env, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/accounts/login/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=60, what="daphne serving", proc=proc)
    return proc, url


@pytest.fixture(scope="session")
def daphne_url(subprocess_env) -> str:
    """The app served by a real daphne process (HTTP and /ws) on the test database."""
    proc, url = daphne_start(subprocess_env)
    yield url
    embedded.process_stop(proc)


@pytest.fixture
def daphne_factory(subprocess_env):
    """Extra daphne processes for one test (a second server, or one the test stops)."""
    started: list[subprocess.Popen] = []

    def start() -> tuple[subprocess.Popen, str]:
        proc, url = daphne_start(subprocess_env)
        started.append(proc)
        return proc, url

    yield start
    for proc in started:
        embedded.process_stop(proc)
