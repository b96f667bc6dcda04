"""Input rules shared by every app, so two apps never accept different things for the same field."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from core.errors import InputError

URL_MAX = 2048
_BARE_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+(?::\d{1,5})?(?:[/?#]|$)")


def web_url(value: object, *, field: str = "url", error: type[InputError] = InputError) -> str:
    """A web page's address as people type it: trimmed, `https://` added to a bare `example.com/page`,
    http(s) with a host only. Raises `error` (an InputError subclass of the caller's app) naming `field`."""
    if not isinstance(value, str) or not value.strip():
        raise error(f"{field}: give the address of a page, e.g. https://example.com/", field=field)
    url = value.strip()
    if len(url) > URL_MAX:
        raise error(f"{field}: at most {URL_MAX} characters", field=field)
    if "://" not in url and _BARE_HOST.match(url):
        url = f"https://{url}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        raise error(f"{field}: {url!r} is not a web address (e.g. https://example.com/)", field=field) from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise error(f"{field}: {url!r} is not a web address (e.g. https://example.com/)", field=field)
    if scheme not in ("http", "https"):
        raise error(
            f"{field}: {scheme}: addresses cannot be fetched; only http:// and https:// web pages "
            "(e.g. https://example.com/)",
            field=field,
        )
    if not parts.hostname:
        raise error(f"{field}: {url!r} names no host (e.g. https://example.com/)", field=field)
    return url


MODEL_ID_MAX = 200  # every model column is a CharField(max_length=200)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def model_id(value: object, *, field: str = "model", error: type[InputError] = InputError) -> str:
    """A model's id as a backend lists it (`qwen2.5-7b-instruct`, `llama3:8b`, `org/Model-GGUF`): a
    non-empty string of at most MODEL_ID_MAX characters without control characters, trimmed. Whether a
    backend serves it is the gateway's to say (its 'unknown model' error lists the ones it has)."""
    if not isinstance(value, str) or not value.strip():
        raise error(f"{field}: name a model, e.g. one listed on the Models page", field=field)
    value = value.strip()
    if len(value) > MODEL_ID_MAX or _CONTROL.search(value):
        raise error(f"{field}: a model id of at most {MODEL_ID_MAX} printable characters", field=field)
    return value
