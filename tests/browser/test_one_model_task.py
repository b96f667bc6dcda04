"""A task with one model in Chromium: the New task page says, before anything runs, that a strategy which
compares answers needs two models; the finished task says its answer is unchecked instead of "High
confidence 100%"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orchestration.models import Task
from tests.fixtures.pages import RUN, login, shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_gateway_state", "no_script_errors"),
]


def strategy(page, name: str) -> None:
    page.locator(".strategy-card", has_text=name).click()


def test_one_model_is_warned_about_before_the_run_and_ends_unchecked(
    page,
    daphne_url,
    alice,
    scripted,
    artifacts_dir,
    celery_worker,
):
    login(page, daphne_url)
    page.goto(f"{daphne_url}/orchestration/tasks/new/")
    notice = page.locator("#strategy-notice")
    page.fill("#task-prompt", "What is the capital of France?")
    expect(page.locator("#model-list label", has_text="fake-agree-1")).to_be_visible()
    expect(notice).to_be_hidden()  # no model yet: the form's own error says so on submit

    page.locator("#model-list label", has_text="fake-agree-1").click()
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(
        "Cross-validation needs at least two models; with one, its answer is not checked against another"
    )
    strategy(page, "Vote")
    expect(notice).to_contain_text("A vote needs at least two models")
    strategy(page, "Judge")
    expect(notice).to_contain_text("Judging needs at least two models")
    page.locator("#model-list label", has_text="fake-agree-2").click()
    expect(notice).to_be_hidden()  # two models: each is checked by the other
    page.locator("#model-list label", has_text="fake-agree-2").click()
    strategy(page, "Cross-validate")
    expect(notice).to_be_visible()
    shoot(page, artifacts_dir, "orchestration-new-task-one-model")
    page.set_viewport_size({"width": 1280, "height": 800})

    # It still runs (one model is allowed), and ends saying that nothing checked the answer.
    page.click("#task-submit")
    page.wait_for_url(re.compile(r"/orchestration/tasks/\d+/$"))
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=RUN)
    task = Task.objects.get()
    assert task.decision["method"] == "single" and task.confidence <= 0.5
    expect(page.locator("#final-answer")).to_have_text("Paris is the capital of France.")
    expect(page.locator("#confidence-label")).to_have_text("Unchecked")
    expect(page.locator("#final-confidence")).not_to_contain_text("High confidence")
    expect(page.locator("#confidence-value")).to_have_text(re.compile(r"^\d+%$"))
    assert int(page.locator("#confidence-value").inner_text().rstrip("%")) <= 50
    expect(page.locator("#confidence-why")).to_contain_text("Only one model answered")
    expect(page.locator("#decision-reasoning")).to_contain_text("nothing to compare")
    shoot(page, artifacts_dir, "orchestration-task-one-model")
