"""The browser pool: browsers are reused, recycled after N jobs, after using too much memory and after a
crash; a browser that dies mid-job gives the job a clear error and the next job works; every job starts
with a fresh context; threads each drive their own browsers."""

from __future__ import annotations

import contextlib
import threading
import time

import psutil
import pytest

from browser.errors import BrowserCrashed, BrowserError, MemoryLimitExceeded, PoolBusy
from browser.pool import BrowserPool
from browser.processes import kill_process_tree, process_alive, process_tree, tree_rss_mb
from browser.scrape import scrape
from tests.fixtures.web import Reply, html


@pytest.fixture
def own_pool():
    """A pool of the test's own, so its counters start at zero."""
    pools: list[BrowserPool] = []

    def make(**kwargs) -> BrowserPool:
        pools.append(BrowserPool(**kwargs))
        return pools[-1]

    yield make
    for made in pools:
        made.close()


@pytest.fixture
def page(site):
    site.routes["/"] = lambda h: Reply(body=html("<h1>Hello</h1><p>A page.</p>", head="<title>Hello</title>"))
    return site.url("/")


pytestmark = pytest.mark.browser


def test_browsers_are_reused_across_jobs(own_pool, page, tmp_path):
    pool = own_pool()
    for _ in range(3):
        assert scrape(page, out_dir=tmp_path, pool=pool)["title"] == "Hello"
    assert pool.stats() == {"size": 2, "browsers": 1, "busy": 0, "launches": 1, "recycles": 0, "crashes": 0, "jobs": 3}


def test_a_browser_is_recycled_after_pages_per_browser_jobs(own_pool, page, tmp_path):
    pool = own_pool(pages_per_browser=1)
    scrape(page, out_dir=tmp_path, pool=pool)
    [first] = pool.browser_pids() or [None]
    assert first is None  # closed right after its one job
    scrape(page, out_dir=tmp_path, pool=pool)
    stats = pool.stats()
    assert (stats["launches"], stats["recycles"], stats["jobs"]) == (2, 2, 2)


def test_a_browser_over_the_memory_limit_is_recycled_after_its_job(own_pool, page, tmp_path):
    pool = own_pool(max_rss_mb=100_000)
    with pool.context() as job:
        job.goto(page)
        [pid] = pool.browser_pids()
        assert 20 < tree_rss_mb(pid) < 100_000
        pool.max_rss_mb = 1  # checked after the job (the watchdog keeps the limit the job started with)
    assert pool.stats()["recycles"] == 1 and pool.browser_pids() == []
    assert not process_alive(pid)


def test_a_browser_over_the_memory_limit_during_a_job_is_stopped(own_pool, site, page, tmp_path):
    pool = own_pool(max_rss_mb=1)

    def slow(handler):
        time.sleep(2)
        return Reply(body=html("<p>slow</p>"))

    site.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(
        MemoryLimitExceeded, match=r"used more than 1 MB of memory while loading http://.*/slow .*BROWSER_MAX_RSS_MB"
    ):
        scrape(site.url("/slow"), out_dir=tmp_path, pool=pool)
    assert time.monotonic() - started < 5
    pool.max_rss_mb = 100_000
    assert scrape(page, out_dir=tmp_path, pool=pool)["title"] == "Hello"


def test_a_browser_that_dies_mid_job_gives_a_clear_error_and_is_replaced(own_pool, site, page, tmp_path):
    pool = own_pool()

    def kill_browser(handler):
        for pid in pool.browser_pids():
            kill_process_tree(pid)
        handler.server.release.wait(10)
        return Reply(body="too late")

    site.routes["/crash"] = kill_browser
    started = time.monotonic()
    with pytest.raises(BrowserCrashed) as caught:
        scrape(site.url("/crash"), out_dir=tmp_path, options={"timeout_s": 20}, pool=pool)
    assert str(caught.value) == f"the browser crashed while loading {site.url('/crash')}; the job can be retried"
    assert caught.value.retryable is True
    assert time.monotonic() - started < 10  # an error, not a hang until the time limit
    assert scrape(page, out_dir=tmp_path, pool=pool)["title"] == "Hello"
    stats = pool.stats()
    assert (stats["launches"], stats["crashes"], stats["browsers"]) == (2, 1, 1)


def test_a_browser_whose_helpers_die_first_is_still_reported_as_crashed(own_pool, site, page, tmp_path):
    """A kill from outside takes the helper processes first: the navigation aborts (net::ERR_ABORTED) while
    the main process still stands. That is a crash (retryable), not a page that could not be loaded."""
    pool = own_pool()

    def kill_helpers_then_browser(handler):
        for pid in pool.browser_pids():
            root, *helpers = process_tree(pid)
            for proc in reversed(helpers):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            time.sleep(0.3)
            with contextlib.suppress(psutil.Error):
                root.kill()
        handler.server.release.wait(10)
        return Reply(body="too late")

    site.routes["/crash"] = kill_helpers_then_browser
    with pytest.raises(BrowserCrashed, match="the browser crashed while loading"):
        scrape(site.url("/crash"), out_dir=tmp_path, options={"timeout_s": 20}, pool=pool)
    assert scrape(page, out_dir=tmp_path, pool=pool)["title"] == "Hello"


def test_a_crashed_page_gives_a_clear_error_and_the_next_job_works(own_pool, page, tmp_path):
    pool = own_pool()
    crashed = pytest.raises(BrowserCrashed, match=r"^the page crashed while loading .*; the job can be retried$")
    with crashed, pool.context() as job:
        job.goto(page)
        [pid] = pool.browser_pids()
        for proc in psutil.Process(pid).children(recursive=True):
            if "--type=renderer" in proc.cmdline():
                proc.kill()
        job.page.wait_for_timeout(200)
        job.page.title()
    assert scrape(page, out_dir=tmp_path, pool=pool)["title"] == "Hello"


def test_a_browser_that_died_between_jobs_is_replaced(own_pool, page, tmp_path):
    pool = own_pool()
    scrape(page, out_dir=tmp_path, pool=pool)
    for pid in pool.browser_pids():
        kill_process_tree(pid)
    assert scrape(page, out_dir=tmp_path, pool=pool)["title"] == "Hello"
    assert pool.stats()["launches"] == 2


def test_every_job_gets_a_fresh_context(pool, site, tmp_path):
    site.routes["/set"] = lambda h: Reply(
        body=html("<script>document.cookie = 'js=1'; localStorage.setItem('k', 'v');</script><p>set</p>"),
        headers={"Set-Cookie": "session=alice; Path=/"},
    )
    site.routes["/show"] = lambda h: Reply(
        body=html(
            '<p id="out"></p><script>document.getElementById("out").textContent = '
            '"cookie=[" + document.cookie + "] storage=[" + localStorage.getItem("k") + "]";</script>'
        )
    )
    first = scrape(site.url("/set"), out_dir=tmp_path, pool=pool)
    assert first["text"] == "set"
    second = scrape(site.url("/show"), out_dir=tmp_path, pool=pool)
    assert second["text"] == "cookie=[] storage=[null]"
    shown = [s for s in site.seen if s.path == "/show"]
    assert "Cookie" not in shown[0].headers


def test_cookies_do_live_within_one_job(pool, site, tmp_path):
    from browser.automate import run_script

    site.routes["/set"] = lambda h: Reply(body=html("<p>set</p>"), headers={"Set-Cookie": "a=1; Path=/\nb=2; Path=/"})
    site.routes["/echo"] = lambda h: Reply(body=html(f'<p id="c">{h.headers.get("Cookie")}</p>'))
    result = run_script(
        [
            {"action": "goto", "url": site.url("/set")},
            {"action": "goto", "url": site.url("/echo")},
            {"action": "extract", "selector": "#c"},
        ],
        out_dir=tmp_path,
        pool=pool,
    )
    assert result["steps"][2]["result"] == "a=1; b=2"


def test_threads_drive_their_own_browsers_side_by_side(own_pool, site, tmp_path):
    pool = own_pool(size=2)

    def slowish(handler):
        time.sleep(0.5)
        return Reply(body=html("<p>done</p>"))

    site.routes["/slowish"] = slowish
    results, errors = [], []

    def worker() -> None:
        try:
            results.append(scrape(site.url("/slowish"), out_dir=tmp_path, pool=pool)["text"])
        except Exception as error:
            errors.append(error)
        finally:
            pool.release_thread()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and results == ["done", "done"]
    assert pool.stats()["launches"] == 2


def test_a_job_waits_for_a_free_browser_and_then_gives_up(own_pool, page):
    pool = own_pool(size=1, acquire_timeout_s=0.5)
    with pool.context() as job:
        job.goto(page)
        started = time.monotonic()
        with pytest.raises(PoolBusy, match=r"all 1 browsers of this worker stayed busy for 0\.5 s"), pool.context():
            pass
        assert 0.4 < time.monotonic() - started < 3


def test_a_closed_pool_refuses_new_jobs(own_pool, page):
    pool = own_pool()
    with pool.context() as job:
        job.goto(page)
    [pid] = pool.browser_pids()
    pool.close()
    assert not process_alive(pid)
    with pytest.raises(BrowserError, match="closed"), pool.context():
        pass


def test_callbacks_and_the_caller_may_use_the_orm(pool, page, tmp_path, monkeypatch):
    """Playwright's sync API marks the thread as running an asyncio loop, which makes Django refuse ORM calls
    (SynchronousOnlyOperation). The mark is lifted for callbacks and after the job (Celery closes the
    database connection after each task in the same thread)."""
    from django.utils.asyncio import async_unsafe

    from browser.automate import run_script

    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)

    @async_unsafe
    def orm_call(*args) -> bool:
        return False

    calls = []
    result = scrape(
        page, out_dir=tmp_path, on_progress=lambda *a: calls.append(orm_call()), cancelled=orm_call, pool=pool
    )
    assert result["title"] == "Hello" and len(calls) == 3
    orm_call()
    result = run_script(
        [{"action": "goto", "url": page}, {"action": "extract", "selector": "h1"}],
        out_dir=tmp_path,
        on_progress=lambda *a: calls.append(orm_call()),
        cancelled=orm_call,
        pool=pool,
    )
    assert result["status"] == "ok" and len(calls) == 5
    orm_call()
    with pool.context() as job:  # nested use keeps the browser usable after a callback
        job.goto(page)
        with pool.context() as inner:
            inner.goto(page)
        assert job.page.title() == "Hello"
    orm_call()


def test_a_missing_chromium_is_a_clear_error_not_a_download(tmp_path):
    from browser.errors import BrowserError
    from browser.pool import BrowserPool

    missing = BrowserPool(size=1, executable=str(tmp_path / "no-chromium"))
    try:
        with pytest.raises(BrowserError, match="apt-get install chromium"), missing.context():
            pass
    finally:
        missing.close()
