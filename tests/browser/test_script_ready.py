"""Controls that only a page's module makes work wait for it: disabled in the HTML (`data-needs-script`) and
enabled once the module has attached its handlers. A click or submit that lands earlier must not be lost
or turn into a native submit that reloads the page (the CI flakes where a test clicked too early)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chat.models import Conversation
from knowledge import services as knowledge_services
from tests.fixtures.pages import login

pytestmark = [pytest.mark.django_db(transaction=True)]

ALL_ENABLED = """() => {
  const controls = [...document.querySelectorAll("[data-needs-script]")];
  return controls.length > 0 && controls.every((c) => !c.disabled);
}"""
PAGE_MODULES = re.compile(r".*/static/(chat|knowledge|browser|orchestration)/[^/]*\.js.*")


def pages(alice) -> dict[str, int]:
    """Each page with script-only controls and how many it has at least."""
    kb = knowledge_services.kb_create(user=alice, name="Notes")
    source = knowledge_services.source_add_text(user=alice, kb=kb, title="Memo", text="Hello there.")
    Conversation.objects.create(user=alice, title="Earlier chat")
    return {
        "/chat/": 3,  # the conversation's rename and delete, the settings' save
        "/knowledge/": 1,
        f"/knowledge/{kb.pk}/": 10,  # tabs, edit, add text/page, the row's delete, search, re-embed, delete
        f"/knowledge/{kb.pk}/sources/{source.pk}/": 1,
        "/browser/": 5,
        "/orchestration/tasks/new/": 2,
        "/orchestration/workflows/new/": 2,
        "/orchestration/templates/": 3,
    }


def test_script_only_controls_are_disabled_until_the_module_runs(page, daphne_url, alice):
    login(page, daphne_url)
    expected = pages(alice)
    page.route(PAGE_MODULES, lambda route: route.abort())
    for path, at_least in expected.items():
        page.goto(f"{daphne_url}{path}")
        controls = page.locator("[data-needs-script]")
        assert controls.count() >= at_least, path
        for i in range(controls.count()):
            expect(controls.nth(i)).to_be_disabled()

    page.unroute(PAGE_MODULES)
    for path in expected:
        page.goto(f"{daphne_url}{path}")
        # Read in one go in the page: the module may replace rows (and their buttons) while we look.
        page.wait_for_function(ALL_ENABLED, timeout=15_000)
    assert page.csp_errors == []
