"""The page shell in real headless Chromium: log in, navigate, dark mode remembered, no CSP errors."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@pytest.fixture
def page(daphne_url, monkeypatch):
    from llm.services import backends_sync_from_settings

    backends_sync_from_settings()  # as `make run` does at start
    # Playwright's sync API runs an event loop in this thread; the ORM work is done before it starts.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(color_scheme="light", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.csp_errors = []
        page.on(
            "console",
            lambda msg: page.csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        yield page
        browser.close()


def login(page, base: str, username: str = "alice") -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/")


def test_login_shell_and_dark_mode_toggle(page, daphne_url, alice, artifacts_dir, celery_worker):
    login(page, daphne_url)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("link", name="Chat").first).to_be_visible()
    expect(page.locator("#main")).to_be_visible()
    expect(page.locator("#backend-status")).to_contain_text("1/1", timeout=20_000)

    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "light")  # follows the system (light here)
    page.click("#theme-toggle")
    expect(html).to_have_attribute("data-theme", "dark")
    page.screenshot(
        path=str(artifacts_dir / f"shell-dark-{os.environ.get('ORCH_TEST_STACK', 'x')}.png"), full_page=True
    )
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")  # remembered
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.click("#theme-toggle")
    expect(html).to_have_attribute("data-theme", "light")
    assert page.csp_errors == []


def test_phone_layout_collapses_the_navigation(page, daphne_url, alice, artifacts_dir):
    page.set_viewport_size({"width": 375, "height": 740})
    login(page, daphne_url)
    nav_toggle = page.locator("#nav-toggle")
    expect(nav_toggle).to_be_visible()
    expect(nav_toggle).to_have_attribute("aria-expanded", "false")
    nav_toggle.click()
    expect(nav_toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("link", name="Monitoring").first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "shell-phone.png"), full_page=True)
    assert page.csp_errors == []


def test_the_admin_follows_the_dark_choice_made_in_the_app(page, daphne_url, staff, celery_worker):
    login(page, daphne_url, "charlie")
    page.click("#theme-toggle")  # light (the system) → dark
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(f"{daphne_url}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
