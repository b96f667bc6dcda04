"""The chat page's knowledge side in Chromium: pick knowledge bases in the settings, see the sources an
answer cites (live and from history), and the hallucination check on a message (verdict badge, flagged
sentences highlighted, details, notice); a long conversation of checked answers stays fast."""

from __future__ import annotations

import json
import time

import pytest
from asgiref.sync import async_to_sync
from playwright.sync_api import expect

from chat import services
from chat.models import Conversation, Message
from core import jobs
from knowledge import retrieval
from knowledge import services as kb_services
from llm import catalogue
from tests.fixtures.jobs import wait_job
from tests.fixtures.llm import make_backend
from tests.fixtures.pages import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_gateway_state"),
]

DOCS = {
    "Bread": "# Baking bread\n\nYeast ferments the sugars in flour and releases carbon dioxide, which makes the "
    "dough rise. Knead the dough for ten minutes and bake it at 220 degrees.",
    "Tides": "# Tides\n\nThe gravity of the moon pulls the oceans and causes tides. Spring tides happen at new moon "
    "and full moon, neap tides at the quarters.",
    "Git": "# Version control\n\nGit records commits in a repository. A branch points at a commit; merging joins "
    "two branches and rebasing replays commits on another base.",
}


@pytest.fixture(autouse=True)
def fresh_index():
    retrieval.cache_clear()
    yield
    retrieval.cache_clear()


@pytest.fixture
def notes(alice, llama2):
    """Alice's base of three pasted texts, ingested (chunked and embedded by the second llama.cpp server)."""
    kb = kb_services.kb_create(user=alice, name="Kitchen and sea", description="Bread, tides and git")
    for title, text in DOCS.items():
        source = kb_services.source_add_text(user=alice, kb=kb, title=title, text=text)
        job = jobs.job_run(source.job_id) or wait_job(source.job_id)
        assert job.status == "succeeded", job.error
    return kb


@pytest.fixture
def faked(fake):
    """The scripted backend, known to daphne at once (ingesting `notes` may have cached a catalogue without it)."""
    make_backend("f1", fake.url)
    async_to_sync(catalogue.catalogue_invalidate)()
    return fake


def ws_frames(page) -> tuple[list[dict], list[dict]]:
    """Every JSON frame the page sends and receives on /ws, recorded from now on."""
    sent: list[dict] = []
    received: list[dict] = []

    def watch(ws) -> None:
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: received.append(json.loads(payload)))

    page.on("websocket", watch)
    return sent, received


# notes first: ingestion needs no running loop
def test_pick_a_base_and_the_answer_cites_it_live_and_after_reload(
    notes,
    faked,
    bob,
    page,
    daphne_url,
    artifacts_dir,
):
    kb_services.kb_create(user=bob, name="Bob's secrets", description="")
    sent, _ = ws_frames(page)
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/")
    expect(page.locator("#connection-status")).to_contain_text("Connected")
    page.select_option("#model-select", "fake-ok")

    # the settings list alice's bases only, with their size; ticking one shows in the summary
    page.click("#chat-settings > summary")
    expect(page.locator("#chat-settings > summary")).to_contain_text("Instructions, model and knowledge")
    choice = page.locator(".chat-kb-item", has_text="Kitchen and sea")
    expect(choice).to_contain_text("3 sources")
    expect(page.locator(".chat-kb-item")).to_have_count(1)  # not bob's
    choice.locator("input").check()
    expect(page.locator("#settings-summary")).to_have_text("1 knowledge base")
    expect(page.locator("#settings-status")).to_have_text("The first message will use these knowledge bases.")
    page.locator("#chat-settings").screenshot(path=str(artifacts_dir / "chat-settings-knowledge.png"))
    page.click("#chat-settings > summary")  # closed: the answer gets the room

    page.fill("#composer-input", "Why does the dough rise when yeast ferments?")
    page.click("#send-button")
    answer = page.locator('.message[data-role="assistant"]').last
    expect(answer).to_have_attribute("data-status", "complete", timeout=30_000)
    send = next(f for f in sent if f.get("type") == "chat:send")
    assert send["knowledge_base_ids"] == [notes.pk] and "validate" not in send

    stored = Message.objects.get(pk=int(answer.get_attribute("data-message-id")))
    conversation = stored.conversation
    assert list(conversation.knowledge_bases.values_list("pk", flat=True)) == [notes.pk]
    first = stored.citations[0]
    assert first["source_title"] == "Bread"

    def sources_shown() -> None:
        sources = answer.locator(".message-sources")
        expect(sources).to_be_visible()
        expect(sources.locator(".source-item")).to_have_count(len(stored.citations))
        link = sources.locator(".source-item").first.locator("a.source-title")
        expect(link).to_have_text("Bread")
        expect(link).to_have_attribute("href", first["page"])
        expect(sources.locator(".source-item").first).to_contain_text("[1]")
        expect(sources.locator(".source-item").first).to_contain_text("Kitchen and sea")
        expect(link).to_have_attribute("title", first["excerpt"])

    sources_shown()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "chat-grounded.png"), full_page=False)

    # the [1] link works: it opens the source at the cited chunk
    with page.context.expect_page() as opened:
        answer.locator("a.source-title").first.click()
    source_page = opened.value
    source_page.wait_for_load_state()
    assert source_page.url == f"{daphne_url}{first['page']}"
    expect(source_page.locator("#chunk-0")).to_contain_text("Yeast ferments")
    source_page.close()

    # after a reload: the sources again, from history, and the base still ticked
    page.reload()
    answer = page.locator(f'.message[data-message-id="{stored.pk}"]')
    expect(answer).to_have_attribute("data-status", "complete")
    sources_shown()
    expect(page.locator("#settings-summary")).to_have_text("1 knowledge base")
    page.click("#chat-settings > summary")
    expect(page.locator(".chat-kb-item input").first).to_be_checked()
    expect(page.locator(".chat-kb-item")).to_have_count(1)

    # unticking and saving detaches the base
    page.locator(".chat-kb-item input").first.uncheck()
    expect(page.locator("#settings-status")).to_contain_text("Not saved yet")
    page.click("#settings-save")
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    expect(page.locator("#settings-summary")).to_have_text("")
    assert not conversation.knowledge_bases.exists()
    assert page.csp_errors == []


# faked first: no event loop running yet
def test_no_bases_yet_links_to_the_knowledge_page_and_the_check_switch_is_remembered_and_sent(
    faked,
    alice,
    page,
    daphne_url,
    artifacts_dir,
):
    sent, received = ws_frames(page)
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/")
    expect(page.locator("#connection-status")).to_contain_text("Connected")
    page.click("#chat-settings > summary")
    empty = page.locator(".chat-kb-empty")
    expect(empty).to_contain_text("No knowledge bases yet — create one")
    expect(empty.get_by_role("link", name="create one")).to_have_attribute("href", "/knowledge/")

    switch = page.get_by_role("switch", name="Check answers for hallucinations")
    expect(switch).not_to_be_checked()
    switch.check()
    expect(page.locator("#settings-summary")).to_have_text("answers checked")
    page.reload()
    expect(page.locator("#settings-summary")).to_have_text("answers checked")
    page.click("#chat-settings > summary")
    expect(page.get_by_role("switch", name="Check answers for hallucinations")).to_be_checked()
    expect(page.locator("#connection-status")).to_contain_text("Connected")
    page.select_option("#model-select", "fake-ok")
    page.click("#chat-settings > summary")  # closed again
    # every text the typing indicator shows, however briefly
    page.evaluate(
        """() => { window.typingSeen = []; const t = document.querySelector("#typing-indicator .typing-text");
        new MutationObserver(() => window.typingSeen.push(t.textContent)).observe(t, {childList: true}); }"""
    )
    page.fill("#composer-input", "Is this checked?")
    page.click("#send-button")
    answer = page.locator('.message[data-role="assistant"]').last
    expect(answer).to_have_attribute("data-status", "complete", timeout=60_000)
    send = next(f for f in sent if f.get("type") == "chat:send")
    assert send["validate"] is True and "knowledge_base_ids" not in send
    # the server checked it: "Checking the answer…" on the way, a verdict on the answer
    assert any(f.get("type") == "chat:validating" for f in received)
    assert "Checking the answer…" in page.evaluate("window.typingSeen")
    stored = Message.objects.get(pk=int(answer.get_attribute("data-message-id")))
    assert stored.validation and stored.validation["verdict"]
    expect(answer.locator(".message-verdict")).to_have_attribute("data-verdict", stored.validation["verdict"])
    expect(answer.locator("details.check-details")).to_have_count(1)
    expect(page.locator("#typing-indicator")).to_be_hidden()
    answer.locator("details.check-details summary").click()
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifacts_dir / "chat-checked-live.png"), full_page=False)
    assert page.csp_errors == []


def test_an_answer_that_found_nothing_says_so(faked, alice, page, daphne_url):
    kb_services.kb_create(user=alice, name="Empty shelf", description="")
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/")
    expect(page.locator("#connection-status")).to_contain_text("Connected")
    page.select_option("#model-select", "fake-ok")
    page.click("#chat-settings > summary")
    page.locator(".chat-kb-item", has_text="Empty shelf").locator("input").check()
    expect(page.locator(".chat-kb-item", has_text="Empty shelf")).to_contain_text("0 sources")
    page.fill("#composer-input", "Anything on the shelf?")
    page.click("#send-button")
    answer = page.locator('.message[data-role="assistant"]').last
    expect(answer).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(answer.locator(".grounding-warning")).to_contain_text("No sources used: ")
    expect(answer.locator(".message-sources")).to_have_count(0)


# --- the check's display, on a stored message (the same fields chat:done and chat:history carry) ---

QUESTION = "When was the Eiffel Tower finished, and why was it built?"
GOOD = "The Eiffel Tower was completed in 1889 by the company of Gustave Eiffel [1]."
BAD = "It was **designed** for the world fair of 1925 in Paris [2]."
CONTENT = f"{GOOD} {BAD}\n\n```python\nprint('[1] is code')\n```"
CITATIONS = [
    {
        "n": n,
        "kb_id": 1,
        "kb_name": "Landmarks",
        "source_id": n,
        "source_title": title,
        "chunk_id": n,
        "chunk_index": 0,
        "heading": "",
        "score": 0.8,
        "url": url,
        "page": f"/knowledge/1/sources/{n}/#chunk-0",
        "excerpt": excerpt,
    }
    for n, title, url, excerpt in [
        (1, "Eiffel Tower", "https://example.org/eiffel", "The tower was completed in 1889 for the Exposition."),
        (2, "World fairs", "/knowledge/1/sources/2/#chunk-0", "The 1889 Exposition Universelle was held in Paris."),
    ]
]
NOTICE = (
    "The answer looked unreliable (risk 0.71); another attempt did no better, so the first answer is shown "
    "with its doubtful sentences highlighted."
)


def validation_of(content: str) -> dict:
    good_at, bad_at = content.index(GOOD), content.index(BAD)
    return {
        "verdict": "likely_hallucinated",
        "score": 0.71,
        "signals": [
            {
                "name": "support",
                "title": "Support from the sources",
                "score": 0.82,
                "weight": 0.25,
                "evidence": "no source mentions 1925",
                "used": True,
            },
            {
                "name": "specifics",
                "title": "Unsupported specifics",
                "score": 0.9,
                "weight": 0.25,
                "evidence": ["1925"],
                "used": True,
            },
            {
                "name": "consistency",
                "title": "Agreement between samples",
                "score": 0.41,
                "weight": 0.5,
                "evidence": "2 of 3 samples disagree",
                "used": True,
            },
            {"name": "judge", "title": "Judge model", "score": None, "weight": 0.0, "evidence": "", "used": False},
        ],
        "sentences": [
            {
                "index": 0,
                "text": GOOD,
                "start": good_at,
                "end": good_at + len(GOOD),
                "score": 0.05,
                "label": "supported",
                "signals": {"support": 0.05},
                "evidence": {},
            },
            {
                "index": 1,
                "text": BAD,
                "start": bad_at,
                "end": bad_at + len(BAD),
                "score": 0.86,
                "label": "likely_hallucinated",
                "signals": {"support": 0.82, "specifics": 0.9},
                "evidence": {"support": "no source mentions 1925", "specifics": "1925 is in no source"},
            },
        ],
        "checks": [{"name": "response_checks", "passed": True, "detail": "not empty, not truncated, not repetitive"}],
        "attempts": [
            {
                "strategy": "first",
                "model": "fake-wrong",
                "temperature": 0.7,
                "score": 0.71,
                "verdict": "likely_hallucinated",
                "content": content,
            },
            {
                "strategy": "grounded",
                "model": "fake-wrong",
                "temperature": 0.7,
                "score": 0.74,
                "verdict": "likely_hallucinated",
                "content": content,
            },
        ],
        "chosen": 0,
        "replaced": False,
        "notice": NOTICE,
        "ms": 1234.5,
    }


def seed_checked_answer(user, conversation_id: int | None = None) -> Message:
    started = services.chat_start(user=user, content=QUESTION, conversation_id=conversation_id)
    services.message_finish(
        message_id=started.assistant_message.pk,
        status="complete",
        content=CONTENT,
        model="fake-wrong",
        citations=CITATIONS,
        validation=validation_of(CONTENT),
    )
    return Message.objects.get(pk=started.assistant_message.pk)


def test_a_checked_answer_shows_its_verdict_flagged_sentences_details_and_notice(
    page,
    daphne_url,
    alice,
    artifacts_dir,
):
    message = seed_checked_answer(alice)
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/c/{message.conversation_id}/")
    answer = page.locator(f'.message[data-message-id="{message.pk}"]')

    badge = answer.locator(".message-verdict")
    expect(badge).to_have_text("Likely hallucinated · 0.71")
    expect(badge).to_have_attribute("data-verdict", "likely_hallucinated")
    expect(answer.locator(".message-notice")).to_have_text(NOTICE)

    # the flagged sentence is marked (across its bold word), the supported one is not
    marks = answer.locator("mark.claim")
    expect(marks.first).to_have_class("claim claim--hallucinated")
    marked = "".join(marks.all_text_contents()).replace("\xa0", " ")
    assert marked == "It was designed for the world fair of 1925 in Paris 2."  # [2] became a link inside it
    assert "no source mentions 1925" in marks.first.get_attribute("title")
    expect(answer.locator("mark.claim strong")).to_have_count(0)  # marked inside the formatting, not around it
    expect(answer.locator("strong mark.claim")).to_have_count(1)

    # [1] and [2] are superscript links to their sources; the [1] inside the code block stays code
    refs = answer.locator(".message-body sup.cite a.cite-ref")
    expect(refs).to_have_count(2)
    expect(refs.nth(0)).to_have_attribute("href", CITATIONS[0]["page"])
    expect(refs.nth(1)).to_have_attribute("href", CITATIONS[1]["page"])
    expect(answer.locator("mark.claim sup.cite")).to_have_count(1)  # [2] is part of the flagged sentence
    expect(answer.locator("pre code")).to_contain_text("print('[1] is code')")
    expect(answer.locator("pre sup")).to_have_count(0)
    # the excerpt opens under its source
    first_source = answer.locator(".source-item").first
    expect(first_source.locator(".source-excerpt")).to_be_hidden()
    first_source.get_by_role("button", name="Excerpt of source 1").click()
    expect(first_source.locator(".source-excerpt")).to_have_text(CITATIONS[0]["excerpt"])
    # the original address of a scraped source is offered beside the in-app link
    expect(answer.locator(".source-item").first.locator("a.source-original")).to_have_attribute(
        "href", "https://example.org/eiffel"
    )

    # the details: signals, the flagged sentence with its reasons, the attempts with the one shown
    details = answer.locator("details.check-details")
    expect(details.locator("summary")).to_contain_text("1 sentence flagged")
    details.locator("summary").click()
    signals = details.locator("table.check-signals tbody tr")
    expect(signals).to_have_count(4)
    expect(details.locator('tr[data-signal="support"]')).to_contain_text("Support from the sources")
    expect(details.locator('tr[data-signal="support"]')).to_contain_text("0.82")
    expect(details.locator('tr[data-signal="support"]')).to_contain_text("no source mentions 1925")
    expect(details.locator('tr[data-signal="judge"]')).to_contain_text("not used")
    expect(details.locator(".check-sentences li").first).to_contain_text("1925 is in no source")
    attempts = details.locator("table.check-attempts tbody tr")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_have_class("is-chosen")
    expect(attempts.nth(0)).to_contain_text("shown")
    expect(attempts.nth(1)).to_contain_text("grounded")

    page.set_viewport_size({"width": 1280, "height": 1500})  # the whole answer with its details open
    page.mouse.move(0, 0)
    page.screenshot(path=str(artifacts_dir / "chat-validation-light.png"), full_page=False)
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts_dir / "chat-validation-dark.png"), full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(400)
    answer.locator(".message-verdict").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "chat-validation-phone.png"), full_page=False)
    page.click("#theme-toggle")
    assert page.csp_errors == []


def test_unchecked_and_supported_verdicts_read_plainly_and_hostile_citations_stay_text(
    page,
    daphne_url,
    alice,
):
    hostile = {
        **CITATIONS[0],
        "source_title": "<img src=x onerror=alert(1)>",
        "page": "javascript:alert(1)",
        "url": "javascript:alert(2)",
    }
    started = services.chat_start(user=alice, content="Check me")
    services.message_finish(
        message_id=started.assistant_message.pk,
        status="complete",
        content="Plain answer [1].",
        citations=[hostile],
        validation={
            "verdict": "unchecked",
            "score": None,
            "signals": [],
            "sentences": [],
            "checks": [],
            "attempts": [],
            "chosen": None,
            "replaced": False,
            "error": "the check did not finish within 60 s",
            "notice": "This answer could not be checked: the check did not finish within 60 s.",
        },
    )
    second = services.chat_start(user=alice, content="And me", conversation_id=started.conversation.pk)
    services.message_finish(
        message_id=second.assistant_message.pk,
        status="complete",
        content="Fine answer.",
        validation={
            "verdict": "supported",
            "score": 0.08,
            "signals": [],
            "sentences": [],
            "checks": [],
            "attempts": [],
            "chosen": 0,
            "replaced": False,
            "notice": "",
        },
    )
    login(page, daphne_url)
    page.goto(f"{daphne_url}/chat/c/{started.conversation.pk}/")
    unchecked = page.locator(f'.message[data-message-id="{started.assistant_message.pk}"]')
    expect(unchecked.locator(".message-verdict")).to_have_text("Not checked")
    expect(unchecked.locator(".message-notice")).to_contain_text("could not be checked")
    unchecked.locator("details.check-details summary").click()
    expect(unchecked.locator(".check-error")).to_contain_text("did not finish within 60 s")
    # a citation whose links are not http(s) or in-app gets no link at all; its title is text
    expect(unchecked.locator(".source-title")).to_have_text(hostile["source_title"])
    expect(unchecked.locator(".message-extras a, .message-body a")).to_have_count(0)
    expect(unchecked.locator("sup.cite .cite-ref")).to_have_text("1")
    expect(unchecked.locator("img")).to_have_count(0)
    supported = page.locator(f'.message[data-message-id="{second.assistant_message.pk}"]')
    expect(supported.locator(".message-verdict")).to_have_text("Supported · 0.08")
    expect(supported.locator(".message-notice")).to_be_hidden()
    expect(supported.locator("mark")).to_have_count(0)
    expect(supported.locator(".message-sources")).to_have_count(0)


def test_a_long_conversation_of_checked_answers_stays_fast(page, daphne_url, alice):
    conversation = Conversation.objects.create(user=alice, title="Long")
    validation = validation_of(CONTENT)
    rows = []
    for _ in range(250):
        rows.append(Message(conversation=conversation, role="user", content=QUESTION, status="complete"))
        rows.append(
            Message(
                conversation=conversation,
                role="assistant",
                content=CONTENT,
                status="complete",
                model="fake-wrong",
                citations=CITATIONS,
                validation=validation,
            )
        )
    Message.objects.bulk_create(rows)
    login(page, daphne_url)
    started = time.monotonic()
    page.goto(f"{daphne_url}/chat/c/{conversation.pk}/")
    expect(page.locator(".message")).to_have_count(50)
    expect(page.locator(".message:has(mark.claim--hallucinated)")).to_have_count(25)
    first_page_s = time.monotonic() - started
    started = time.monotonic()
    for shown in range(100, 501, 50):
        page.click("#load-older")
        expect(page.locator(".message")).to_have_count(shown)
    older_s = time.monotonic() - started
    expect(page.locator(".message-verdict")).to_have_count(250)
    expect(page.locator("sup.cite")).to_have_count(500)
    # The page stays responsive: a scroll to the top and back takes a frame, not a stall.
    took_ms = page.evaluate(
        """() => new Promise((resolve) => {
            const s = document.getElementById("messages"); const t0 = performance.now();
            s.scrollTop = 0; requestAnimationFrame(() => { s.scrollTop = s.scrollHeight;
            requestAnimationFrame(() => resolve(performance.now() - t0)); });
        })"""
    )
    print(f"500 messages: first 50 in {first_page_s:.2f} s, 9 older pages in {older_s:.2f} s, scroll {took_ms:.0f} ms")
    assert first_page_s < 10 and older_s < 30 and took_ms < 1000
