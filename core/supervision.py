"""`serve`'s children as services: one that exits unexpectedly is restarted with backoff, and given up on
after a few quick crashes while the rest keeps running (a model server that segfaults must never take the
web app down with it).

Each service's state is written to `<data>/run/<name>.json`, so the web processes can say on /healthz, the
Models page and the monitor why an embedded model server is down, and chat can say what to do.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from core import embedded

# A crash this soon after the service was up counts as "quick"; QUICK_CRASHES_MAX of them in a row: give up.
QUICK_S = 60.0
QUICK_CRASHES_MAX = 5
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0


@dataclass
class Service:
    """A child process `serve` keeps running. `spawn` starts it; `ready(proc, cancelled)` waits until it
    serves (raising when it cannot); `backend` names the LLM backend it is, when it is one."""

    name: str
    spawn: Callable[[], subprocess.Popen]
    ready: Callable[[subprocess.Popen, Callable[[], bool]], None] | None = None
    backend: str = ""
    log: str = ""  # where its own log is, for messages
    proc: subprocess.Popen | None = None
    state: str = "starting"  # starting | running | restarting | gave_up | stopped
    up_since: float = 0.0
    restarts: int = 0
    quick_crashes: int = 0
    last_exit: str = ""
    last_exit_at: float = 0.0
    retry_at: float = 0.0
    history: list[str] = field(default_factory=list)


class Supervisor:
    """Starts services, watches them (call poll() often), restarts the dead, stops all in order."""

    def __init__(
        self,
        run_dir: Path,
        say: Callable[[str], None],
        *,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        quick_crashes_max: int = QUICK_CRASHES_MAX,
        quick_s: float = QUICK_S,
    ) -> None:
        self.run_dir = run_dir
        self.say = say
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.quick_crashes_max = quick_crashes_max
        self.quick_s = quick_s
        self.services: list[Service] = []
        self.stopping = False
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []

    # --- starting ---
    def start(self, service: Service) -> bool:
        """Start a service now and wait until it is ready. False (and a restart scheduled) when it failed."""
        with self._lock:
            if service not in self.services:
                self.services.append(service)
        return self._launch(service)

    def _launch(self, service: Service) -> bool:
        try:
            proc = service.spawn()
        except Exception as exc:  # noqa: BLE001 - a service that cannot even be spawned is a crash, reported
            self._crashed(service, f"could not start ({exc})")
            return False
        with self._lock:
            service.proc = proc
            service.state = "starting"
            self._pid_file_write(service)
            self._status_write(service)
            if self.stopping:
                return False
        if service.ready is not None:
            try:
                service.ready(proc, lambda: self.stopping)
            except Exception as exc:  # noqa: BLE001 - whatever kept it from serving, it is reported and retried
                if proc.poll() is None:
                    embedded.process_stop(proc)
                self._crashed(service, str(exc))
                return False
        with self._lock:
            if self.stopping:
                return False
            if proc.poll() is not None:  # died just as it became ready
                self._crashed(service, embedded.exit_describe(proc.returncode))
                return False
            service.state = "running"
            service.up_since = time.monotonic()
            self._status_write(service)
        return True

    # --- watching ---
    def poll(self) -> None:
        """Notice dead children and schedule their restart; start the ones whose backoff has passed."""
        now = time.monotonic()
        with self._lock:
            for service in self.services:
                if self.stopping:
                    return
                proc = service.proc
                if service.state == "running" and proc is not None and proc.poll() is not None:
                    self._crashed(service, embedded.exit_describe(proc.returncode))
                elif service.state == "restarting" and now >= service.retry_at:
                    service.state = "starting"
                    thread = threading.Thread(target=self._launch, args=(service,), daemon=True)
                    self._threads.append(thread)
                    thread.start()
            self._threads = [t for t in self._threads if t.is_alive()]

    def _crashed(self, service: Service, reason: str) -> None:
        with self._lock:
            if self.stopping:
                return
            now = time.monotonic()
            quick = service.state != "running" or now - service.up_since < self.quick_s
            service.quick_crashes = service.quick_crashes + 1 if quick else 1
            service.last_exit = reason
            service.last_exit_at = time.time()
            service.history = [*service.history[-9:], reason]
            if service.quick_crashes >= self.quick_crashes_max:
                service.state = "gave_up"
                self.say(
                    f"· {service.name} {reason}; it crashed {service.quick_crashes} times in a row, so it is given up "
                    f"on (the rest keeps running){f'; see {service.log}' if service.log else ''}. Ctrl-C and "
                    "`make run` again to retry."
                )
            else:
                delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (service.quick_crashes - 1))
                service.state = "restarting"
                service.retry_at = now + delay
                service.restarts += 1
                self.say(f"· {service.name} {reason}; restarting it in {delay:g} s (restart {service.restarts})")
            self._status_write(service)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    # --- stopping ---
    def stop_all(self, order: dict[str, int], timeouts: dict[str, float]) -> None:
        with self._lock:
            self.stopping = True
        for thread in self._threads:
            thread.join(timeout=15)
        for service in sorted(self.services, key=lambda s: order.get(s.name, 9)):
            if service.proc is not None:
                embedded.process_stop(service.proc, timeout=timeouts.get(service.name, 10))
            service.state = "stopped"
            (self.run_dir / f"{service.name}.pid").unlink(missing_ok=True)
            (self.run_dir / f"{service.name}.json").unlink(missing_ok=True)
        self.services = []

    # --- files ---
    def _pid_file_write(self, service: Service) -> None:
        try:
            created = psutil.Process(service.proc.pid).create_time()
        except psutil.Error:
            return
        (self.run_dir / f"{service.name}.pid").write_text(f"{service.proc.pid} {created}\n")

    def _status_write(self, service: Service) -> None:
        status = {
            "name": service.name,
            "backend": service.backend,
            "state": service.state,
            "pid": service.proc.pid if service.proc is not None else None,
            "restarts": service.restarts,
            "quick_crashes": service.quick_crashes,
            "last_exit": service.last_exit,
            "last_exit_at": service.last_exit_at or None,
            "log": service.log,
            "updated_at": time.time(),
        }
        target = self.run_dir / f"{service.name}.json"
        partial = target.with_suffix(".json.partial")
        partial.write_text(json.dumps(status))
        os.replace(partial, target)


# --- what the web processes read ---
def services_status(run_dir: Path) -> list[dict]:
    """Every supervised service's last written state (empty when the app is not run by `serve`)."""
    found = []
    for path in sorted(run_dir.glob("*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return found


def backend_service_status(backend: str, run_dir: Path | None = None) -> dict | None:
    """The supervised service that is the LLM backend `backend` (an embedded model server), if any."""
    if run_dir is None:
        from django.conf import settings

        run_dir = settings.DATA_DIR / "run"
    return next((s for s in services_status(run_dir) if s.get("backend") == backend), None)


def backend_down_reason(backend: str, run_dir: Path | None = None, *, detail: bool = True) -> str:
    """Why an embedded model server is not serving, in words a user can act on; '' when nothing is known.
    `detail` adds where its log is (for staff and the console, not for every signed-in user)."""
    status = backend_service_status(backend, run_dir)
    if not status or status.get("state") == "running" or not status.get("last_exit"):
        return ""
    where = f"; its log is {status['log']}" if detail and status.get("log") else ""
    if status.get("state") == "gave_up":
        return (
            f"the embedded model server {status['last_exit']} and was given up on after "
            f"{status.get('quick_crashes')} crashes in a row{where}. Restart the app (Ctrl-C, then make run), "
            "or point LLM_BACKENDS at LM Studio or another model server."
        )
    return f"the embedded model server {status['last_exit']} and is being restarted (try again in a few seconds){where}"


def services_public(run_dir: Path | None = None) -> list[dict]:
    """What /healthz says of each supervised service: its state, restarts and last exit (no paths, no pids)."""
    if run_dir is None:
        from django.conf import settings

        run_dir = settings.DATA_DIR / "run"
    keep = ("name", "backend", "state", "restarts", "last_exit")
    return [{k: s.get(k) for k in keep} for s in services_status(run_dir)]
