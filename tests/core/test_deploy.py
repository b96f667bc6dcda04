"""docs/deploy.md's production variables pass `manage.py check --deploy` without a single issue."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fixtures.stack import ROOT


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    env.update(
        DEBUG="false",
        SECRET_KEY="x7Gq2-example-production-key-with-plenty-of-entropy-9fKd0LmZpQ4rT8vW",
        ALLOWED_HOSTS="orch.example.com",
        CSRF_TRUSTED_ORIGINS="https://orch.example.com",
        DATABASE_URL="mysql://orch:pw@db.internal:3306/orchestrator",
        REDIS_URL="redis://redis.internal:6379/0",
        ORCH_DATA_DIR=str(tmp_path),
        STATIC_FROM_SOURCE="false",
        BEHIND_HTTPS_PROXY="true",
        SECURE_COOKIES="true",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_PRELOAD="true",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
