"""Scrape one page: its readable text, links, metadata and, on request, a screenshot and a PDF.

The page is rendered by Chromium (so pages built by JavaScript work); what is read from it is taken from the
rendered DOM in Python (lxml, trafilatura), after the browser has been handed back to the pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from browser import ssrf
from browser.driver import outside_browser
from browser.errors import Cancelled, JobTimeout
from browser.options import SCRAPE, validate_options
from browser.pool import BrowserPool, get_pool
from browser.session import PageSession

SCREENSHOT_FILE = "screenshot.png"
PDF_FILE = "page.pdf"

Progress = Callable[[float, str], None]  # (fraction done 0..1, what is happening)


def scrape(
    url: str,
    *,
    out_dir: Path,
    options: dict[str, Any] | None = None,
    on_progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    pool: BrowserPool | None = None,
) -> dict[str, Any]:
    """Loads `url` in a fresh browser context and returns what was read from it (see the module docstring
    and docs for the keys). Raises OptionError, Refused (nothing fetched), ResolveError, NavigationFailed,
    TooLarge, JobTimeout, BrowserCrashed, PoolBusy or Cancelled."""
    opts = validate_options(options, allowed=SCRAPE)
    started = time.monotonic()
    resolver = ssrf.Resolver()
    ssrf.check_url(url, resolver)  # refused before any browser work; the job proxy reuses these addresses
    steps = ["load", *(["wait"] if opts.wait_for_selector else []), "read"]
    steps += [*(["screenshot"] if opts.screenshot else []), *(["pdf"] if opts.pdf else [])]
    progress = _Progress(on_progress, steps, cancelled, url=url, selector=opts.wait_for_selector or "")
    timings: dict[str, int] = {}
    files: dict[str, str | None] = {"screenshot": None, "pdf": None}
    pool = pool or get_pool()

    progress.start("load")
    with pool.context(
        viewport=opts.viewport,
        javascript=opts.javascript,
        timeout_s=opts.timeout_s,
        max_bytes=opts.max_bytes,
        resolver=resolver,
    ) as job:
        mark = time.monotonic()
        response = job.goto(url, wait_until=opts.wait_until)
        timings["load_ms"] = _ms(mark)
        if opts.wait_for_selector:
            progress.start("wait")
            mark = time.monotonic()
            _wait_for_selector(job, opts.wait_for_selector)
            timings["wait_ms"] = _ms(mark)
        progress.start("read")
        mark = time.monotonic()
        final_url = job.page.url
        title = job.page.title()
        html = job.page.content()
        inner_text = job.page.evaluate("() => document.body ? document.body.innerText : ''")
        timings["read_ms"] = _ms(mark)
        if opts.screenshot or opts.pdf:
            out_dir.mkdir(parents=True, exist_ok=True)
        if opts.screenshot:
            progress.start("screenshot")
            mark = time.monotonic()
            path = out_dir / SCREENSHOT_FILE
            job.page.screenshot(path=str(path), full_page=True, timeout=job.remaining_ms())
            files["screenshot"] = str(path)
            timings["screenshot_ms"] = _ms(mark)
        if opts.pdf:
            progress.start("pdf")
            mark = time.monotonic()
            path = out_dir / PDF_FILE
            job.page.pdf(path=str(path), print_background=True)
            files["pdf"] = str(path)
            timings["pdf_ms"] = _ms(mark)
        blocked, truncated = job.blocked, job.truncated

    mark = time.monotonic()
    text, text_source = readable_text(html, url=final_url, fallback=inner_text)
    page = read_page(html, base_url=final_url)
    timings["extract_ms"] = _ms(mark)
    timings["total_ms"] = _ms(started)
    progress.finish()
    return {
        "url": url,
        "final_url": final_url,
        "status": response.status if response is not None else None,
        "title": title,
        "meta": page["meta"],
        "text": text,
        "text_source": text_source,
        "links": page["links"],
        **files,
        "blocked": blocked,
        "truncated": truncated,
        "timings": timings,
    }


def _wait_for_selector(job: PageSession, selector: str) -> None:
    try:
        job.page.wait_for_selector(selector, timeout=job.remaining_ms())
    except PlaywrightTimeoutError:
        raise JobTimeout(
            f'the element "{selector}" (wait_for_selector) did not appear within the job\'s {job.timeout_s:g} s'
        ) from None


def readable_text(html: str, *, url: str, fallback: str) -> tuple[str, str]:
    """The main text of the page without navigation, footers and other boilerplate (trafilatura), or the
    page's visible text when trafilatura finds no main content. Returns (text, source)."""
    import trafilatura  # imported here: it takes a second to load and only scrapes need it

    try:
        text = trafilatura.extract(
            html, url=url, output_format="txt", include_comments=False, include_tables=True, deduplicate=False
        )
    except Exception:  # noqa: BLE001 - a parser bug on one odd page must not lose the whole scrape
        text = None
    if text and text.strip():
        return text.strip(), "trafilatura"
    return (fallback or "").strip(), "innerText"


def read_page(html: str, *, base_url: str) -> dict[str, Any]:
    """Metadata and links of a rendered page: {"meta": {description, og, canonical, lang}, "links": [...]}.
    Links are absolute (resolved against <base href> like the browser does), http(s) only, without their
    #fragment, each once, in page order."""
    empty = {"meta": {"description": None, "og": {}, "canonical": None, "lang": None}, "links": []}
    if not html or not html.strip():
        return empty
    try:
        root = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return empty
    base_href = next(iter(root.xpath("//head/base/@href")), None)
    base = urljoin(base_url, base_href.strip()) if base_href else base_url

    og: dict[str, str] = {}
    for node in root.xpath("//meta[@property and @content]"):
        prop = node.get("property", "").strip()
        if prop.lower().startswith("og:") and prop not in og:
            og[prop] = node.get("content", "").strip()
    description = next(
        (
            n.get("content", "").strip()
            for n in root.xpath("//meta[@name and @content]")
            if n.get("name").lower() == "description"
        ),
        None,
    )
    canonical = next(
        (n.get("href") for n in root.xpath("//link[@rel and @href]") if "canonical" in n.get("rel").lower().split()),
        None,
    )
    lang = root.get("lang") or None

    links: list[str] = []
    seen: set[str] = set()
    for node in root.xpath("//a[@href] | //area[@href]"):
        link = absolute_http_url(node.get("href"), base)
        if link and link not in seen:
            seen.add(link)
            links.append(link)
    return {
        "meta": {
            "description": description,
            "og": og,
            "canonical": absolute_http_url(canonical, base) if canonical else None,
            "lang": lang.strip() if lang else None,
        },
        "links": links,
    }


def absolute_http_url(href: str | None, base: str) -> str | None:
    if not href or not href.strip():
        return None
    try:
        parts = urlsplit(urljoin(base, href.strip()))
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


class _Progress:
    """Reports stages as on_progress(fraction done, message) and checks for cancellation between them."""

    MESSAGES = {
        "load": "loading {url}",
        "wait": "waiting for the element {selector}",
        "read": "reading the page",
        "screenshot": "taking a screenshot",
        "pdf": "printing to PDF",
    }

    def __init__(
        self, callback: Progress | None, stages: list[str], cancelled: Callable[[], bool], **words: str
    ) -> None:
        self.callback = callback
        self.stages = stages
        self.cancelled = cancelled
        self.words = words
        self.done = 0

    def start(self, stage: str) -> None:
        with outside_browser():  # the callbacks may use Django's ORM
            if self.cancelled():
                raise Cancelled(f"the scrape was cancelled before {self.MESSAGES[stage].format(**self.words)}")
            if self.callback:
                self.callback(self.done / len(self.stages), self.MESSAGES[stage].format(**self.words))
        self.done += 1

    def finish(self) -> None:
        if self.callback:
            self.callback(1.0, "done")


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)
