"""Starting browser jobs: everything that can be checked before a job is queued is checked here,
so a bad URL, option or script is a 400 naming the problem, not a failed job later."""

from __future__ import annotations

from core import jobs
from core.errors import InputError
from core.models import Job
from core.validation import web_url


class BrowserInputError(InputError):
    """The request cannot become a job; the message says what to fix."""


def url_check(url: object) -> str:
    """The browser's URL rule is the app's one rule (core.validation.web_url)."""
    return web_url(url, error=BrowserInputError)


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

    url = url_check(url)
    options = _options(options, validate_options)
    return jobs.job_create(
        user=user,
        kind="browser.scrape",
        title=f"Scrape {url}"[:300],
        params={"url": url, "options": options},
        idempotency_key=idempotency_key,
    )


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
        user=user,
        kind="browser.automate",
        title=title,
        params={"steps": steps, "options": options},
        idempotency_key=idempotency_key,
    )
