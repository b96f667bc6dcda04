"""A template variable's default survives a change of its type in the template editor: it is saved, it is
there after a reload, and the New task form with that template uses it without asking for the value."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orchestration.models import Task, Template
from tests.fixtures.pages import RUN, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_gateway_state", "no_script_errors"),
]


def test_a_default_set_after_changing_the_type_is_saved_and_used_by_the_task_form(
    page,
    daphne_url,
    alice,
    scripted,
    artifacts_dir,
    celery_worker,
):
    login(page, daphne_url)
    page.goto(f"{daphne_url}/orchestration/templates/")
    page.fill("#item-name", "Capital")
    page.fill("#item-body", "What is the capital of {{ country }}? Answer in {{ sentences }} sentences.")
    page.click("#detect-variables")
    rows = page.locator("#spec-rows .spec-row")
    expect(rows).to_have_count(2)
    rows.nth(0).locator(".spec-default").fill("France")
    rows.nth(1).locator(".spec-type").select_option("int")  # the default control is replaced for the new type
    rows.nth(1).locator(".spec-default").fill("2")
    page.click("#item-save")
    expect(page.locator("#item-status")).to_have_text("Saved.")
    template = Template.objects.get()
    assert [(v["name"], v["type"], v["default"]) for v in template.variables] == [
        ("country", "str", "France"),
        ("sentences", "int", 2),
    ]

    # A second change of type on the saved template: a default that still fits the new type is kept.
    page.reload()
    rows = page.locator("#spec-rows .spec-row")
    expect(rows.nth(1).locator(".spec-type")).to_have_value("int")
    expect(rows.nth(1).locator(".spec-default")).to_have_value("2")
    expect(rows.nth(0).locator(".spec-default")).to_have_value("France")
    rows.nth(1).locator(".spec-type").select_option("float")
    expect(rows.nth(1).locator(".spec-default")).to_have_value("2")
    rows.nth(1).locator(".spec-type").select_option("bool")
    rows.nth(1).locator(".spec-default").select_option("true")
    rows.nth(1).locator(".spec-type").select_option("int")
    rows.nth(1).locator(".spec-default").fill("3")
    page.click("#item-save")
    expect(page.locator("#item-status")).to_have_text("Saved.")
    template.refresh_from_db()
    assert template.variables[1]["type"] == "int" and template.variables[1]["default"] == 3
    page.reload()
    expect(page.locator("#spec-rows .spec-row").nth(1).locator(".spec-default")).to_have_value("3")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts_dir / "orchestration-template-defaults.png"), full_page=True)

    # The New task form takes the defaults: nothing is demanded, the preview and the task use them.
    page.goto(f"{daphne_url}/orchestration/tasks/new/?template={template.pk}")
    expect(page.locator("#mode-template")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tv-country")).to_have_attribute("placeholder", "Default: France")
    expect(page.locator("#tv-sentences")).to_have_attribute("placeholder", "Default: 3")
    expect(page.locator('.var-field[data-variable="sentences"]')).to_contain_text("optional")
    expect(page.locator("#template-preview")).to_have_text("What is the capital of France? Answer in 3 sentences.")
    page.locator("#model-list label", has_text="fake-agree-1").click()
    page.locator("#model-list label", has_text="fake-agree-2").click()
    page.click("#task-submit")
    page.wait_for_url(re.compile(r"/orchestration/tasks/\d+/$"))
    task = Task.objects.get()
    assert task.prompt == "What is the capital of France? Answer in 3 sentences."
    assert task.variables == {"country": "France", "sentences": 3}
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=RUN)
