"""Validation of job options, shared by scrape and automate: checked before a browser is touched, each error
names the option and says what would be accepted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from browser.errors import OptionError

WAIT_UNTIL = ("load", "domcontentloaded", "networkidle")
VIEWPORT_WIDTH = (200, 3840)
VIEWPORT_HEIGHT = (200, 4320)
MIN_MAX_BYTES = 1024
SELECTOR_MAX_CHARS = 1000


@dataclass(frozen=True)
class Options:
    wait_until: str
    viewport: dict[str, int]
    javascript: bool
    max_bytes: int
    timeout_s: float
    wait_for_selector: str | None = None
    screenshot: bool = False
    pdf: bool = False


COMMON = ("wait_until", "viewport", "javascript", "max_bytes", "timeout_s")
SCRAPE = (*COMMON, "wait_for_selector", "screenshot", "pdf")
AUTOMATE = COMMON


def validate_options(options: dict[str, Any] | None, *, allowed: tuple[str, ...] = SCRAPE) -> Options:
    """Options with defaults filled in; OptionError for an unknown option or a bad value."""
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise OptionError(f"options must be an object, not {type(options).__name__}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise OptionError(f'unknown option "{unknown[0]}"; the options are: {", ".join(sorted(allowed))}')
    max_timeout = settings.BROWSER_MAX_JOB_TIMEOUT_S
    max_bytes_cap = settings.BROWSER_MAX_BYTES

    wait_until = options.get("wait_until", "load")
    if wait_until not in WAIT_UNTIL:
        raise OptionError(f'option "wait_until" must be one of {", ".join(WAIT_UNTIL)}, not {wait_until!r}')
    javascript = _bool(options, "javascript", True)
    viewport = _viewport(options.get("viewport"))
    max_bytes = _number(options, "max_bytes", max_bytes_cap, low=MIN_MAX_BYTES, high=max_bytes_cap, integer=True)
    timeout_s = _number(options, "timeout_s", settings.BROWSER_JOB_TIMEOUT_S, low=1, high=max_timeout)
    selector = options.get("wait_for_selector")
    if selector is not None and (not isinstance(selector, str) or not selector.strip()):
        raise OptionError('option "wait_for_selector" must be a non-empty CSS selector string')
    if selector is not None and len(selector) > SELECTOR_MAX_CHARS:
        raise OptionError(f'option "wait_for_selector" is longer than {SELECTOR_MAX_CHARS} characters')
    return Options(
        wait_until=wait_until,
        viewport=viewport,
        javascript=javascript,
        max_bytes=int(max_bytes),
        timeout_s=float(timeout_s),
        wait_for_selector=selector,
        screenshot=_bool(options, "screenshot", False),
        pdf=_bool(options, "pdf", False),
    )


def _bool(options: dict[str, Any], name: str, default: bool) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise OptionError(f'option "{name}" must be true or false, not {value!r}')
    return value


def _number(
    options: dict[str, Any], name: str, default: float, *, low: float, high: float, integer: bool = False
) -> float:
    value = options.get(name, default)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise OptionError(f'option "{name}" must be {kind} from {low:g} to {high:g}, not {value!r}')
    return value


def _viewport(value: Any) -> dict[str, int]:
    if value is None:
        return {"width": 1280, "height": 800}
    if not isinstance(value, dict) or set(value) != {"width", "height"}:
        raise OptionError('option "viewport" must be an object with exactly "width" and "height"')
    for key, (low, high) in (("width", VIEWPORT_WIDTH), ("height", VIEWPORT_HEIGHT)):
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise OptionError(f'option "viewport": {key} must be an integer from {low} to {high}, not {number!r}')
    return {"width": value["width"], "height": value["height"]}
