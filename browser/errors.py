"""The errors of the browser service. Each message is written for the person who started the job:
it says what happened and, where there is one, what to do about it."""

from __future__ import annotations


class BrowserError(Exception):
    """A browser job failed; `str(error)` is the message to show. `retryable` tells the job runner
    whether the same job may succeed if it is simply run again."""

    retryable = False


class OptionError(BrowserError, ValueError):
    """An option of a scrape or automation job is unknown or has a bad value (names the option)."""


class ScriptError(BrowserError, ValueError):
    """An automation script is malformed: names the step number and action, checked before anything runs."""


class Refused(BrowserError):
    """A URL points somewhere the browser must not go (not http/https, or a non-public address)."""

    def __init__(self, url: str, reason: str, *, message: str | None = None) -> None:
        self.url = url
        self.reason = reason
        super().__init__(message or reason)


class ResolveError(BrowserError):
    """A host name could not be resolved (DNS); usually a typo or a host that no longer exists."""


class NavigationFailed(BrowserError):
    """The page could not be loaded (connection refused, TLS error, …); the message says which."""

    retryable = True


class JobTimeout(BrowserError):
    """The job did not finish within its time limit (the `timeout_s` option)."""


class TooLarge(BrowserError):
    """The page is larger than the job's download limit (the `max_bytes` option)."""


class BrowserCrashed(BrowserError):
    """The browser (or the page's renderer) died while the job ran; it has been replaced."""

    retryable = True


class MemoryLimitExceeded(BrowserCrashed):
    """The browser used more memory than BROWSER_MAX_RSS_MB allows and was stopped."""

    retryable = False


class PoolBusy(BrowserError):
    """Every browser of this worker process stayed busy for longer than the job could wait."""

    retryable = True


class Cancelled(BrowserError):
    """The job was cancelled by its owner before it finished."""
