"""The chat page in Chromium: send, watch tokens stream, stop, reload mid-answer and resume."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.models import Message
from tests.fixtures.llm import make_backend
from tests.fixtures.pages import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_gateway_state"),
]


@pytest.fixture
def slow_fake(fake):
    make_backend("f1", fake.url)
    fake.state.tokens_per_s = 25
    fake.state.answer_tokens = 120
    return fake


def send(page, text: str) -> None:
    page.fill("#composer-input", text)
    page.click("#send-button")


def test_send_stream_stop_and_resume_after_reload(page, daphne_url, alice, slow_fake, artifacts_dir):
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/")
    expect(page.locator("#connection-status")).to_contain_text("Connected")
    page.select_option("#model-select", "fake-ok")

    # 1. send and watch tokens arrive
    send(page, "Tell me a long story")
    expect(page.locator('.message[data-role="assistant"]')).to_have_count(1)
    answer = page.locator('.message[data-role="assistant"]').last
    expect(answer).to_have_attribute("data-status", "streaming")
    expect(page.locator("#stop-button")).to_be_visible()
    expect(answer.locator(".message-body")).to_contain_text("quick brown")
    first_len = len(answer.locator(".message-body").inner_text())
    page.wait_for_timeout(600)
    assert len(answer.locator(".message-body").inner_text()) > first_len  # still growing

    # 2. stop
    page.click("#stop-button")
    expect(answer).to_have_attribute("data-status", "partial")
    stopped_id = int(answer.get_attribute("data-message-id"))
    assert Message.objects.get(pk=stopped_id).status == "partial"
    expect(page).to_have_url(f"{daphne_url}/chat/c/{Message.objects.get(pk=stopped_id).conversation_id}/")

    # 3. reload mid-answer: the running answer resumes and completes
    send(page, "Another one")
    expect(page.locator('.message[data-role="assistant"]')).to_have_count(2)
    answer = page.locator('.message[data-role="assistant"]').last
    expect(answer.locator(".message-body")).to_contain_text("quick")
    running_id = int(answer.get_attribute("data-message-id"))
    page.reload()
    resumed = page.locator(f'.message[data-message-id="{running_id}"]')
    expect(resumed).to_have_attribute("data-status", "complete", timeout=30_000)
    stored = Message.objects.get(pk=running_id)
    assert stored.status == "complete" and len(stored.content.split()) == 120
    assert resumed.locator(".message-body").inner_text().split() == stored.content.split()

    # 4. dark mode, and a screenshot for the record
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.wait_for_timeout(400)  # let the colour transitions finish before the picture
    page.screenshot(path=str(artifacts_dir / "chat-dark.png"), full_page=False)
    assert page.csp_errors == []


def test_model_html_never_runs_as_script(page, daphne_url, alice):
    from chat import services

    started = services.chat_start(user=alice, content="show me html")
    services.message_finish(
        message_id=started.assistant_message.pk,
        status="complete",
        content='Here: <img src=x onerror="document.title=\'pwned\'"> <script>document.title="pwned"</script> **bold**',
    )
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/c/{started.conversation.pk}/")
    body = page.locator(f'.message[data-message-id="{started.assistant_message.pk}"] .message-body')
    expect(body.locator("strong")).to_have_text("bold")
    page.wait_for_timeout(300)
    assert page.title() != "pwned"
    assert body.locator("script").count() == 0 and body.locator("img[onerror]").count() == 0


def test_a_bad_rating_with_a_note_is_thanked_and_stored(page, daphne_url, alice, fake):
    make_backend("f1", fake.url)
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/")
    expect(page.locator("#connection-status")).to_contain_text("Connected")
    page.select_option("#model-select", "fake-ok")
    send(page, "Hello")
    answer = page.locator('.message[data-role="assistant"]').last
    expect(answer).to_have_attribute("data-status", "complete", timeout=30_000)
    answer.get_by_role("button", name="Bad answer").click()
    answer.locator(".rating-note-input").fill("It made up a date.")
    answer.get_by_role("button", name="Send feedback").click()
    expect(answer.locator(".rating-thanks")).to_have_text("Thanks: your note was saved with the rating.")
    expect(answer.locator(".rating-note")).to_be_hidden()
    stored = Message.objects.get(pk=int(answer.get_attribute("data-message-id")))
    assert (stored.rating, stored.rating_note) == (-1, "It made up a date.")


def test_regenerate_replaces_the_answer_in_place_with_versions_to_flip(page, daphne_url, alice, fake, artifacts_dir):
    make_backend("f1", fake.url)
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/")
    expect(page.locator("#connection-status")).to_contain_text("Connected")
    page.select_option("#model-select", "fake-ok")
    answers = page.locator('.message[data-role="assistant"]')
    send(page, "Question one")
    expect(answers.last).to_have_attribute("data-status", "complete", timeout=30_000)
    first_id = int(answers.first.get_attribute("data-message-id"))
    send(page, "Question two")
    expect(answers).to_have_count(2)
    expect(answers.last).to_have_attribute("data-status", "complete", timeout=30_000)

    # Regenerate the answer to question one: the new answer stands under question one, not at the end.
    answers.first.get_by_role("button", name="Regenerate answer").click()
    expect(answers.first).not_to_have_attribute("data-message-id", str(first_id))
    expect(answers.first).to_have_attribute("data-status", "complete", timeout=30_000)
    new_id = int(answers.first.get_attribute("data-message-id"))
    roles = page.locator(".message").evaluate_all("ns => ns.map(n => n.dataset.role)")
    assert roles == ["user", "assistant", "user", "assistant"]
    nav = answers.first.get_by_role("group", name="Versions of this answer")
    expect(nav).to_contain_text("2 / 2")
    page.screenshot(path=str(artifacts_dir / "chat-versions.png"), full_page=False)

    # Flip back to the first version, and forward again; a reload keeps the choice.
    nav.get_by_role("button", name="Previous version").click()
    expect(answers.first).to_have_attribute("data-message-id", str(first_id))
    expect(answers.first.get_by_role("group", name="Versions of this answer")).to_contain_text("1 / 2")
    page.reload()
    expect(answers).to_have_count(2)
    expect(answers.first).to_have_attribute("data-message-id", str(first_id))
    answers.first.get_by_role("button", name="Next version").click()
    expect(answers.first).to_have_attribute("data-message-id", str(new_id))
    assert Message.objects.get(pk=first_id).hidden and not Message.objects.get(pk=new_id).hidden
    assert page.csp_errors == []
