"""The browser service pages in Chromium: scrape a page with a screenshot and a PDF and follow it live,
read the result page (escaped, hostile text included), a bad script refused before anything is queued,
an automation's steps, a refused address, and the light, dark and phone layouts."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from core.models import Job
from tests.fixtures.pages import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JOB_DONE = 90_000  # the first job of a worker starts Chromium
HOSTILE_TITLE = "Test page <img src=x onerror=alert('title')>"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Test page &lt;img src=x onerror=alert('title')&gt;</title>
  <meta name="description" content="A page served by the test &lt;b&gt;bold&lt;/b&gt;">
  <meta property="og:title" content="The OG title">
  <meta property="og:type" content="article">
  <link rel="canonical" href="/canonical-page">
</head>
<body>
  <main>
    <h1>Hello from the test page</h1>
    <p>This paragraph is the readable text of the page. It talks about headless browsers at length,
       so that the text extractor keeps it as the main content of the page and not as boilerplate.</p>
    <p>Hostile text follows: &lt;script&gt;alert('text')&lt;/script&gt; and
       &lt;img src=x onerror=alert('img')&gt; must show up as text, never run.</p>
    <p>Read <a href="/about">about this page</a> or <a href="https://example.org/docs">the docs</a>;
       <a href="javascript:alert('link')">a script link</a> is not a link to follow.</p>
    <img src="http://127.0.0.2:{port}/pixel.png" alt="" width="1" height="1">
  </main>
</body>
</html>"""


class SiteHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ("/", "/index.html"):
            body = PAGE.replace("{port}", str(self.server.server_port)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            body = b"<!DOCTYPE html><title>Elsewhere</title><p>Another page.</p>"
            self.send_response(404 if self.path == "/missing" else 200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site():
    """A small site on 127.0.0.1 (which the worker may fetch: BROWSER_ALLOWED_NETWORKS=127.0.0.1/32)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def shoot(page, artifacts_dir, name: str) -> None:
    """Light, dark and phone screenshots of the current page (after the theme's colour transitions)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts_dir / f"{name}-light.png"), full_page=True)
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts_dir / f"{name}-dark.png"), full_page=True)
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.mouse.move(0, 0)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts_dir / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_scrape_followed_live_then_its_result_page(page, daphne_url, alice, site, artifacts_dir, celery_worker):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, daphne_url)
    page.goto(f"{daphne_url}/browser/")
    expect(page.get_by_role("heading", name="Browser", level=1)).to_be_visible()
    expect(page.locator(".lead")).to_contain_text("private and loopback addresses are refused")
    expect(page.locator("#history-empty")).to_contain_text("No jobs yet")
    expect(page.locator("#scrape-screenshot")).to_be_checked()

    page.fill("#scrape-url", f"{site}/")
    page.check("#scrape-pdf")
    page.click("#scrape-form button[type=submit]")
    current = page.locator("#current-job")
    expect(current).to_be_visible()
    expect(page.locator("#current-job-progress")).to_be_visible()
    expect(page.locator("#current-job-title")).to_have_text(f"Scrape {site}/")
    expect(page.locator("#history-rows tr")).to_have_count(1)
    expect(page.locator("#history-empty")).to_be_hidden()
    result_link = page.locator("#current-job-link")
    expect(result_link).to_be_visible(timeout=JOB_DONE)
    expect(page.locator("#current-job-status")).to_have_text("succeeded")
    expect(page.locator("#current-job-subtasks li").first).to_contain_text(f"Load {site}/")
    expect(page.locator("#current-job-subtasks li").first).to_contain_text("done")
    assert page.locator("#current-job-progress").evaluate("(p) => p.value") == 1
    expect(page.locator("#current-job-cancel")).to_be_hidden()
    expect(page.locator("#history-rows tr").first.locator(".badge")).to_have_text("succeeded")
    shoot(page, artifacts_dir, "browser-index")

    result_link.click()
    job = Job.objects.get(user=alice, kind="browser.scrape")
    expect(page).to_have_url(f"{daphne_url}/browser/jobs/{job.pk}/")
    expect(page.locator("#job-status")).to_have_text("succeeded")
    expect(page.locator("#job-live")).to_be_hidden()
    expect(page.locator("#job-cancel")).to_be_hidden()
    expect(page.locator("#job-retry")).to_be_hidden()

    # Page facts, all as text: the hostile title is shown, not parsed.
    expect(page.locator("#result-title")).to_have_text(HOSTILE_TITLE)
    final = page.locator("#result-page a", has_text=f"{site}/").first
    expect(final).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(final).to_have_attribute("target", "_blank")
    expect(page.locator("#result-page")).to_contain_text("200")
    expect(page.locator("#result-page")).to_contain_text("A page served by the test <b>bold</b>")
    expect(page.locator("#result-page")).to_contain_text(f"{site}/canonical-page")
    expect(page.locator("#result-page")).to_contain_text("og:title")
    expect(page.locator("#result-page")).to_contain_text("The OG title")
    expect(page.locator("#result-page .timings")).to_contain_text("Total")

    text = page.locator("#page-text")
    expect(text).to_contain_text("Hello from the test page")
    expect(text).to_contain_text("<script>alert('text')</script>")
    expect(text).to_contain_text("<img src=x onerror=alert('img')>")
    assert page.locator("#job-results img:not(.shot-image)").count() == 0
    assert page.locator("#job-results script").count() == 0

    links = page.locator("#link-list a")
    expect(page.locator("#result-links .card-title .badge")).to_have_text(str(links.count()))
    expect(page.locator("#link-list")).to_contain_text(f"{site}/about")
    expect(page.locator("#link-list")).to_contain_text("https://example.org/docs")
    for href in links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))"):
        assert href.startswith(("http://", "https://")), href
    expect(links.first).to_have_attribute("rel", "noopener noreferrer nofollow")

    # The sub-request to another loopback address was refused and is listed.
    blocked = page.locator("#blocked-requests")
    expect(blocked).to_be_visible()
    expect(blocked).to_contain_text("127.0.0.2")
    expect(blocked).to_contain_text("loopback")

    # The screenshot loads; the PDF is a PDF.
    image = page.locator("#result-page img.shot-image")
    expect(image).to_have_attribute("alt", re.compile(r"^Screenshot of Test page"))
    image.scroll_into_view_if_needed()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("(img) => img.naturalWidth") > 0
    pdf_href = page.locator("[data-pdf-link]").get_attribute("href")
    response = page.request.get(f"{daphne_url}{pdf_href}")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body()[:5] == b"%PDF-"

    page.locator("summary", has_text="Job log").click()
    expect(page.locator("#job-log")).to_contain_text(f"scraping {site}/")
    page.locator("summary", has_text="Request").click()
    expect(page.locator("#job-params")).to_contain_text('"pdf": true')
    shoot(page, artifacts_dir, "browser-scrape-result")

    assert dialogs == []
    assert page.csp_errors == []


def test_bad_script_refused_then_automation_shows_steps(page, daphne_url, alice, site, artifacts_dir, celery_worker):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, daphne_url)
    page.goto(f"{daphne_url}/browser/")
    page.get_by_role("tab", name="Automate").click()
    expect(page.locator("#panel-automate")).to_be_visible()
    expect(page.locator("#panel-scrape")).to_be_hidden()
    expect(page.locator("#automate-script")).to_have_value(re.compile(r'"action": "goto"'))

    bad = [{"action": "goto", "url": f"{site}/"}, {"action": "wait_for", "selector": "h1"}, {"action": "click"}]
    page.fill("#automate-script", json.dumps(bad))
    page.click("#automate-form button[type=submit]")
    error = page.locator("#automate-error")
    expect(error).to_have_text('step 3 (click): "selector" is required')
    expect(error).to_have_attribute("role", "alert")
    expect(page.locator("#current-job")).to_be_hidden()
    assert not Job.objects.filter(user=alice).exists()
    shoot(page, artifacts_dir, "browser-automate-form")

    page.fill("#automate-script", '[\n  {"action": "goto" "url": "x"}\n]')
    page.click("#automate-form button[type=submit]")
    # Where it broke, in words: not the parser's "Expected ',' or '}' after property value … position 23".
    expect(error).to_have_text(
        "The script is not valid JSON at line 2, column 21: look there for a missing comma, quote or bracket, "
        "or one too many. It should be a list of steps like the example."
    )

    script = [
        {"action": "goto", "url": f"{site}/"},
        {"action": "wait_for", "selector": "h1"},
        {"action": "extract", "selector": "h1", "as": "text"},
        {"action": "extract", "selector": "a", "as": "list"},
        {"action": "screenshot", "full_page": False},
    ]
    page.fill("#automate-title", "Read the test page")
    page.fill("#automate-script", json.dumps(script, indent=2))
    page.click("#automate-form button[type=submit]")
    expect(error).to_be_hidden()
    expect(page.locator("#current-job-title")).to_have_text("Read the test page")
    expect(page.locator("#current-job-subtasks li")).to_have_count(5)
    expect(page.locator("#current-job-link")).to_be_visible(timeout=JOB_DONE)
    expect(page.locator("#current-job-status")).to_have_text("succeeded")
    expect(page.locator('#current-job-subtasks li[data-status="succeeded"]')).to_have_count(5)
    page.click("#current-job-link")

    rows = page.locator("#step-rows tr")
    expect(rows).to_have_count(5)
    expect(rows.locator(".badge", has_text="ok")).to_have_count(5)
    expect(rows.nth(0)).to_contain_text(f"{site}/")
    expect(rows.nth(2).locator("pre")).to_have_text("Hello from the test page")
    expect(rows.nth(3).locator("pre")).to_contain_text('"the docs"')
    shot = rows.nth(4).locator("img")
    expect(shot).to_have_attribute("alt", "Screenshot taken by step 5")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=shot.element_handle())
    expect(page.locator("#result-summary")).to_contain_text("5 of 5")
    shoot(page, artifacts_dir, "browser-automate-result")
    assert dialogs == []
    assert page.csp_errors == []


def test_a_refused_address_fails_the_job_with_its_reason(page, daphne_url, alice, site, artifacts_dir, celery_worker):
    login(page, daphne_url)
    page.goto(f"{daphne_url}/browser/")
    port = site.rsplit(":", 1)[1]
    page.fill("#scrape-url", f"http://127.0.0.2:{port}/")
    page.click("#scrape-form button[type=submit]")
    expect(page.locator("#current-job-status")).to_have_text("failed", timeout=JOB_DONE)
    expect(page.locator("#current-job-error")).to_contain_text("loopback")
    expect(page.locator("#history-rows tr").first.locator(".badge")).to_have_text("failed")
    page.click("#current-job-link")

    expect(page.locator("#job-status")).to_have_text("failed")
    alert = page.locator("#job-error")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("127.0.0.2")
    # The bar of a failed job is drawn in the danger colour where it stopped, not in the running one.
    expect(page.locator("#job-progress")).to_have_attribute("data-state", "failed")
    expect(page.locator("#job-retry")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "browser-failed-light.png"), full_page=True)

    failed_url = page.url
    page.click("#job-retry")
    page.wait_for_url(lambda url: url != failed_url)
    retried = Job.objects.filter(user=alice).order_by("-pk").first()
    assert retried.retry_of_id is not None
    expect(page).to_have_url(f"{daphne_url}/browser/jobs/{retried.pk}/")
    expect(page.locator("#job-status")).to_have_text("failed", timeout=JOB_DONE)
    expect(page.locator("#job-error")).to_be_visible()
    expect(page.locator(".job-meta")).to_contain_text("Retry of job #")
    assert page.csp_errors == []


def test_a_failing_step_keeps_the_steps_before_it(page, daphne_url, alice, site, artifacts_dir, celery_worker):
    login(page, daphne_url)
    page.goto(f"{daphne_url}/browser/#automate")
    expect(page.locator("#panel-automate")).to_be_visible()
    script = [
        {"action": "goto", "url": f"{site}/"},
        {"action": "extract", "selector": "h1"},
        {"action": "click", "selector": "#no-such-button"},
        {"action": "screenshot"},
    ]
    page.fill("#automate-script", json.dumps(script, indent=2))
    page.fill("#automate-timeout", "4")
    page.click("#automate-form button[type=submit]")
    expect(page.locator("#current-job-status")).to_have_text("failed", timeout=JOB_DONE)
    expect(page.locator("#current-job-error")).to_contain_text("step 3 (click)")
    page.click("#current-job-link")

    expect(page.locator("#job-error")).to_be_visible()
    expect(page.locator("#job-error")).to_contain_text("#no-such-button")
    expect(page.locator("#job-error-partial")).to_be_visible()
    rows = page.locator("#step-rows tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(1).locator("pre")).to_have_text("Hello from the test page")
    expect(rows.nth(2).locator(".badge")).to_have_text("failed")
    expect(rows.nth(2).locator(".step-error")).to_contain_text("#no-such-button")
    expect(rows.nth(3).locator(".badge")).to_have_text("skipped")
    expect(page.locator("#result-summary")).to_contain_text("2 of 4")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts_dir / "browser-automate-failed-light.png"), full_page=True)
    assert page.csp_errors == []


def in_another_thread(function, *args, **kwargs) -> None:
    """Calls a core.jobs function as a worker would (Playwright's event loop owns this thread)."""
    thread = threading.Thread(target=function, args=args, kwargs=kwargs)
    thread.start()
    thread.join()


def publish_from_another_thread(job: Job) -> None:
    from core.jobs import publish

    in_another_thread(publish, job)


def finish_from_another_thread(job: Job, status: str, **kwargs) -> None:
    from core.jobs import job_finish

    in_another_thread(job_finish, job, status, **kwargs)


def test_job_page_follows_progress_live_and_cancels(page, daphne_url, alice, artifacts_dir):
    from core.jobs import job_create

    job = job_create(
        user=alice,
        kind="browser.automate",
        title="Waiting for a worker",
        params={"steps": [{"action": "goto", "url": "https://example.com/"}, {"action": "screenshot"}]},
        enqueue=False,
    )
    login(page, daphne_url)
    page.goto(f"{daphne_url}/browser/jobs/{job.pk}/")
    expect(page.locator("#job-status")).to_have_text("pending")
    expect(page.locator("#job-live")).to_be_visible()
    expect(page.locator("#job-connection")).to_have_text("Live")
    expect(page.locator("#job-cancel")).to_be_visible()
    expect(page.locator("#job-retry")).to_be_hidden()

    # An update published by a worker reaches the open page without a reload.
    job.status = Job.Status.RUNNING
    job.progress = 0.5
    job.subtasks = [
        {"id": 0, "title": "goto https://example.com/", "status": "succeeded"},
        {"id": 1, "title": "screenshot", "status": "running"},
    ]
    job.save(update_fields=["status", "progress", "subtasks", "updated_at"])
    publish_from_another_thread(job)
    expect(page.locator("#job-status")).to_have_text("running")
    expect(page.locator("#job-progress-label")).to_have_text("Running… 50%")
    expect(page.locator("#job-subtasks li")).to_have_count(2)
    expect(page.locator("#job-subtasks li").nth(0)).to_contain_text("done")
    expect(page.locator("#job-subtasks li").nth(1)).to_contain_text("running")
    assert page.locator("#job-progress").evaluate("(p) => p.value") == 0.5
    shoot(page, artifacts_dir, "browser-job-live")

    # Cancel asks the worker to stop at its next step; the page shows that until the job ends.
    page.click("#job-cancel")
    expect(page.locator("#job-progress-label")).to_contain_text("Cancelling")
    expect(page.locator("#job-cancel")).to_be_disabled()
    job.refresh_from_db()
    assert job.cancel_requested
    goto = {
        "index": 0,
        "action": "goto",
        "status": "ok",
        "result": {"url": "https://example.com/", "status": 200},
        "ms": 9,
    }
    partial = {"steps": [goto, {"index": 1, "action": "screenshot", "status": "skipped"}], "cancelled": True}
    finish_from_another_thread(job, Job.Status.CANCELLED, result=partial, error="cancelled")
    expect(page.locator("#job-status")).to_have_text("cancelled")
    expect(page.locator("#job-cancelled")).to_be_visible()
    expect(page.locator("#job-live")).to_be_hidden()
    expect(page.locator("#job-cancel")).to_be_hidden()
    expect(page.locator("#job-retry")).to_be_visible()
    expect(page.locator("#job-finished-wrap")).to_be_visible()
    expect(page.locator("#step-rows tr")).to_have_count(2)
    expect(page.locator("#step-rows tr").nth(0)).to_contain_text("ok")
    expect(page.locator("#step-rows tr").nth(1)).to_contain_text("skipped")
    expect(page.locator("#result-summary")).to_contain_text("cancelled")
    page.screenshot(path=str(artifacts_dir / "browser-job-cancelled-light.png"), full_page=True)
    assert page.csp_errors == []
