"""axe-core (from npm, node_modules/axe-core) over every page, light and dark, as staff: no serious or critical
violation (WCAG 2 A/AA: contrast, names, roles, labels). A new one fails the suite, named with its page.
The same walk reads each page's text for what leaks from code into copy ("None", "attempt(s)", "undefined")."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import sync_playwright

from tests.fixtures.llm import make_backend
from tests.fixtures.pages import CHROMIUM_ARGS
from tests.fixtures.stack import ROOT
from tests.fixtures.users import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_gateway_state"),
]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LEAKS = re.compile(r"\bNone\b|\bnull\b|\bundefined\b|\bNaN\b|\[object Object\]|\w\(s\)")
RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                                          resultTypes: ["violations"]});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map(n => ({target: n.target.join(" "), summary: (n.failureSummary || "").slice(0, 240)})),
    count: v.nodes.length}));
}"""


def _pages(staff_objects: dict) -> list[str]:
    kb, task, o = staff_objects["kb"], staff_objects["task"], staff_objects
    return [
        "/",
        "/chat/",
        "/models/",
        "/models/backends/new/",
        "/monitoring/",
        "/knowledge/",
        f"/knowledge/{kb}/",
        "/browser/",
        "/orchestration/",
        "/orchestration/tasks/new/",
        f"/orchestration/tasks/{task}/",
        "/orchestration/workflows/",
        "/orchestration/workflows/new/",
        "/orchestration/templates/",
        "/orchestration/instructions/",
        "/account/tokens/",
        "/no-such-page/",
        # The main states: chat answers with each verdict, versions and a failed one; a failed task and job.
        f"/chat/c/{o['conversation']}/",
        f"/orchestration/tasks/{o['failed_task']}/",
        f"/browser/jobs/{o['failed_job']}/",
    ]


@pytest.fixture
def staff_objects(staff, fake):
    from chat.models import Conversation, Message
    from core.models import Job
    from knowledge.models import KnowledgeBase
    from orchestration import services
    from orchestration.models import Task

    make_backend("scripted", fake.url)
    kb = KnowledgeBase.objects.create(user=staff, name="Notes")
    task = services.task_create(
        user=staff, prompt="What is the capital of France?", models=["fake-agree-1", "fake-agree-2"], enqueue=False
    )
    failed_task = services.task_create(user=staff, prompt="Q?", models=["fake-agree-1"], enqueue=False)
    Task.objects.filter(pk=failed_task.pk).update(status="failed", error="Every model failed to answer.")
    Job.objects.filter(pk=failed_task.job_id).update(status="failed", error="Every model failed to answer.")
    # The main states of a chat: answers with each verdict, with a notice, and one that failed mid-way.
    conversation = Conversation.objects.create(user=staff, title="Checked answers")
    for verdict, score in (("supported", 0.1), ("uncertain", 0.45), ("likely_hallucinated", 0.8), ("unchecked", None)):
        Message.objects.create(conversation=conversation, role="user", content=f"Question for {verdict}?")
        Message.objects.create(
            conversation=conversation,
            role="assistant",
            content="The tower was finished in 1889.",
            model="m",
            validation={
                "verdict": verdict,
                "score": score,
                "signals": [],
                "sentences": [],
                "attempts": [],
                "notice": "Written again with the sources.",
            },
        )
    first = conversation.messages.filter(role="assistant").first()
    Message.objects.create(  # a regenerated answer: the version switcher shows "2 / 2"
        conversation=conversation,
        role="assistant",
        content="Finished in 1889, by Eiffel's company.",
        model="m",
        version_of=first,
    )
    Message.objects.filter(pk=first.pk).update(hidden=True)
    Message.objects.create(conversation=conversation, role="user", content="And then?")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="Half an ans",
        status="failed",
        model="m",
        error="The model server stopped mid-answer.",
    )
    failed_job = Job.objects.create(
        user=staff,
        kind="browser.scrape",
        title="Scrape https://example.org/",
        status="failed",
        progress=0.05,
        error="The page could not be loaded.",
        params={"url": "https://example.org/", "options": {}},
    )
    return {
        "kb": kb.pk,
        "task": task.pk,
        "failed_task": failed_task.pk,
        "conversation": conversation.pk,
        "failed_job": failed_job.pk,
    }


def test_no_serious_or_critical_accessibility_violation_on_any_page(
    daphne_url, staff, staff_objects, monkeypatch, celery_worker, artifacts_dir
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    axe = AXE.read_text()
    found: dict[str, list] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for theme in ("light", "dark"):
            context = browser.new_context(color_scheme=theme, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            for path in ("/accounts/login/", "/accounts/signup/"):
                page.goto(f"{daphne_url}{path}")
                page.evaluate(axe)  # through the DevTools protocol: the page's CSP does not apply
                if violations := page.evaluate(RUN):
                    found[f"{theme} {path}"] = violations
            page.goto(f"{daphne_url}/accounts/login/")
            page.fill("input[name=login]", staff.username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{daphne_url}/")
            for path in _pages(staff_objects):
                page.goto(f"{daphne_url}{path}")
                page.wait_for_load_state("networkidle")
                if path.startswith("/chat/c/"):  # the messages arrive over /ws after the load
                    page.locator(".message-verdict:visible").first.wait_for(timeout=20_000)
                page.evaluate(axe)
                if violations := page.evaluate(RUN):
                    found[f"{theme} {path}"] = violations
                if leaks := LEAKS.findall(page.locator("body").inner_text()):
                    found[f"{theme} {path} copy"] = sorted(set(leaks))
            context.close()
        browser.close()
    (artifacts_dir / "axe-violations.json").write_text(json.dumps(found, indent=1))
    assert not found, json.dumps(found, indent=1)
