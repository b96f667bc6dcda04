"""What the /ws benchmarks share: a throwaway app (SQLite + embedded Redis), the scripted
OpenAI-compatible server in its own process, and a real daphne, all on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stack:
    workdir: Path
    procs: list = field(default_factory=list)
    fake_url: str = ""
    url: str = ""  # ws://…/ws
    port: int = 0
    token: str = ""
    daphne: subprocess.Popen | None = None


@contextmanager
def app_stack(*, env_extra: dict[str, str] | None = None, tokens_per_s: int = 500, answer_tokens: int = 200):
    """Yield a Stack with daphne serving the app and a user's API token; stop everything after."""
    workdir = Path(tempfile.mkdtemp(prefix="orch-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env.update(
        ORCH_DATA_DIR=str(workdir / "data"),
        SECRET_KEY="bench",
        DJANGO_SETTINGS_MODULE="orchestrator_site.settings",
        LLM_BACKENDS="",
        LOG_LEVEL="WARNING",
        STATIC_FROM_SOURCE="true",
        WS_MESSAGES_PER_MINUTE="1000000",
        WS_CHAT_SENDS_PER_MINUTE="1000000",
        **(env_extra or {}),
    )
    os.environ.update(env)
    for key in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(key, None)
    sys.path.insert(0, str(ROOT))
    from core import embedded
    from orchestrator_site.env import embedded_redis_socket

    socket_path = embedded_redis_socket(workdir / "data")
    stack = Stack(workdir=workdir)
    stack.procs.append(embedded.redis_server_start(socket_path=socket_path, workdir=socket_path.parent))
    try:
        import django

        django.setup()
        import httpx
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from core.services import api_token_create
        from llm.models import Backend

        call_command("migrate", verbosity=0)
        fake_port = embedded.free_port()
        stack.procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.fakes.openai_server",
                    "--port",
                    str(fake_port),
                    "--tokens-per-s",
                    str(tokens_per_s),
                    "--answer-tokens",
                    str(answer_tokens),
                ],
                cwd=ROOT,
                start_new_session=True,
            )
        )
        stack.fake_url = f"http://127.0.0.1:{fake_port}/v1"
        deadline = time.monotonic() + 30
        while not embedded.backend_answers(stack.fake_url, timeout=1) and time.monotonic() < deadline:
            time.sleep(0.1)
        Backend.objects.create(name="scripted", base_url=stack.fake_url, kind="openai", max_concurrency=64)
        user = get_user_model().objects.create_user("bench", "bench@example.com", "x")
        stack.token = api_token_create(user=user, name="bench").secret
        stack.port = embedded.free_port()
        # BENCH_PROFILE=out.txt records daphne with py-spy (collapsed stacks) for the whole run.
        profile = os.environ.get("BENCH_PROFILE")
        spy = [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "200", "-f", "raw", "-o", profile, "--"]
        stack.daphne = subprocess.Popen(
            [
                *(spy if profile else []),
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(stack.port),
                "orchestrator_site.asgi:application",
            ],
            env=os.environ.copy(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "daphne.log").open("wb"),
            start_new_session=True,
        )
        stack.procs.append(stack.daphne)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{stack.port}/accounts/login/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        stack.url = f"ws://127.0.0.1:{stack.port}/ws"
        yield stack
    except BaseException:
        log = workdir / "daphne.log"
        if log.exists():
            print(log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for proc in reversed(stack.procs):
            embedded.process_stop(proc)
