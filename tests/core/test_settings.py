"""Settings come from the environment, one code path: the embedded default and production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from orchestrator_site.env import parse_llm_backends, redis_urls

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "options": db.get("OPTIONS", {}),
    "redis": settings.REDIS_CLIENT_URL, "broker": settings.CELERY_BROKER_URL,
    "layer": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"],
    "cache": settings.CACHES["default"]["LOCATION"], "embedded_redis": settings.EMBEDDED_REDIS,
    "secret": settings.SECRET_KEY, "hosts": settings.ALLOWED_HOSTS,
    "backends": [[b.name, b.kind, b.url] for b in settings.LLM_BACKENDS],
}))
"""


def settings_for(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    clean.update({"ORCH_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings"})
    clean.update(env)
    return subprocess.run([sys.executable, "-c", PROBE], env=clean, cwd=ROOT, capture_output=True, text=True)


def probe(tmp_path: Path, **env: str) -> dict:
    done = settings_for(tmp_path, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_default_is_sqlite_wal_and_embedded_redis_in_the_data_folder(tmp_path):
    got = probe(tmp_path, SECRET_KEY="k")
    data = tmp_path / "data"
    assert got["engine"] == "django.db.backends.sqlite3"
    assert got["name"] == str(data / "db.sqlite3")
    assert "journal_mode=WAL" in got["options"]["init_command"]
    assert got["embedded_redis"] is True
    socket = data / "redis" / "redis.sock"
    assert got["redis"] == f"unix://{socket}"
    assert got["layer"] == got["cache"] == got["redis"]
    assert got["broker"] == f"redis+socket://{socket}"


def test_database_url_switches_to_mysql_with_utf8mb4_and_strict_mode(tmp_path):
    got = probe(tmp_path, SECRET_KEY="k", DATABASE_URL="mysql://u:p@db.internal:3306/orch")
    assert got["engine"] == "django.db.backends.mysql"
    assert got["name"] == "orch"
    assert got["options"]["charset"] == "utf8mb4"
    assert "STRICT_TRANS_TABLES" in got["options"]["init_command"]


def test_redis_url_feeds_channel_layer_broker_and_cache_alike(tmp_path):
    got = probe(tmp_path, SECRET_KEY="k", REDIS_URL="redis://10.1.2.3:6380/2")
    assert got["embedded_redis"] is False
    assert got["redis"] == got["broker"] == got["layer"] == got["cache"] == "redis://10.1.2.3:6380/2"


def test_secret_key_is_generated_once_and_kept_when_debug(tmp_path):
    first = probe(tmp_path, DEBUG="true")
    second = probe(tmp_path, DEBUG="true")
    key_file = tmp_path / "data" / "secret_key"
    assert len(first["secret"]) >= 50
    assert first["secret"] == second["secret"] == key_file.read_text()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_secret_key_is_generated_on_the_embedded_default_with_debug_off_too(tmp_path):
    """`make run` runs with DEBUG off: on one machine the data folder's key is shared by every process."""
    first = probe(tmp_path, DEBUG="false")
    assert len(first["secret"]) >= 50
    assert first["secret"] == probe(tmp_path)["secret"] == (tmp_path / "data" / "secret_key").read_text()


def test_secret_key_is_required_on_a_server_database_with_debug_off(tmp_path):
    """With DATABASE_URL the deployment may span machines: each generating its own key would not do."""
    done = settings_for(tmp_path, DEBUG="false", DATABASE_URL="mysql://u:p@db.internal:3306/orch")
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr
    assert not (tmp_path / "data" / "secret_key").exists()


def test_allowed_hosts_and_llm_backends_come_from_the_environment(tmp_path):
    got = probe(
        tmp_path,
        SECRET_KEY="k",
        ALLOWED_HOSTS="orch.example.com, 10.0.0.5",
        LLM_BACKENDS="studio:lmstudio=http://10.0.0.5:1234/v1/, ollama:ollama=http://127.0.0.1:11434/v1",
    )
    assert got["hosts"] == ["orch.example.com", "10.0.0.5"]
    assert got["backends"] == [
        ["studio", "lmstudio", "http://10.0.0.5:1234/v1"],
        ["ollama", "ollama", "http://127.0.0.1:11434/v1"],
    ]


def test_bad_values_get_errors_that_name_the_problem(tmp_path):
    done = settings_for(tmp_path, SECRET_KEY="k", LLM_BACKENDS="x:vllm=http://h/v1")
    assert "kind 'vllm' is not one of" in done.stderr
    done = settings_for(tmp_path, SECRET_KEY="k", REDIS_URL="memcached://h")
    assert "REDIS_URL='memcached://h'" in done.stderr
    done = settings_for(tmp_path, SECRET_KEY="k", DEBUG="maybe")
    assert "DEBUG='maybe' is not a boolean" in done.stderr


def test_parse_llm_backends_accepts_bare_urls_and_semicolons():
    specs = parse_llm_backends("http://a:1/v1; b=http://b:2/v1")
    assert [(s.name, s.kind, s.url) for s in specs] == [
        ("backend1", "openai", "http://a:1/v1"),
        ("b", "openai", "http://b:2/v1"),
    ]
    with pytest.raises(ValueError, match="is not an http"):
        parse_llm_backends("a=ftp://x")


def test_redis_urls_translate_unix_sockets_for_celery():
    urls = redis_urls("unix:///run/r.sock?db=1")
    assert urls.redis == "unix:///run/r.sock?db=1"
    assert urls.celery == "redis+socket:///run/r.sock?db=1"
    assert urls.socket_path == "/run/r.sock"


@pytest.mark.django_db
def test_this_pass_really_runs_on_its_stack():
    """Pass 1 is SQLite in WAL mode; pass 2 is MariaDB in strict mode with utf8mb4."""
    stack = os.environ.get("ORCH_TEST_STACK")
    with connection.cursor() as cursor:
        if stack == "embedded":
            assert connection.vendor == "sqlite"
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
        else:
            assert stack == "server"
            assert connection.vendor == "mysql"
            cursor.execute("SELECT @@SESSION.sql_mode, @@character_set_connection")
            sql_mode, charset = cursor.fetchone()
            assert "STRICT_TRANS_TABLES" in sql_mode
            assert charset == "utf8mb4"


def test_manage_py_works_on_the_embedded_default_without_any_variable(tmp_path):
    """A newcomer's `manage.py create_api_token …` next to `make run` needs no SECRET_KEY."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    env["ORCH_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "secret_key").exists()
