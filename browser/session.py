"""One browser job: a fresh context and page behind the job's own filtering proxy, with the job's time
limit, and navigation that turns what went wrong into an error a person can act on."""

from __future__ import annotations

import contextlib
import time

from playwright.sync_api import BrowserContext, Page, Response
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from browser.errors import JobTimeout, NavigationFailed, Refused, TooLarge
from browser.proxy import JobProxy

LOAD_POLL_MS = 250


class PageSession:
    """One job in the pool: a fresh context and page behind the job's own filtering proxy."""

    def __init__(
        self,
        *,
        context: BrowserContext,
        page: Page,
        proxy: JobProxy,
        timeout_s: float,
        max_rss_mb: int,
        started: float,
    ) -> None:
        self.context = context
        self.page = page
        self.proxy = proxy
        self.timeout_s = timeout_s
        self.max_rss_mb = max_rss_mb
        self.started = started
        self.deadline = started + timeout_s
        self.page_crashed = False
        self.crashed_at: float | None = None
        self.memory_checked_at = 0.0
        self.target_url: str | None = None  # the URL of the latest goto()
        self.main_failure: str | None = None  # why the main document's download failed after its commit
        self.navigations: list[str] = []  # URLs the main frame requested, redirects included
        self.websockets_blocked: list[dict[str, str]] = []

    @property
    def blocked(self) -> list[dict[str, str]]:
        """Requests refused during the job: [{"url", "reason"}], in order, without repeats."""
        return [*self.proxy.blocked, *self.websockets_blocked]

    @property
    def truncated(self) -> bool:
        """True when the job reached its download limit and later bytes or requests were cut off."""
        return self.proxy.truncated

    @property
    def current_url(self) -> str:
        if self.navigations:
            return self.navigations[-1]
        if self.target_url:
            return self.target_url
        with contextlib.suppress(Exception):
            return self.page.url
        return "the page"

    def remaining_ms(self) -> float:
        """Milliseconds left before the job's deadline (at least 1, Playwright treats 0 as no limit)."""
        return float(max(1, round((self.deadline - time.monotonic()) * 1000)))  # whole ms read well in errors

    def goto(self, url: str, *, wait_until: str = "load") -> Response | None:
        """Navigates the page; a refused URL (also one reached by a redirect) raises Refused, a page that
        does not load raises NavigationFailed/TooLarge/JobTimeout with what happened.

        Waits for the commit first and then for `wait_until` in short slices: when the document's own
        download fails after the commit (e.g. cut off at max_bytes), Chromium never fires "load", and a
        single goto() would sit there until the job's time is up."""
        self.main_failure = None
        self.target_url = url
        try:
            response = self.page.goto(url, wait_until="commit", timeout=self.remaining_ms())
        except PlaywrightTimeoutError:
            raise self._timeout(url, "commit") from None
        except PlaywrightError as error:
            raise self._navigation_error(url, error) from None
        while True:
            try:
                self.page.wait_for_load_state(wait_until, timeout=min(LOAD_POLL_MS, self.remaining_ms()))
                break
            except PlaywrightTimeoutError:
                if self.main_failure is not None:
                    raise self._navigation_error(url, self.main_failure) from None
                if time.monotonic() >= self.deadline:
                    raise self._timeout(url, wait_until) from None
            except PlaywrightError as error:
                raise self._navigation_error(url, error) from None
        refused = self.navigation_refusal(url)
        if refused:
            raise refused
        return response

    def _timeout(self, url: str, wait_until: str) -> JobTimeout:
        return JobTimeout(
            f"{url} did not finish loading within the job's {self.timeout_s:g} s (waiting for '{wait_until}'); "
            "try a larger timeout_s or wait_until='domcontentloaded'"
        )

    def _navigation_error(self, url: str, error: BaseException | str) -> BaseException:
        refused = self.navigation_refusal(url)
        if refused:
            return refused
        if self.truncated:
            return TooLarge(f"{url} is larger than the job's download limit (max_bytes={self.proxy.max_bytes})")
        browser = self.page.context.browser
        if isinstance(error, BaseException) and (self.page_crashed or browser is None or not browser.is_connected()):
            return error  # the pool turns this into BrowserCrashed
        failure = self.proxy.failure_for(self.current_url)
        detail = failure or (first_line(error) if isinstance(error, BaseException) else error)
        return NavigationFailed(f"could not load {url}: {detail}")

    def navigation_refusal(self, requested: str) -> Refused | None:
        """A Refused error when the main frame ended on a URL the proxy refused (e.g. after a redirect)."""
        for url in reversed(self.navigations or [requested]):
            reason = self.proxy.refusal_for(url)
            if reason:
                if url.split("#")[0] == requested.split("#")[0]:
                    return Refused(url, reason)
                return Refused(url, reason, message=f"{requested} redirected to {url}, which was refused: {reason}")
            break
        return None


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
