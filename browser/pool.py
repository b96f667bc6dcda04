"""A bounded pool of headless Chromium browsers per worker process, and the job context every scrape and
automation runs in.

Browsers are expensive to start (about a second) and cheap to reuse, so they are launched lazily and kept;
isolation between jobs (and users) comes from a fresh browser context per job: no cookie, storage, cache or
service worker survives a job. A browser is closed and replaced after BROWSER_PAGES_PER_BROWSER jobs, when
its process tree uses more than BROWSER_MAX_RSS_MB, and when it crashed.

Threads: Playwright's sync API is bound to the thread that started it (it runs an event loop on greenlets).
The pool therefore starts one Playwright driver per thread that uses it, and a browser is only ever used by
the thread that launched it. Under Celery's prefork pool that is one thread per process and one browser;
with threads, up to BROWSER_POOL_SIZE browsers run side by side and a further job waits for one to be free.

Network: every job's context talks through its own filtering proxy (browser/proxy.py), which checks every
connection against the SSRF policy. As a second wall, the browser itself is launched with a proxy that is
a closed port and without the implicit loopback bypass, so a context that somehow had no proxy of its own
could reach nothing at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from playwright.sync_api import Browser, Playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from browser import ssrf
from browser.driver import outside_browser, thread_drivers
from browser.errors import BrowserCrashed, BrowserError, JobTimeout, MemoryLimitExceeded, PoolBusy
from browser.processes import find_browser_pid, kill_process_tree, process_alive, tree_rss_mb
from browser.proxy import JobProxy, ProxyLoop
from browser.session import PageSession, first_line

__all__ = ["BrowserPool", "close_pool", "get_pool", "outside_browser"]

logger = logging.getLogger("browser.pool")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--mute-audio",
    "--no-default-browser-check",
    # WebRTC may send UDP (STUN) to any address without asking the proxy; allow only proxied traffic.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    # Chromium never needs to resolve a name itself (the proxy does); refuse any lookup it would make.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

WATCHDOG_INTERVAL_S = 0.25
MEMORY_CHECK_INTERVAL_S = 1.0
KILL_GRACE_S = 3.0  # Playwright's own timeouts fire first; the watchdog only ends what they could not
# A browser killed from outside loses its helper processes first: its navigation aborts while the main
# process still stands for a moment. Errors that look like that wait this long to see whether it goes.
CRASH_CONFIRM_S = 1.0
DYING_SIGNS = ("net::ERR_ABORTED", "Target closed", "has been closed", "Connection closed")
DEFAULT_VIEWPORT = {"width": 1280, "height": 800}


@dataclass(eq=False)
class _Browser:
    browser: Browser
    thread: int
    pid: int | None
    jobs: int = 0
    busy: bool = False
    killed: str | None = None  # "timeout", "memory" or "crash" when the watchdog stopped it

    def is_alive(self) -> bool:
        if not self.browser.is_connected():
            return False
        return self.pid is None or process_alive(self.pid)


class BrowserPool:
    """Chromium browsers for this worker process; see the module docstring."""

    def __init__(
        self,
        *,
        size: int = 2,
        pages_per_browser: int = 50,
        max_rss_mb: int = 2048,
        job_timeout_s: float = 60,
        max_bytes: int = 50 * 1024 * 1024,
        executable: str = "/usr/bin/chromium",
        acquire_timeout_s: float | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("BROWSER_POOL_SIZE must be at least 1")
        self.size = size
        self.pages_per_browser = max(1, pages_per_browser)
        self.max_rss_mb = max_rss_mb
        self.job_timeout_s = job_timeout_s
        self.max_bytes = max_bytes
        self.executable = executable
        self.acquire_timeout_s = acquire_timeout_s
        self.pid = os.getpid()
        self._cond = threading.Condition()
        self._browsers: list[_Browser] = []
        self._launching = 0
        self._active: dict[int, tuple[PageSession, _Browser]] = {}
        self._counts = {"launches": 0, "recycles": 0, "crashes": 0, "jobs": 0}
        self._closed = False
        self._proxy_loop: ProxyLoop | None = None
        self._watchdog: threading.Thread | None = None
        # The browser-wide proxy: a port that is bound but never listens, so connections to it fail at once.
        self._dead_end = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._dead_end.bind(("127.0.0.1", 0))

    # --- the public API ---

    @contextlib.contextmanager
    def context(
        self,
        *,
        viewport: dict[str, int] | None = None,
        javascript: bool = True,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
        resolver: ssrf.Resolver | None = None,
        max_rss_mb: int | None = None,
    ) -> Iterator[PageSession]:
        """A PageSession with a fresh browser context and page, torn down afterwards. Raises PoolBusy when no
        browser frees up in time; inside the block, a dead browser becomes BrowserCrashed, a job past its
        time limit JobTimeout, a browser over its memory limit MemoryLimitExceeded."""
        timeout_s = float(timeout_s or self.job_timeout_s)
        thread_drivers.enter()
        try:
            with self._job(
                viewport=viewport,
                javascript=javascript,
                timeout_s=timeout_s,
                max_bytes=max_bytes,
                resolver=resolver,
                max_rss_mb=max_rss_mb,
            ) as job:
                yield job
        finally:
            thread_drivers.leave()

    @contextlib.contextmanager
    def _job(
        self,
        *,
        viewport: dict[str, int] | None,
        javascript: bool,
        timeout_s: float,
        max_bytes: int | None,
        resolver: ssrf.Resolver | None,
        max_rss_mb: int | None,
    ) -> Iterator[PageSession]:
        entry = self._acquire(self.acquire_timeout_s if self.acquire_timeout_s is not None else timeout_s)
        job: PageSession | None = None
        proxy: JobProxy | None = None
        try:
            proxy = JobProxy(
                loop=self._loop(), resolver=resolver or ssrf.Resolver(), max_bytes=max_bytes or self.max_bytes
            ).start()
            limits = {"timeout_s": timeout_s, "max_rss_mb": max_rss_mb or self.max_rss_mb}
            try:
                job = self._new_job(entry, proxy, viewport=viewport, javascript=javascript, **limits)
            except PlaywrightError:
                if entry.is_alive():
                    raise
                # The browser died while idle, just before this job (a kill we had not noticed yet): replace it.
                self._discard(entry)
                entry = self._acquire(self.acquire_timeout_s if self.acquire_timeout_s is not None else timeout_s)
                job = self._new_job(entry, proxy, viewport=viewport, javascript=javascript, **limits)
            with self._cond:
                self._active[id(job)] = (job, entry)
            self._start_watchdog()
            yield job
        except BaseException as error:
            translated = self._translate(error, job, entry, timeout_s)
            if translated is error:
                raise
            raise translated from error
        finally:
            if job is not None:
                with self._cond:
                    self._active.pop(id(job), None)
                with contextlib.suppress(Exception):
                    job.context.close()
            if proxy is not None:
                proxy.stop()
            self._release(entry)

    def stats(self) -> dict[str, Any]:
        """Counters for monitoring and tests: live browsers, launches, recycles, crashes, jobs, busy."""
        with self._cond:
            return {
                "size": self.size,
                "browsers": len(self._browsers),
                "busy": sum(1 for b in self._browsers if b.busy),
                **self._counts,
            }

    def browser_pids(self) -> list[int]:
        """Process ids of the live browsers' main processes."""
        with self._cond:
            return [b.pid for b in self._browsers if b.pid]

    def release_thread(self) -> None:
        """Closes this thread's browsers and Playwright driver; call it before a thread that used the pool ends."""
        me = threading.get_ident()
        with self._cond:
            mine = [b for b in self._browsers if b.thread == me and not b.busy]
            for entry in mine:
                self._browsers.remove(entry)
            self._cond.notify_all()
        thread_drivers.enter()
        try:
            for entry in mine:
                self._close_browser(entry)
            thread_drivers.release(self)
        finally:
            thread_drivers.leave()

    def close(self) -> None:
        """Stops every browser: this thread's cleanly, other threads' by ending their processes."""
        with self._cond:
            self._closed = True
            others = [b for b in self._browsers if b.thread != threading.get_ident()]
            for entry in others:
                self._browsers.remove(entry)
        for entry in others:
            kill_process_tree(entry.pid)
        self.release_thread()
        if self._proxy_loop is not None:
            self._proxy_loop.stop()
            self._proxy_loop = None
        with contextlib.suppress(OSError):
            self._dead_end.close()

    # --- browsers ---

    def _acquire(self, wait_s: float) -> _Browser:
        me = threading.get_ident()
        deadline = time.monotonic() + wait_s
        evict: _Browser | None = None
        with self._cond:
            while True:
                if self._closed:
                    raise BrowserError("the browser pool is closed")
                mine = next((b for b in self._browsers if b.thread == me and not b.busy), None)
                if mine is not None:
                    mine.busy = True
                    break
                if len(self._browsers) + self._launching < self.size:
                    self._launching += 1
                    break
                evict = next((b for b in self._browsers if not b.busy), None)
                if evict is not None:  # idle, but owned by another thread: only its process can be ended here
                    self._browsers.remove(evict)
                    self._counts["recycles"] += 1
                    self._launching += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PoolBusy(
                        f"all {self.size} browsers of this worker stayed busy for {wait_s:g} s; "
                        "the job can be retried (or raise BROWSER_POOL_SIZE)"
                    )
                self._cond.wait(left)
        if mine is not None:
            if mine.is_alive():
                return mine
            with self._cond:  # it died while idle: replace it
                self._browsers.remove(mine)
                self._counts["crashes"] += 1
                self._counts["recycles"] += 1
                self._launching += 1
            self._close_browser(mine)
        if evict is not None:
            kill_process_tree(evict.pid)
        try:
            entry = self._launch()
        finally:
            with self._cond:
                self._launching -= 1
        with self._cond:
            entry.busy = True
            self._browsers.append(entry)
        return entry

    def _launch(self) -> _Browser:
        if not os.access(self.executable, os.X_OK):
            raise BrowserError(
                f"no Chromium at {self.executable}: install the Debian package (sudo apt-get install chromium) "
                "or point BROWSER_EXECUTABLE at a Chromium; browsers are never downloaded"
            )
        marker = f"--orch-browser-id={uuid.uuid4().hex}"
        dead_end = self._dead_end.getsockname()[1]
        browser = self._driver().chromium.launch(
            executable_path=self.executable,
            args=[
                *CHROMIUM_ARGS,
                f"--proxy-server=http://127.0.0.1:{dead_end}",
                "--proxy-bypass-list=<-loopback>",
                marker,
            ],
            timeout=30_000,
        )
        with self._cond:
            self._counts["launches"] += 1
        return _Browser(browser=browser, thread=threading.get_ident(), pid=find_browser_pid(marker))

    def _driver(self) -> Playwright:
        return thread_drivers.get(self)

    def _release(self, entry: _Browser) -> None:
        reason = None
        if entry.killed or not entry.is_alive():
            reason = "crashed"
        else:
            entry.jobs += 1
            if entry.jobs >= self.pages_per_browser:
                reason = "pages"
            elif tree_rss_mb(entry.pid) > self.max_rss_mb:
                reason = "memory"
        with self._cond:
            self._counts["jobs"] += 1
            if reason:
                self._counts["recycles"] += 1
                if reason == "crashed" and not entry.killed:
                    self._counts["crashes"] += 1
                with contextlib.suppress(ValueError):
                    self._browsers.remove(entry)
            entry.busy = False
            self._cond.notify_all()
        if reason:
            logger.info("recycling browser %s (%s after %d jobs)", entry.pid, reason, entry.jobs)
            self._close_browser(entry)

    def _discard(self, entry: _Browser) -> None:
        """Drops a browser found dead before its job started."""
        with self._cond:
            self._counts["crashes"] += 1
            self._counts["recycles"] += 1
            with contextlib.suppress(ValueError):
                self._browsers.remove(entry)
            entry.busy = False
            self._cond.notify_all()
        self._close_browser(entry)

    def _close_browser(self, entry: _Browser) -> None:
        if entry.thread == threading.get_ident():
            with contextlib.suppress(Exception):
                entry.browser.close()
        kill_process_tree(entry.pid)

    # --- jobs ---

    def _new_job(
        self,
        entry: _Browser,
        proxy: JobProxy,
        *,
        viewport: dict[str, int] | None,
        javascript: bool,
        timeout_s: float,
        max_rss_mb: int,
    ) -> PageSession:
        context = entry.browser.new_context(
            proxy={"server": proxy.url, "bypass": "<-loopback>"},
            service_workers="block",
            java_script_enabled=javascript,
            viewport=viewport or DEFAULT_VIEWPORT,
            accept_downloads=False,
        )
        context.set_default_timeout(timeout_s * 1000)
        context.set_default_navigation_timeout(timeout_s * 1000)
        page = context.new_page()
        job = PageSession(
            context=context,
            page=page,
            proxy=proxy,
            timeout_s=timeout_s,
            max_rss_mb=max_rss_mb,
            started=time.monotonic(),
        )

        def block_websocket(ws: Any) -> None:
            reason = "WebSockets are not supported by the browser service"
            entry = {"url": ws.url, "reason": reason}
            if entry not in job.websockets_blocked:
                job.websockets_blocked.append(entry)
            with contextlib.suppress(Exception):
                ws.close(code=1008, reason=reason)

        def on_request(request: Any) -> None:
            with contextlib.suppress(Exception):
                if request.is_navigation_request() and request.frame == page.main_frame:
                    job.navigations.append(request.url)

        def on_request_failed(request: Any) -> None:
            with contextlib.suppress(Exception):
                if request.is_navigation_request() and request.frame == page.main_frame:
                    job.main_failure = request.failure or "the download failed"

        def on_crash(_: Any) -> None:
            job.page_crashed = True
            job.crashed_at = time.monotonic()

        context.route_web_socket("**/*", block_websocket)
        page.on("request", on_request)
        page.on("requestfailed", on_request_failed)
        page.on("crash", on_crash)
        return job

    def _translate(
        self, error: BaseException, job: PageSession | None, entry: _Browser, timeout_s: float
    ) -> BaseException:
        if not isinstance(error, Exception):
            return error  # KeyboardInterrupt, SystemExit, GeneratorExit
        where = job.current_url if job else "the page"
        if entry.killed == "timeout":
            return JobTimeout(
                f"the job did not finish within {timeout_s:g} s and its browser was stopped; try a larger timeout_s"
            )
        if entry.killed == "memory":
            limit = job.max_rss_mb if job else self.max_rss_mb
            return MemoryLimitExceeded(
                f"the browser used more than {limit} MB of memory while loading {where} and was stopped "
                "(BROWSER_MAX_RSS_MB); the page is too heavy for this worker"
            )
        if (job is not None and job.page_crashed) or entry.killed == "crash":
            return BrowserCrashed(f"the page crashed while loading {where}; the job can be retried")
        if isinstance(error, BrowserError | PlaywrightError) and any(sign in str(error) for sign in DYING_SIGNS):
            deadline = time.monotonic() + CRASH_CONFIRM_S
            while entry.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
        if not entry.is_alive():
            return BrowserCrashed(f"the browser crashed while loading {where}; the job can be retried")
        if isinstance(error, BrowserError):
            return error
        if isinstance(error, PlaywrightTimeoutError):
            return JobTimeout(f"{first_line(error)} (the job's time limit is {timeout_s:g} s)")
        if isinstance(error, PlaywrightError):
            return BrowserError(first_line(error))
        return error

    # --- the watchdog: time and memory limits that hold even when a Playwright call does not return ---

    def _start_watchdog(self) -> None:
        with self._cond:
            if self._watchdog is not None and self._watchdog.is_alive():
                return
            self._watchdog = threading.Thread(target=self._watch, name="browser-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        while True:
            with self._cond:
                active = list(self._active.values())
                if not active or self._closed:
                    self._watchdog = None
                    return
            now = time.monotonic()
            for job, entry in active:
                if entry.killed:
                    continue
                if now > job.deadline + KILL_GRACE_S:
                    entry.killed = "timeout"
                elif job.crashed_at is not None and now > job.crashed_at + KILL_GRACE_S:
                    entry.killed = "crash"  # a call on the crashed page is stuck (e.g. a CDP command): free it
                elif now >= job.memory_checked_at + MEMORY_CHECK_INTERVAL_S:
                    job.memory_checked_at = now  # reading PSS costs ~20 ms, so not on every tick
                    if tree_rss_mb(entry.pid) > job.max_rss_mb:
                        entry.killed = "memory"
                if entry.killed:
                    logger.warning("stopping browser %s: job over its %s limit", entry.pid, entry.killed)
                    kill_process_tree(entry.pid)
            time.sleep(WATCHDOG_INTERVAL_S)

    def _loop(self) -> ProxyLoop:
        with self._cond:
            if self._proxy_loop is None:
                self._proxy_loop = ProxyLoop()
            return self._proxy_loop


_pool: BrowserPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> BrowserPool:
    """This process's pool, built from settings on first use (a pool inherited through fork is not reused)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = BrowserPool(
                size=settings.BROWSER_POOL_SIZE,
                pages_per_browser=settings.BROWSER_PAGES_PER_BROWSER,
                max_rss_mb=settings.BROWSER_MAX_RSS_MB,
                job_timeout_s=settings.BROWSER_JOB_TIMEOUT_S,
                max_bytes=settings.BROWSER_MAX_BYTES,
                executable=settings.BROWSER_EXECUTABLE,
            )
        return _pool


def close_pool() -> None:
    """Closes this process's pool (worker shutdown); the next get_pool() starts a new one."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()
