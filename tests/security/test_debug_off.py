"""`make run` serves with DEBUG off: a 500 shows a friendly page (no traceback, no settings), an anonymous
404 lists no URL patterns, and static files, the SECRET_KEY and ALLOWED_HOSTS still work without DEBUG."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import psutil
import pytest
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.template import loader
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from core import embedded
from tests.fixtures.stack import ROOT, wait_until

DEBUG_PAGE_MARKS = [
    "Traceback",
    "Django tried these URL patterns",
    "URLconf",
    "DEBUG = True",
    "SECRET_KEY",
    "INSTALLED_APPS",
    "Request information",
]


class Boom(Exception):
    pass


@login_not_required
def boom(request):
    raise Boom(f"the database password is {settings.SECRET_KEY}")


urlpatterns = [path("boom/", boom), path("", include("orchestrator_site.urls"))]


def assert_no_debug_page(text: str) -> None:
    for mark in DEBUG_PAGE_MARKS:
        assert mark not in text, mark


class MakeRun:
    """`make run` as a newcomer types it (the venv and the assets it would build are already there)."""

    def __init__(self, env: dict[str, str]):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["make", "-o", "venv", "-o", "assets", "run"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        """Ctrl-C, as in the terminal: to make's whole process group."""
        if self.proc.poll() is None:
            children = psutil.Process(self.proc.pid).children(recursive=True)
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
            _, alive = psutil.wait_procs(children, timeout=30)
            for proc in alive:
                proc.kill()


@pytest.mark.timeout(400)
def test_make_run_serves_with_debug_off(tmp_path, llm_url):
    drop = {
        "DEBUG",
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "STATIC_FROM_SOURCE",
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    port = embedded.free_port()
    data = tmp_path / "data"
    env.update(
        ORCH_DATA_DIR=str(data),
        PORT=str(port),
        ORCH_ADMIN_PASSWORD="make-run-test-password",
        LLM_BACKENDS=f"testllm:llamacpp={llm_url}",  # a backend that answers: no embedded model to start
        CELERY_CONCURRENCY="1",
    )
    run = MakeRun(env)
    try:
        try:
            wait_until(lambda: "is running at" in run.output, timeout=300, what="make run ready", proc=run.proc)
        except (TimeoutError, RuntimeError) as exc:
            raise AssertionError(f"{exc}\n--- output ---\n{run.output[-4000:]}") from None
        base = f"http://127.0.0.1:{port}"

        missing = httpx.get(f"{base}/no-such-page/", timeout=10)
        assert missing.status_code == 404
        assert "Page not found" in missing.text
        assert_no_debug_page(missing.text)

        login = httpx.get(f"{base}/accounts/login/", timeout=10)
        assert login.status_code == 200
        css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', login.text)
        assert css, "DEBUG off serves collected, hashed static files"
        stylesheet = httpx.get(f"{base}{css.group(1)}", timeout=10)
        assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith("text/css")
        assert httpx.get(f"http://localhost:{port}/accounts/login/", timeout=10).status_code == 200
        assert httpx.get(f"{base}/accounts/login/", headers={"Host": "evil.example"}, timeout=10).status_code == 400

        key_file = Path(data) / "secret_key"
        assert key_file.exists() and len(key_file.read_text()) >= 50
    finally:
        run.stop()


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_a_500_shows_the_friendly_page_and_no_traceback_or_settings(settings, alice):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get("/boom/")
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text
    assert_no_debug_page(text)
    assert settings.SECRET_KEY not in text and "Boom" not in text


@pytest.mark.django_db
def test_an_anonymous_404_lists_no_url_patterns(settings):
    settings.DEBUG = False
    response = Client().get("/admin-backup/.env")
    assert response.status_code == 404
    text = response.content.decode()
    assert "Page not found" in text
    assert_no_debug_page(text)
    for pattern in ("orchestration/", "v1/chat/completions", "metrics"):
        assert pattern not in text


@pytest.mark.django_db
def test_the_500_page_needs_no_request_context_processors_or_database():
    """Django renders 500.html without a request; whatever failed (the database, a context processor), it shows."""
    with CaptureQueriesContext(connection) as queries:
        html = loader.get_template("500.html").render()
    assert len(queries) == 0
    assert "Something went wrong on our side" in html and 'href="/"' in html
