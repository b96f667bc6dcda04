"""Small helpers that read settings from the environment (healthchecks' envbool/envint)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use true/false")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def envfloat(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def envlist(name: str, default: str = "") -> list[str]:
    raw = os.environ.get(name) or default
    return [part.strip() for part in raw.split(",") if part.strip()]


def data_dir() -> Path:
    """The folder for everything the embedded default keeps (SQLite, Redis socket, keys, models)."""
    base = Path(__file__).resolve().parent.parent
    path = Path(os.environ.get("ORCH_DATA_DIR") or base / "data").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(folder: Path, *, one_machine: bool) -> str:
    """SECRET_KEY from the environment; on one machine (the embedded default, DEBUG or not), generated once
    and kept in the data folder, which every process there shares. A deployment on a server database must
    set it: every web and worker machine needs the same key."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    if not one_machine:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DATABASE_URL set (a deployment that may span machines) and DEBUG off, "
            "the key must come from the environment: set SECRET_KEY to a long random string "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    key_file = folder / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def embedded_redis_socket(folder: Path) -> Path:
    return folder / "redis" / "redis.sock"


@dataclass(frozen=True)
class RedisUrls:
    """One Redis, addressed the way each client wants it (redis-py, Celery/kombu)."""

    redis: str  # redis-py / channels-redis / Django cache
    celery: str  # kombu broker and Celery result backend
    socket_path: str | None  # set when the server is on a Unix socket


def redis_urls(url: str) -> RedisUrls:
    parts = urlsplit(url)
    if parts.scheme in {"unix", "redis+socket", "socket"}:
        query = f"?{parts.query}" if parts.query else ""
        return RedisUrls(
            redis=f"unix://{parts.path}{query}",
            celery=f"redis+socket://{parts.path}{query}",
            socket_path=parts.path,
        )
    if parts.scheme in {"redis", "rediss"}:
        return RedisUrls(redis=url, celery=url, socket_path=None)
    raise ValueError(f"REDIS_URL={url!r}: use redis://host:port/db, rediss://… or unix:///path.sock")


@dataclass(frozen=True)
class BackendSpec:
    name: str
    kind: str
    url: str


BACKEND_KINDS = ("lmstudio", "ollama", "llamacpp", "openai")


def parse_llm_backends(raw: str) -> list[BackendSpec]:
    """`name[:kind]=url` entries separated by commas or semicolons; a bare URL is allowed too."""
    specs: list[BackendSpec] = []
    for index, entry in enumerate(p.strip() for p in raw.replace(";", ",").split(",")):
        if not entry:
            continue
        left, sep, url = entry.partition("=")
        if not sep:
            left, url = f"backend{index + 1}", entry
        name, _, kind = left.strip().partition(":")
        kind = kind.strip() or "openai"
        url = url.strip().rstrip("/")
        if kind not in BACKEND_KINDS:
            raise ValueError(f"LLM_BACKENDS entry {entry!r}: kind {kind!r} is not one of {', '.join(BACKEND_KINDS)}")
        if urlsplit(url).scheme not in {"http", "https"}:
            raise ValueError(f"LLM_BACKENDS entry {entry!r}: {url!r} is not an http(s) URL")
        specs.append(BackendSpec(name=name.strip(), kind=kind, url=url))
    return specs
