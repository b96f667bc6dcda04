"""Starting browser jobs: everything that can be checked before a job is queued is checked here,
so a bad URL, option or script is a 400 naming the problem, not a failed job later."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from core import jobs
from core.models import Job

URL_MAX = 2048


class BrowserInputError(ValueError):
    """The request cannot become a job; the message says what to fix."""


_BARE_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+(?::\d{1,5})?(?:[/?#]|$)")


def _url(url) -> str:
    if not isinstance(url, str) or not url.strip():
        raise BrowserInputError("url: give the address of a page, e.g. https://example.com/")
    url = url.strip()
    if len(url) > URL_MAX:
        raise BrowserInputError(f"url: at most {URL_MAX} characters")
    if "://" not in url and _BARE_HOST.match(url):
        url = f"https://{url}"  # "example.com/page", as people type it into a browser
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        scheme = urlsplit(url).scheme.lower()
        raise BrowserInputError(
            f"url: {scheme}: addresses cannot be fetched; only http:// and https:// web pages (e.g. https://example.com/)"
        )
    return url


def _options(options, validate) -> dict:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise BrowserInputError("options: must be an object")
    try:
        validate(options)
    except ValueError as exc:
        raise BrowserInputError(str(exc)) from None
    return options


def scrape_start(*, user, url, options=None, idempotency_key: str | None = None) -> Job:
    from browser.options import validate_options

    url = _url(url)
    options = _options(options, validate_options)
    return jobs.job_create(
        user=user, kind="browser.scrape", title=f"Scrape {url}"[:300], params={"url": url, "options": options},
        idempotency_key=idempotency_key,
    )  # fmt: skip


def automate_start(*, user, steps, options=None, title: str = "", idempotency_key: str | None = None) -> Job:
    from browser.automate import validate_automation_options, validate_script

    if not isinstance(steps, list) or not steps:
        raise BrowserInputError('steps: give a list of steps, e.g. [{"action": "goto", "url": "https://…"}]')
    try:
        validate_script(steps)
    except ValueError as exc:
        raise BrowserInputError(str(exc)) from None
    options = _options(options, validate_automation_options)
    first = next((s.get("url") for s in steps if s.get("action") == "goto"), "")
    title = (title or f"Automate {first or 'a page'} ({len(steps)} steps)")[:300]
    return jobs.job_create(
        user=user, kind="browser.automate", title=title, params={"steps": steps, "options": options},
        idempotency_key=idempotency_key,
    )  # fmt: skip
