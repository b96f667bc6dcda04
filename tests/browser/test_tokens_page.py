"""The API tokens page in Chromium: a reload after creating a token creates no second one (the secret is still
shown once), and Revoke asks in the app's own dialog first: Cancel keeps the token, confirming revokes it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.pages import login, shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_native_dialogs_or_script_errors(page):
    """A window.confirm() would be auto-dismissed by Playwright and silently cancel: fail on any instead."""
    native: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield
    assert native == []
    assert errors == []


def rows(page):
    return page.locator(".tokens-list tbody tr")


def test_reloading_after_creating_a_token_does_not_create_another(page, daphne_url, alice, artifacts_dir):
    login(page, daphne_url)
    page.goto(f"{daphne_url}/account/tokens/")
    page.fill("#token-name", "backup script")
    page.click("button:has-text('Create token')")
    expect(page).to_have_url(f"{daphne_url}/account/tokens/")
    secret = page.locator("#new-token").input_value()
    assert re.fullmatch(r"orch_[A-Za-z0-9_-]{40,}", secret)
    expect(rows(page)).to_have_count(1)
    shoot(page, artifacts_dir, "tokens-created")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.reload()
    expect(rows(page)).to_have_count(1)
    expect(page.locator("#new-token")).to_have_count(0)  # shown once: not again on a reload
    assert secret not in page.content()


def test_revoke_asks_first_cancel_keeps_the_token_confirm_revokes_it(page, daphne_url, alice, artifacts_dir):
    from core.services import api_token_create

    api_token_create(user=alice, name="deploy")
    login(page, daphne_url)
    page.goto(f"{daphne_url}/account/tokens/")
    row = rows(page).filter(has_text="deploy")
    expect(row).to_contain_text("Active")

    row.get_by_role("button", name="Revoke token deploy").click()
    dialog = page.get_by_role("dialog", name="Revoke the token “deploy”?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("cannot be undone")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # Enter does not revoke by accident
    page.screenshot(path=str(artifacts_dir / "tokens-revoke-dialog.png"))
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    page.reload()
    expect(rows(page).filter(has_text="deploy")).to_contain_text("Active")

    rows(page).filter(has_text="deploy").get_by_role("button", name="Revoke token deploy").click()
    page.keyboard.press("Escape")  # Escape cancels too
    expect(dialog).to_be_hidden()
    expect(rows(page).filter(has_text="deploy")).to_contain_text("Active")

    rows(page).filter(has_text="deploy").get_by_role("button", name="Revoke token deploy").click()
    dialog.get_by_role("button", name="Revoke token").click()
    expect(page.locator("#main")).to_contain_text("Token “deploy” revoked")
    expect(rows(page).filter(has_text="deploy")).to_contain_text("Revoked")
    expect(rows(page).filter(has_text="deploy").get_by_role("button", name="Revoke token deploy")).to_have_count(0)
