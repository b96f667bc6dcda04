"""The page shell in real headless Chromium: log in, navigate, dark mode remembered, no CSP errors."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.fixtures.pages import login
from tests.fixtures.pages import page as page  # re-exported for test_orchestration_pages until it switches

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
