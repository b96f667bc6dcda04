"""The model control panel in Chromium: live backend state, a benchmark with progress, token count."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.pages import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_gateway_state"),
]


def test_panel_shows_backends_runs_a_benchmark_and_counts_tokens(page, daphne_url, staff, artifacts_dir, celery_worker):
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


def test_with_one_model_compare_says_why_it_is_off_and_load_unload_says_why_it_is_missing(
    page,
    daphne_url,
    staff,
    celery_worker,
):
    login(page, daphne_url, "charlie")
    page.goto(f"{daphne_url}/models/")
    expect(page.locator("#model-rows tr").first).to_contain_text("gemma-3-270m")
    # The test stack's llama.cpp serves one model: nothing to compare it with.
    expect(page.locator("#compare-too-few")).to_be_visible()
    expect(page.locator("#compare-submit")).to_be_disabled()
    # llama-cpp-python's server cannot load or unload on request: the row says so instead of showing nothing.
    expect(page.locator("#model-rows tr").first).to_contain_text("load/unload: not on this server")


def test_an_estimated_token_count_says_estimate_once(page, daphne_url, staff, fake, celery_worker):
    from tests.fixtures.llm import make_backend

    make_backend("scripted", fake.url)  # an OpenAI-compatible server without a tokenizer endpoint
    login(page, daphne_url, "charlie")
    page.goto(f"{daphne_url}/models/")
    expect(page.locator("#model-rows")).to_contain_text("fake-agree-1")
    page.fill("#tokenize-text", "hello world, twelve chars")
    page.click("#tokenize-form button[type=submit]")
    result = page.locator("#tokenize-result")
    expect(result).to_contain_text("tokens (estimate (~4 characters a token))")
    expect(result).not_to_contain_text("estimate: estimate")


def test_a_new_backend_form_tests_the_connection_before_saving(page, daphne_url, staff, llm_url, artifacts_dir):
    from core import embedded

    login(page, daphne_url, "charlie")
    page.goto(f"{daphne_url}/models/backends/new/")
    expect(page.get_by_label("Remove the stored key")).to_have_count(0)  # nothing stored on a new backend
    page.fill("#id_name", "probe")
    page.fill("#id_base_url", llm_url)
    page.select_option("#id_kind", "llamacpp")
    page.click("#test-connection")
    result = page.locator("#connection-result")
    expect(result).to_contain_text("Connected in", timeout=20_000)
    expect(result).to_contain_text("1 model")
    expect(result).to_contain_text("gemma-3-270m")
    page.screenshot(path=str(artifacts_dir / "backend-form-test-ok.png"), full_page=True)

    page.fill("#id_base_url", f"http://127.0.0.1:{embedded.free_port()}/v1")  # nobody listens there
    page.click("#test-connection")
    expect(result).to_have_attribute("data-state", "fail", timeout=20_000)
    expect(result).to_contain_text("did not answer")
    from llm.models import Backend

    assert not Backend.objects.filter(name="probe").exists()  # testing saved nothing
