"""`manage.py check` is clean and every model change has its migration."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fixtures.stack import ROOT


def manage(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ORCH_DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "manage.py", *args], env=env, cwd=ROOT, capture_output=True, text=True)


def test_system_checks_pass(tmp_path):
    done = manage("check", "--fail-level", "WARNING", tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_model_change_lacks_a_migration(tmp_path):
    done = manage("makemigrations", "--check", "--dry-run", tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
