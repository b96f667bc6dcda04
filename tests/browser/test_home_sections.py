"""The home page and the navigation in Chromium: what is ready says so and opens; what is not built yet is
marked as coming and never leads to an error page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.navigation import SECTIONS
from tests.fixtures.pages import login, shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UPCOMING = [s for s in SECTIONS if not s.ready and not s.staff_only]


def test_home_shows_chat_as_ready_and_opens_it(page, daphne_url, alice):
    login(page, daphne_url)
    card = page.locator(".section-card").filter(has=page.get_by_role("heading", name="Chat", exact=True))
    expect(card.locator(".badge")).to_have_text("Ready")
    expect(card).not_to_contain_text("Coming")
    card.get_by_role("link", name="Chat").click()
    expect(page).to_have_url(f"{daphne_url}/chat/")


def test_upcoming_sections_are_marked_as_coming_and_lead_nowhere_broken(
    page,
    daphne_url,
    alice,
    artifacts_dir,
):
    assert UPCOMING, "nothing is upcoming any more: this test can go"
    login(page, daphne_url)
    nav = page.get_by_role("navigation", name="Main")
    for section in UPCOMING:
        card = page.locator(f'.section-card[data-upcoming="{section.slug}"]')
        expect(card.locator(".badge")).to_have_text("Coming soon")
        expect(card.get_by_role("link")).to_have_count(0)  # no dead end to click into
        entry = nav.locator(f'[data-upcoming="{section.slug}"]')
        expect(entry).to_contain_text(section.label)
        expect(entry).to_contain_text("Soon")
        expect(nav.get_by_role("link", name=section.label)).to_have_count(0)
    shoot(page, artifacts_dir, "home-sections")
    page.set_viewport_size({"width": 1280, "height": 800})

    # An old bookmark or a typed address still gets a page that plainly says it is coming, not an error.
    for section in UPCOMING:
        response = page.goto(f"{daphne_url}{section.path}")
        assert response.status == 200
        expect(page.get_by_role("heading", level=1)).to_have_text(section.label)
        expect(page.locator("#main")).to_contain_text("Coming soon")
        expect(page.locator("#main")).to_contain_text(f"{section.label} is not available yet")
