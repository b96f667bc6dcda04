"""One time format across the app: the same moment reads the same on every page ("Dec 4, 2026, 1:12 PM",
the reader's locale and zone), whether the server rendered it or a page script did."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.pages import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHAPE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M$")


def times(page) -> list[str]:
    return page.locator("time[data-local]").evaluate_all("ts => ts.map(t => t.textContent.trim())")


def test_chat_tokens_and_knowledge_write_moments_alike(page, daphne_url, alice):
    from chat import services as chat_services
    from core.services import api_token_create
    from knowledge.models import KnowledgeBase

    chat_services.chat_start(user=alice, content="When was this?")
    api_token_create(user=alice, name="script")
    KnowledgeBase.objects.create(user=alice, name="Notes")
    login(page, daphne_url)
    seen = {}
    for path in ("/chat/", "/account/tokens/", "/knowledge/"):
        page.goto(f"{daphne_url}{path}")
        expect(page.locator("time[data-local]").first).to_be_visible()
        page.wait_for_function(
            "re => [...document.querySelectorAll('time[data-local]')].every(t => new RegExp(re).test(t.textContent.trim()))",
            arg=r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M$",
            timeout=10_000,
        )
        seen[path] = times(page)
    for path, texts in seen.items():
        assert texts, path
        for text in texts:
            assert SHAPE.match(text), (path, text)
    # The chat sidebar after its list is refreshed by script reads the same as the server-rendered one.
    page.goto(f"{daphne_url}/chat/")
    rendered = page.locator(".conversation-meta time").first.inner_text()
    page.fill("#conversation-search", "When")
    expect(page.locator(".conversation-meta time")).to_have_count(1)
    page.wait_for_timeout(500)
    assert page.locator(".conversation-meta time").first.inner_text() == rendered
