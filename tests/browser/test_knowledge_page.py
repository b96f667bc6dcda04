"""The knowledge pages in Chromium: create a base, upload files (file input and a dropped file) and
follow their ingestion live, paste text, search with citations, read a source's chunks, delete a
source; a file the server refuses, an oversize file refused before upload; light, dark and phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.pages import login
from tests.fixtures.pages import shoot as shoot  # re-exported for test_orchestration_pages until it switches

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_gateway_state"),
]

INGESTED = 90_000  # extraction, chunking and embedding on the small test model
HOSTILE = "<img src=x onerror=alert('chunk')>"

ALPACAS = b"""Alpacas

Alpacas are domesticated camelids from South America. They are kept in herds that graze on the
level heights of the Andes of southern Peru, western Bolivia, Ecuador and northern Chile.
Alpacas are sheared once a year for their fibre, which is soft and warm.
"""

LIGHTHOUSE = b"""# Lighthouse keeping

## Lamps

The keeper trims the wick and polishes the Fresnel lens every evening before sunset.

## Fog signals

When fog rolls in the keeper sounds the foghorn every thirty seconds until it lifts.
"""

VOLCANO = b"""# Volcanoes

A stratovolcano is built from layers of hardened lava and tephra; its eruptions are explosive.
"""


def create_base(page, base_url: str, name: str, description: str = "") -> str:
    page.goto(f"{base_url}/knowledge/")
    page.fill("#create-name", name)
    page.fill("#create-description", description)
    page.click("#create-form button[type=submit]")
    page.wait_for_url(re.compile(r"/knowledge/\d+/$"))
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    return page.url


def drop_file(page, name: str, mime: str, content: str) -> None:
    """Drops a file on the drop zone as a drag from the desktop would (a synthetic drop event)."""
    transfer = page.evaluate_handle(
        """([name, mime, content]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([content], name, { type: mime }));
            return transfer;
        }""",
        [name, mime, content],
    )
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": transfer})
    expect(page.locator("#dropzone")).to_have_class(re.compile(r"\bis-dragover\b"))
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def source_row(page, title: str):
    return page.locator("#source-rows tr", has=page.locator(".source-title", has_text=title))


def test_upload_paste_search_and_read_the_chunks(page, daphne_url, alice, llama2, artifacts_dir, celery_worker):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    login(page, daphne_url)
    page.goto(f"{daphne_url}/knowledge/")
    expect(page.get_by_role("heading", name="Knowledge", level=1)).to_be_visible()
    expect(page.locator("#bases-empty")).to_contain_text("No knowledge bases yet")
    page.click("#create-form button[type=submit]")
    expect(page.locator("#create-error")).to_have_text("Give the knowledge base a name.")
    shoot(page, artifacts_dir, "knowledge-index-empty")

    detail_url = create_base(page, daphne_url, "Field notes (draft)", "Animals, lighthouses <b>and</b> volcanoes.")
    expect(page.locator("#kb-description")).to_have_text("Animals, lighthouses <b>and</b> volcanoes.")
    page.click("#kb-edit")
    page.fill("#kb-edit-name", "Field notes")
    page.click("#kb-edit-form button[type=submit]")
    expect(page.locator("#kb-name")).to_have_text("Field notes")
    expect(page.locator("#kb-edit-form")).to_be_hidden()
    page.reload()
    expect(page.locator("#kb-name")).to_have_text("Field notes")
    expect(page.locator("#sources-empty")).to_be_visible()
    expect(page.locator("#stat-sources")).to_have_text("0")

    # Two files through the file input: each shows its upload, then its ingestion, then "ready".
    page.set_input_files(
        "#file-input",
        [
            {"name": "alpacas.txt", "mimeType": "text/plain", "buffer": ALPACAS},
            {"name": "lighthouse.md", "mimeType": "text/markdown", "buffer": LIGHTHOUSE},
        ],
    )
    uploads = page.locator("#upload-list li")
    expect(uploads).to_have_count(2)
    expect(page.locator("#source-rows tr")).to_have_count(2)
    for name in ("alpacas.txt", "lighthouse.md"):
        item = uploads.filter(has_text=name)
        expect(item).to_have_attribute("data-state", "ready", timeout=INGESTED)
        expect(item.locator(".upload-status")).to_have_text(re.compile(r"^Ready: [1-9]\d* chunks?\.$"))
    # And one dropped on the zone.
    drop_file(page, "volcano.md", "text/markdown", VOLCANO.decode())
    expect(uploads).to_have_count(3)
    expect(uploads.filter(has_text="volcano.md")).to_have_attribute("data-state", "ready", timeout=INGESTED)
    expect(page.locator("#dropzone")).not_to_have_class(re.compile(r"\bis-dragover\b"))

    rows = page.locator("#source-rows tr")
    expect(rows).to_have_count(3)
    expect(rows.locator(".badge", has_text="ready")).to_have_count(3)
    for row in rows.all():
        assert int(row.locator('td[data-label="Chunks"]').inner_text()) > 0
    expect(page.locator("#stat-sources")).to_have_text("3")
    expect(page.locator("#stat-chunks")).not_to_have_text("0")

    # Pasted text, hostile markup included: it is kept and shown as text.
    page.get_by_role("tab", name="Paste text").click()
    page.fill("#text-title", "Kitchen notes")
    page.fill("#text-body", f"Sourdough needs a lively starter and a long cold proof.\n\n{HOSTILE}")
    page.click("#text-form button[type=submit]")
    kitchen = source_row(page, "Kitchen notes")
    expect(kitchen.locator(".badge")).to_have_text("ready", timeout=INGESTED)
    expect(kitchen.locator('td[data-label="Kind"]')).to_have_text("Text")
    expect(page.locator("#text-body")).to_have_value("")
    shoot(page, artifacts_dir, "knowledge-detail-sources")

    # Search: the document with the word ranks first, with its scores and a citation link.
    page.fill("#search-q", "foghorn")
    page.click("#search-form button[type=submit]")
    hits = page.locator("#search-results li")
    expect(hits.first).to_be_visible()
    first = hits.first
    expect(first.locator(".hit-rank")).to_have_text("1")
    expect(first.locator(".hit-source")).to_contain_text(re.compile("lighthouse", re.I))
    expect(first.locator(".hit-text mark").first).to_have_text(re.compile("foghorn", re.I))
    expect(first.locator(".hit-score")).to_have_text(re.compile(r"^\d\.\d{3}$"))
    expect(first.locator(".hit-subscores")).to_contain_text("keyword")
    citation = first.locator("a.hit-citation")
    expect(citation).to_be_visible()
    assert citation.get_attribute("href")
    expect(page.locator("#search-status")).to_contain_text("for “foghorn”")

    page.fill("#search-q", "onerror alert chunk")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#search-results")).to_contain_text(HOSTILE)
    assert page.locator("#search-results img").count() == 0
    page.fill("#search-q", "foghorn")
    page.click("#search-form button[type=submit]")
    expect(hits.first.locator(".hit-source")).to_contain_text(re.compile("lighthouse", re.I))
    page.locator(".kb-settings summary").click()
    expect(page.locator("#reembed-model")).to_be_visible()
    shoot(page, artifacts_dir, "knowledge-detail")

    # The source page lists the chunks, headings and token counts.
    source_row(page, "lighthouse").get_by_role("link", name=re.compile("^View the chunks")).click()
    page.wait_for_url(re.compile(r"/knowledge/\d+/sources/\d+/$"))
    expect(page.locator("#source-status")).to_have_text("ready")
    chunks = page.locator(".chunk-list > li")
    expect(chunks.first).to_be_visible()
    expect(page.locator(".chunk-list")).to_contain_text("foghorn")
    expect(chunks.first.locator(".chunk-tokens")).to_have_text(re.compile(r"^\d+ tokens?$"))
    expect(page.locator(".facts")).to_contain_text("lighthouse.md")
    shoot(page, artifacts_dir, "knowledge-source")

    # Delete a source (after a confirm): its row goes, the counts follow. The click lands before the
    # page's own list has arrived, and that list (fetched before the delete) arrives after it.
    held = []

    def hold_the_first_list(route):
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))
        else:
            route.continue_()

    page.route(re.compile(r"/knowledge/api/bases/\d+/sources$"), hold_the_first_list)
    page.goto(detail_url)
    expect(page.locator("#source-rows tr")).to_have_count(4)
    source_row(page, "alpacas").get_by_role("button", name=re.compile("^Delete")).click()
    # The app's own dialog asks first (not the browser's confirm()); Cancel is focused, nothing is gone yet.
    ask = page.get_by_role("dialog", name="Delete “alpacas")
    expect(ask).to_be_visible()
    expect(ask.get_by_role("button", name="Cancel")).to_be_focused()
    expect(page.locator("#source-rows tr")).to_have_count(4)
    ask.get_by_role("button", name="Delete").click()
    expect(page.locator("#source-rows tr")).to_have_count(3)
    expect(page.locator("#stat-sources")).to_have_text("3")
    assert held, "the page asked for its list"
    route, stale = held[0]
    assert "alpacas" in stale.text()
    route.fulfill(response=stale)
    page.wait_for_timeout(500)  # the stale list is drawn (or, rightly, not)
    page.unroute(re.compile(r"/knowledge/api/bases/\d+/sources$"))
    expect(page.locator("#source-rows tr")).to_have_count(3)
    expect(source_row(page, "alpacas")).to_have_count(0)
    expect(page.locator("#stat-sources")).to_have_text("3")
    page.reload()
    expect(page.locator("#source-rows tr")).to_have_count(3)

    # The index lists the base with its counts.
    page.goto(f"{daphne_url}/knowledge/")
    card = page.locator(".kb-card", has_text="Field notes")
    expect(card).to_be_visible()
    expect(card.locator("[data-source-count]")).to_have_text("3 sources")
    expect(card).to_contain_text("Animals, lighthouses <b>and</b> volcanoes.")
    shoot(page, artifacts_dir, "knowledge-index")

    assert dialogs == []  # no native confirm() any more
    assert page.csp_errors == []


def test_refused_uploads_show_why(page, daphne_url, alice, llama2, artifacts_dir, celery_worker, tmp_path):
    login(page, daphne_url)
    create_base(page, daphne_url, "Refusals")
    max_mb = int(page.locator("#kb-detail").get_attribute("data-max-upload-mb"))

    # Binary junk named .pdf: the server refuses it (at upload or while extracting) and says why.
    junk = bytes(range(256)) * 64
    page.set_input_files("#file-input", [{"name": "report.pdf", "mimeType": "application/pdf", "buffer": junk}])
    item = page.locator("#upload-list li", has_text="report.pdf")
    expect(item).to_have_attribute("data-state", "failed", timeout=INGESTED)
    message = item.locator(".upload-status").inner_text()
    assert len(message) > 10, message
    rows = page.locator("#source-rows tr")
    if rows.count():  # accepted, then failed while extracting: the row shows the error too
        expect(rows.first.locator(".badge")).to_have_text("failed")
        expect(rows.first.locator(".source-error")).to_be_visible()

    # Over the size limit: refused before anything is sent.
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as file:
        file.truncate(max_mb * 1024 * 1024 + 1)
    page.set_input_files("#file-input", str(huge))
    big = page.locator("#upload-list li", has_text="huge.txt")
    expect(big).to_have_attribute("data-state", "failed")
    expect(big.locator(".upload-status")).to_contain_text(f"the limit is {max_mb} MB")
    page.screenshot(path=str(artifacts_dir / "knowledge-refused-light.png"), full_page=True)
    assert page.csp_errors == []
