"""A real `manage.py serve` run for the tests, its output collected line by line."""

from __future__ import annotations

import subprocess
import sys
import threading

import psutil

from tests.fixtures.stack import ROOT, wait_until


class Run:
    def __init__(self, env: dict[str, str], port: int):
        self.port = port
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            env={**env, "PORT": str(port)},  # as `PORT=8080 make run` sets it
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> None:
        try:
            wait_until(lambda: "is running at" in self.output, timeout=180, what="serve ready", proc=self.proc)
        except (TimeoutError, RuntimeError) as exc:
            raise AssertionError(f"{exc}\n--- output ---\n{self.output[-4000:]}") from None

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)


def gone(procs: list[psutil.Process]) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(procs, timeout=30)
    return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
