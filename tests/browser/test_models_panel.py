"""The model control panel in Chromium: live backend state, a benchmark with progress, token count."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_shell import login, page  # noqa: F401 - the page fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_panel_shows_backends_runs_a_benchmark_and_counts_tokens(page, daphne_url, staff, artifacts_dir, celery_worker):  # noqa: F811
    login(page, daphne_url, "charlie")
    page.goto(f"{daphne_url}/models/")
    rows = page.locator("#backend-rows tr")
    expect(rows.first).to_contain_text("testllm")
    expect(rows.first).to_contain_text("up")
    expect(rows.first).to_contain_text("closed")
    model_row = page.locator("#model-rows tr").first
    expect(model_row).to_contain_text("gemma-3-270m")
    expect(model_row).to_contain_text("loaded")

    model_row.get_by_role("button", name="Benchmark gemma-3-270m on testllm").click()
    expect(page.locator("#bench-progress")).to_be_visible()
    expect(page.locator("#bench-message")).to_contain_text("Done:", timeout=90_000)
    expect(page.locator("#bench-rows tr").first).to_contain_text("gemma-3-270m")

    page.fill("#tokenize-text", "hello world")
    page.click("#tokenize-form button[type=submit]")
    expect(page.locator("#tokenize-result")).to_contain_text("3 tokens (exact")
    page.screenshot(path=str(artifacts_dir / "models-panel.png"), full_page=True)
    assert page.csp_errors == []
