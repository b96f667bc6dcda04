"""The orchestrator's pages in Chromium, against the scripted fake OpenAI server and a real Celery worker: a
task made with the form runs to `succeeded` in the live view (answers side by side, the agreement matrix, the
judge's decision, the final answer); a template's variables are checked in the form (by the page and by the
server); a two-step workflow is built, saved, run and followed; templates and instructions are edited; another
user's task is the 404 page. Light, dark and phone screenshots land in test-artifacts/orchestration-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from knowledge.models import KnowledgeBase
from orchestration import services
from orchestration.models import Instruction, Task, Template, Workflow, WorkflowRun
from tests.browser.test_knowledge_page import shoot
from tests.browser.test_shell import login, page  # noqa: F401 - the page fixture
from tests.llm.conftest import clean_gateway_state, fake, make_backend  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RUN = 60_000  # a task or a run on the fake server, start to end, on a busy 2-core machine


@pytest.fixture(autouse=True)
def no_script_errors(request):
    """Every test here with a browser page also fails on an uncaught error in the page's scripts."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")  # noqa: F811
    errors: list[str] = []
    page.on("pageerror", lambda error: (errors.append(str(error)), print("page error:", error)))
    yield
    assert errors == []


@pytest.fixture
def scripted(fake):  # noqa: F811
    """The fake server as a backend: fake-agree-* say Paris, fake-disagree says Lyon, fake-orch-judge judges."""
    make_backend("fake", fake.url)
    return fake


def api_post(page, base: str, path: str, body: dict) -> dict:  # noqa: F811
    """A JSON API call as the signed-in browser user (this thread runs Playwright's loop, so the services, which
    read the model catalogue, are not called from here)."""
    return page.evaluate(
        """async ([url, body]) => {
            const token = decodeURIComponent(document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)[1]);
            const response = await fetch(url, {method: "POST", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json", "X-CSRFToken": token}});
            const data = await response.json();
            if (!response.ok) throw new Error(data.error);
            return data;
        }""",
        [f"{base}{path}", body],
    )


def create_task(page, base: str, **body) -> int:  # noqa: F811
    return api_post(page, base, "/orchestration/api/tasks", body)["task"]["id"]


def test_task_form_runs_live_to_a_judged_answer(page, daphne_url, alice, scripted, artifacts_dir, celery_worker):  # noqa: F811
    Instruction.objects.create(user=alice, name="Be brief", content="Answer in one sentence.")
    login(page, daphne_url)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orchestrator").click()
    expect(page).to_have_url(f"{daphne_url}/orchestration/")
    expect(page.locator("#tasks-empty")).to_contain_text("No tasks yet")
    page.click("#new-task")
    expect(page.get_by_role("heading", name="New task", level=1)).to_be_visible()

    # Nothing chosen: the page says what is missing, next to each field, and sends nothing.
    page.click("#task-submit")
    expect(page.locator("#task-prompt")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#panel-prompt .field-error")).to_have_text("Write the prompt the models should answer.")
    expect(page.locator("#models-fieldset .field-error")).to_contain_text("Choose at least one model")
    assert Task.objects.count() == 0

    page.fill("#task-prompt", "What is the capital of France?")
    expect(page.locator("#model-list label", has_text="fake-agree-1")).to_be_visible()
    page.locator("#model-list label", has_text="fake-agree-1").click()
    page.locator("#model-list label", has_text="fake-disagree").click()
    expect(page.locator("#models-count")).to_have_text("2 chosen")
    expect(page.locator("#sum-calls")).to_have_text("4 (+1 if they disagree)")
    page.select_option("#task-judge", "fake-orch-judge")
    page.locator("#instruction-list label", has_text="Be brief").click()
    shoot(page, artifacts_dir, "orchestration-new-task")
    page.click("#task-submit")

    page.wait_for_url(re.compile(r"/orchestration/tasks/\d+/$"))
    task = Task.objects.get()
    assert task.model_names == ["fake-agree-1", "fake-disagree"]
    assert task.judge_model == "fake-orch-judge" and "Answer in one sentence." in task.system_prompt
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=RUN)

    answers = page.locator("#answers .answer-col")
    expect(answers).to_have_count(2)
    expect(answers.nth(0)).to_contain_text("Paris is the capital of France.")
    expect(answers.nth(1)).to_contain_text("Lyon is the capital of France.")
    expect(answers.nth(0).locator(".chosen-badge")).to_be_visible()
    expect(answers.nth(0).locator(".answer-metrics")).to_contain_text("Latency")
    # The matrix: A's review of B disagrees, B's review of A disagrees (each believes itself).
    matrix = page.locator("#agreement-matrix")
    expect(matrix.locator('td[data-verdict="disagree"]')).to_have_count(2)
    expect(matrix.locator('td[data-verdict="self"]')).to_have_count(2)
    expect(page.locator("#decision-badge")).to_have_text("Judge")
    expect(page.locator("#decision-reasoning")).to_contain_text("Paris")
    expect(page.locator("#final-answer")).to_have_text("Paris is the capital of France.")
    expect(page.locator("#confidence-value")).to_have_text(re.compile(r"^\d+%$"))
    expect(page.locator("#reviews .review")).to_have_count(2)
    expect(page.locator("#reviews")).to_contain_text("The capital of France is Lyon.")
    steps = page.locator("#task-subtasks .subtask")
    expect(steps).to_have_count(5)  # two answers, two reviews, the decision
    expect(steps.filter(has_text="done")).to_have_count(5)
    task.refresh_from_db()
    assert task.status == "succeeded" and task.decision["method"] == "judge"
    assert all(s.completed_at is not None for s in task.subtasks.all())
    page.locator("#subtasks-details summary").click()
    shoot(page, artifacts_dir, "orchestration-task")

    # The history lists it with its status, models, strategy and confidence; filters narrow it.
    page.click(".orch-subnav >> text=Tasks")
    row = page.locator("#task-rows tr").first
    expect(row).to_contain_text("What is the capital of France?")
    expect(row.locator("[data-status-badge]")).to_have_text("succeeded")
    expect(row).to_contain_text("fake-disagree")
    expect(row.locator("[data-confidence]")).to_have_text(re.compile(r"^\d+%$"))
    page.select_option("#filter-status", "failed")
    expect(page.locator("#tasks-none")).to_be_visible()
    page.select_option("#filter-status", "")
    page.fill("#filter-q", "capital")
    page.press("#filter-q", "Enter")
    expect(page.locator("#task-rows tr")).to_have_count(1)
    shoot(page, artifacts_dir, "orchestration-history")

    # Run again makes a new task with the same settings and opens it, live while the models answer (slowly
    # now); Cancel stops it.
    scripted.state.tokens_per_s = 2
    page.locator("#task-rows a.task-link").first.click()
    page.click("#task-rerun")
    page.wait_for_url(re.compile(rf"/orchestration/tasks/(?!{task.pk}/)\d+/$"))
    expect(page.locator('#task-subtasks .subtask[data-status="running"]').first).to_be_visible(timeout=RUN)
    expect(page.locator("#task-status")).to_have_text("running")
    expect(page.locator(".answer-waiting").first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "orchestration-task-running-light.png"), full_page=True)
    page.click("#task-cancel")
    expect(page.locator("#task-status")).to_have_text("cancelled", timeout=RUN)
    expect(page.locator("#task-cancelled")).to_be_visible()
    expect(page.locator("#task-rerun")).to_be_visible()
    expect(page.locator("#task-cancel")).to_be_hidden()
    again = Task.objects.exclude(pk=task.pk).get()
    assert again.status == "cancelled" and again.model_names == task.model_names
    page.screenshot(path=str(artifacts_dir / "orchestration-task-cancelled-light.png"), full_page=True)

    # A finished task can be deleted (after a confirm): back to the history, where it is gone.
    page.click("#task-delete")
    ask = page.get_by_role("dialog", name=f"Delete task #{again.pk}?")  # the app's own dialog, not confirm()
    expect(ask).to_contain_text("Its answers and reviews go with it")
    ask.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r"/orchestration/$"))
    expect(page.locator("#task-rows tr")).to_have_count(1)
    assert not Task.objects.filter(pk=again.pk).exists()
    assert page.csp_errors == []


def test_vote_failures_and_edit_and_run(page, daphne_url, alice, scripted, artifacts_dir, celery_worker):  # noqa: F811
    login(page, daphne_url)
    voted = create_task(
        page,
        daphne_url,
        prompt="What is the capital of France?",
        strategy="vote",
        models=["fake-agree-1", "fake-disagree", "fake-500"],
    )
    page.goto(f"{daphne_url}/orchestration/tasks/{voted}/")
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=RUN)
    failed_column = page.locator('#answers .answer-col[data-slot="2"]')
    expect(failed_column).to_have_attribute("data-status", "failed")
    expect(failed_column).to_contain_text("This model failed")
    expect(page.locator("#reviews-title")).to_have_text("Ballots")
    expect(page.locator("#reviews .review")).to_have_count(2)
    expect(page.locator("#reviews")).to_contain_text("votes for")
    expect(page.locator("#decision-badge")).to_have_text("Vote")
    expect(page.locator("#matrix-card")).to_be_hidden()  # no reviews in a vote
    page.locator("#metrics-details summary").click()
    expect(page.locator("#task-metrics")).to_contain_text("2 of 3 (1 failed)")
    shoot(page, artifacts_dir, "orchestration-task-vote")

    # Edit and run: the form comes back filled in with this task's settings.
    page.click("#task-edit")
    expect(page.locator("#task-prompt")).to_have_value("What is the capital of France?")
    expect(page.locator('input[name="strategy"][value="vote"]')).to_be_checked()
    expect(page.locator('#model-list input[value="fake-500"]')).to_be_checked()
    page.locator("#model-list label", has_text="fake-500").click()
    page.locator("label.strategy-card", has_text="Judge").click()
    expect(page.locator("#tiebreaker-field")).to_be_hidden()
    page.click("#task-submit")
    page.wait_for_url(re.compile(rf"/orchestration/tasks/(?!{voted}/)\d+/$"))
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=RUN)
    expect(page.locator("#decision-badge")).to_have_text("Judge")
    edited = Task.objects.latest("pk")
    assert edited.model_names == ["fake-agree-1", "fake-disagree"] and edited.strategy == "judge"

    # Too few answers: the task fails and says why.
    broken = create_task(page, daphne_url, prompt="Anyone?", models=["fake-500", "fake-429"])
    page.goto(f"{daphne_url}/orchestration/tasks/{broken}/")
    expect(page.locator("#task-status")).to_have_text("failed", timeout=RUN)
    expect(page.locator("#task-failed")).to_contain_text("only 0 of 2 models answered")
    expect(page.locator("#final-card")).to_be_hidden()
    page.screenshot(path=str(artifacts_dir / "orchestration-task-failed-light.png"), full_page=True)
    assert page.csp_errors == []


def test_template_variables_are_checked_in_the_form(page, daphne_url, alice, scripted, artifacts_dir, celery_worker):  # noqa: F811
    template = Template.objects.create(
        user=alice,
        name="Capital",
        body="What is the capital of {{ country }}? Answer in {{ sentences }} sentences.",
        variables=[
            {
                "name": "country",
                "type": "str",
                "required": True,
                "default": None,
                "choices": None,
                "description": "A country's name",
            },
            {"name": "sentences", "type": "int", "required": False, "default": 1, "choices": None, "description": ""},
        ],
    )
    login(page, daphne_url)
    page.goto(f"{daphne_url}/orchestration/tasks/new/?template={template.pk}")
    expect(page.locator("#mode-template")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tv-country")).to_be_visible()
    expect(page.locator("#tv-sentences")).to_have_attribute("placeholder", "Default: 1")
    page.locator("#model-list label", has_text="fake-agree-1").click()
    page.locator("#model-list label", has_text="fake-agree-2").click()

    # Checked in the page as the server would: a missing required value, a word for a whole number.
    page.fill("#tv-sentences", "two")
    page.click("#task-submit")
    expect(page.locator('.var-field[data-variable="country"] .field-error')).to_have_text("Required: give a value.")
    expect(page.locator('.var-field[data-variable="sentences"] .field-error')).to_contain_text(
        "Expected a whole number"
    )
    expect(page.locator("#tv-sentences")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#task-error")).to_contain_text("Fix the 2 fields")
    shoot(page, artifacts_dir, "orchestration-template-errors")
    assert Task.objects.count() == 0

    # The server's own check, shown under the variable it names: the template changed since the page loaded.
    page.fill("#tv-country", "France")
    page.fill("#tv-sentences", "")
    Template.objects.filter(pk=template.pk).update(
        variables=[
            {"name": "country", "type": "str", "required": True, "default": None, "choices": None, "description": ""},
            {"name": "sentences", "type": "int", "required": True, "default": None, "choices": None, "description": ""},
        ]
    )
    page.click("#task-submit")
    expect(page.locator('.var-field[data-variable="sentences"] .field-error')).to_contain_text(
        "variable 'sentences' is required"
    )
    assert Task.objects.count() == 0
    page.fill("#tv-sentences", "1")
    expect(page.locator("#template-preview")).to_have_text("What is the capital of France? Answer in 1 sentences.")
    page.click("#task-submit")
    page.wait_for_url(re.compile(r"/orchestration/tasks/\d+/$"))
    task = Task.objects.get()
    assert task.template_id == template.pk and task.variables == {"country": "France", "sentences": 1}
    assert task.prompt == "What is the capital of France? Answer in 1 sentences."
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=RUN)
    expect(page.locator("#decision-badge")).to_have_text("Consensus")
    expect(page.locator('#agreement-matrix td[data-verdict="agree"]')).to_have_count(2)
    assert page.csp_errors == []


def test_a_two_step_workflow_is_built_saved_and_run(page, daphne_url, alice, scripted, artifacts_dir, celery_worker):  # noqa: F811
    old = services.template_create(
        user=alice, name="Old report", body="Old: {{ answer }}", variables=[{"name": "answer", "type": "text"}]
    )
    services.template_create(
        user=alice, name="Report", body="Answer: {{ answer }}", variables=[{"name": "answer", "type": "text"}]
    )
    login(page, daphne_url)
    page.goto(f"{daphne_url}/orchestration/workflows/")
    expect(page.locator("#workflows-empty")).to_be_visible()
    page.click("#new-workflow")
    expect(page.get_by_role("heading", name="New workflow", level=1)).to_be_visible()
    page.fill("#wf-name", "Capital check")
    page.click("#inputs-add")
    page.locator("#input-rows .spec-name").last.fill("country")

    page.select_option("#step-type", "prompt")
    page.click("#step-add-button")
    first = page.locator("#step-list > li").nth(0)
    first.locator('[data-field="name"]').fill("ask")
    first.locator('[data-field="prompt"]').fill("What is the capital of {{ inputs.country }}?")
    first.locator('[data-field="model"]').select_option("fake-agree-1")

    page.select_option("#step-type", "transform")
    page.click("#step-add-button")
    second = page.locator("#step-list > li").nth(1)
    second.locator('[data-field="name"]').fill("report")
    second.locator('[data-field="mode"]').select_option("saved")
    second.locator('[data-field="template_id"]').select_option(label="Old report")
    second.locator('[data-field="variables.answer"]').fill("{{ steps.nowhere.output }}")

    # The page checks the references as the server would: nothing is sent.
    page.click("#wf-save")
    expect(second.locator(".step-error")).to_contain_text("names no earlier step")
    expect(second.locator('[data-field="variables.answer"]')).to_have_attribute("aria-invalid", "true")
    second.locator('[data-field="variables.answer"]').fill("{{ steps.ask.output }}")

    # Reordered, the report would read a step that comes after it: refused, then moved back.
    second.get_by_role("button", name="Move step 2 up").click()
    expect(page.locator("#step-list > li").nth(0).locator('[data-field="name"]')).to_have_value("report")
    page.click("#wf-save")
    expect(page.locator("#step-list > li").nth(0).locator(".step-error")).to_contain_text("names no earlier step")
    page.locator("#step-list > li").nth(1).get_by_role("button", name="Move step 2 up").click()
    expect(page.locator("#step-list > li").nth(0).locator('[data-field="name"]')).to_have_value("ask")

    # What only the server knows: the template was deleted meanwhile. Its refusal lands on the step.
    old.delete()
    page.click("#wf-save")
    expect(second.locator(".step-error")).to_contain_text("you have no template")
    expect(page.locator("#wf-error")).to_contain_text("The server refused it")
    assert Workflow.objects.count() == 0
    second.locator('[data-field="template_id"]').select_option(label="Report")
    second.locator('[data-field="variables.answer"]').fill("{{ steps.ask.output }}")
    shoot(page, artifacts_dir, "orchestration-workflow-builder")
    page.click("#wf-save")
    page.wait_for_url(re.compile(r"/orchestration/workflows/\d+/$"))
    workflow = Workflow.objects.get()
    assert [s["name"] for s in workflow.steps] == ["ask", "report"]
    assert workflow.steps[1]["variables"] == {"answer": "{{ steps.ask.output }}"}
    assert workflow.inputs[0]["name"] == "country"
    expect(page.locator("#wf-name")).to_have_value("Capital check")

    # Run it: the inputs form checks the required input, then the run's live view follows it to the end.
    page.click("#run-submit")
    expect(page.locator('#run-inputs .var-field[data-variable="country"] .field-error')).to_have_text(
        "Required: give a value."
    )
    page.fill("#run-country", "France")
    page.click("#run-submit")
    page.wait_for_url(re.compile(r"/orchestration/runs/\d+/$"))
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=RUN)
    expect(page.locator('#run-steps [data-step="ask"]')).to_contain_text("Paris is the capital of France.")
    expect(page.locator('#run-steps [data-step="report"]')).to_contain_text("Answer: Paris is the capital of France.")
    expect(page.locator("#run-result")).to_contain_text("Answer: Paris is the capital of France.")
    run = WorkflowRun.objects.get()
    assert run.status == "succeeded" and run.inputs == {"country": "France"}
    shoot(page, artifacts_dir, "orchestration-run")

    # The builder's history links to the run.
    page.click("#run-workflow-link")
    history = page.locator("#run-rows tr")
    expect(history).to_have_count(1)
    expect(history.first.locator("[data-status-badge]")).to_have_text("succeeded")
    history.first.locator("a").click()
    expect(page).to_have_url(f"{daphne_url}/orchestration/runs/{run.pk}/")
    page.goto(f"{daphne_url}/orchestration/workflows/")
    expect(page.locator(".wf-card")).to_contain_text("Capital check")
    shoot(page, artifacts_dir, "orchestration-workflows")
    assert page.csp_errors == []


def test_every_step_type_has_its_form_and_saves(page, daphne_url, alice, scripted, artifacts_dir):  # noqa: F811
    KnowledgeBase.objects.create(user=alice, name="Notes")
    login(page, daphne_url)
    page.goto(f"{daphne_url}/orchestration/workflows/new/")
    page.fill("#wf-name", "Every step")
    page.click("#inputs-add")
    page.locator("#input-rows .spec-name").last.fill("url")
    steps = page.locator("#step-list > li")

    def add(kind: str, name: str):
        page.select_option("#step-type", kind)
        page.click("#step-add-button")
        step = steps.nth(steps.count() - 1)  # by position: `last` would follow later additions
        step.locator('[data-field="name"]').fill(name)
        return step

    add("scrape", "page").locator('[data-field="url"]').fill("{{ inputs.url }}")
    notes = add("retrieve", "notes")
    notes.locator('[data-field="query"]').fill("{{ steps.page.output }}")
    notes.locator("label", has_text="Notes").click()
    notes.locator('[data-field="k"]').fill("3")
    check = add("cross_validate", "check")
    check.locator('[data-field="prompt"]').fill("Summarise: {{ steps.notes.output }}")
    check.locator("label", has_text="fake-agree-1").click()
    check.locator("label", has_text="fake-agree-2").click()
    check.locator('[data-field="strategy"]').select_option("vote")
    sure = add("branch", "sure")
    sure.locator('[data-field="value"]').fill("{{ steps.check.confidence }}")
    sure.locator('[data-field="threshold"]').fill("0.5")
    polish = add("prompt", "polish")
    polish.locator('[data-field="prompt"]').fill("Polish: {{ steps.check.output }}")
    polish.locator('[data-field="temperature"]').fill("0.2")
    polish.locator('[data-field="max_tokens"]').fill("200")
    add("transform", "final").locator('[data-field="template"]').fill("Final: {{ steps.polish.output }}")
    sure.locator('[data-field="else"]').select_option("end")  # the later steps are offered once they exist
    page.locator('#placeholder-list button[data-insert="{{ inputs.url }}"]').wait_for()

    # A number out of range is caught where it was typed.
    polish.locator('[data-field="temperature"]').fill("3")
    page.click("#wf-save")
    expect(polish.locator(".field-error")).to_have_text("From 0 to 2.")
    polish.locator('[data-field="temperature"]').fill("0.2")
    page.click("#wf-save")
    page.wait_for_url(re.compile(r"/orchestration/workflows/\d+/$"))
    workflow = Workflow.objects.get()
    kb_id = KnowledgeBase.objects.get().pk
    assert workflow.steps == [
        {"name": "page", "type": "scrape", "url": "{{ inputs.url }}"},
        {
            "name": "notes",
            "type": "retrieve",
            "query": "{{ steps.page.output }}",
            "knowledge_base_ids": [kb_id],
            "k": 3,
        },
        {
            "name": "check",
            "type": "cross_validate",
            "prompt": "Summarise: {{ steps.notes.output }}",
            "models": ["fake-agree-1", "fake-agree-2"],
            "strategy": "vote",
            "tiebreaker": "judge",
        },
        {
            "name": "sure",
            "type": "branch",
            "value": "{{ steps.check.confidence }}",
            "op": ">=",
            "threshold": 0.5,
            "else": "end",
        },
        {
            "name": "polish",
            "type": "prompt",
            "prompt": "Polish: {{ steps.check.output }}",
            "temperature": 0.2,
            "max_tokens": 200,
        },
        {"name": "final", "type": "transform", "template": "Final: {{ steps.polish.output }}"},
    ]
    # Saved, it comes back as it was built.
    expect(steps).to_have_count(6)
    expect(steps.nth(3).locator('[data-field="else"]')).to_have_value("end")
    expect(steps.nth(2).locator('[data-field="strategy"]')).to_have_value("vote")
    expect(steps.nth(1).locator("input[type=checkbox]:checked")).to_have_count(1)
    shoot(page, artifacts_dir, "orchestration-workflow-all-steps")
    assert page.csp_errors == []


def test_run_with_a_cross_check_and_a_branch(page, daphne_url, alice, scripted, artifacts_dir, celery_worker):  # noqa: F811
    login(page, daphne_url)
    steps = [
        {
            "name": "check",
            "type": "cross_validate",
            "prompt": "What is the capital of France?",
            "models": ["fake-agree-1", "fake-agree-2"],
        },
        {
            "name": "sure",
            "type": "branch",
            "value": "{{ steps.check.confidence }}",
            "op": ">=",
            "threshold": 2,
            "else": "end",
        },
        {"name": "never", "type": "transform", "template": "Not reached: {{ steps.check.output }}"},
    ]
    workflow = api_post(page, daphne_url, "/orchestration/api/workflows", {"name": "Checked", "steps": steps})
    page.goto(f"{daphne_url}/orchestration/workflows/{workflow['workflow']['id']}/")
    expect(page.locator("#run-inputs")).to_contain_text("no variables")
    page.click("#run-submit")
    page.wait_for_url(re.compile(r"/orchestration/runs/\d+/$"))
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=RUN)
    check = page.locator('#run-steps [data-step="check"]')
    expect(check).to_contain_text("Paris is the capital of France.")
    expect(check).to_contain_text("consensus")
    expect(page.locator('#run-steps [data-step="sure"]')).to_contain_text("else → end")
    expect(page.locator('#run-steps [data-step="never"]')).to_have_attribute("data-status", "skipped")
    expect(page.locator("#run-result")).to_contain_text("else")
    shoot(page, artifacts_dir, "orchestration-run-branch")

    # The cross-check's own task: its answers and reviews, inside the run (no cancel or run again of its own).
    check.get_by_role("link", name=re.compile(r"^Task #\d+$")).click()
    expect(page.locator("#task-status")).to_have_text("succeeded")
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text("Workflow run #")
    expect(page.locator("#decision-badge")).to_have_text("Consensus")
    expect(page.locator('#agreement-matrix td[data-verdict="agree"]')).to_have_count(2)
    expect(page.locator("#task-rerun")).to_be_hidden()
    expect(page.locator("#task-cancel")).to_be_hidden()
    expect(page.locator("#task-delete")).to_be_hidden()  # it goes with its run
    assert page.csp_errors == []


def test_pages_need_a_login(client):
    for path in (
        "/orchestration/",
        "/orchestration/tasks/new/",
        "/orchestration/tasks/1/",
        "/orchestration/workflows/",
        "/orchestration/workflows/new/",
        "/orchestration/runs/1/",
        "/orchestration/templates/",
        "/orchestration/instructions/",
    ):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path


def test_templates_and_instructions_are_edited_on_their_pages(page, daphne_url, alice, artifacts_dir):  # noqa: F811
    login(page, daphne_url)
    page.goto(f"{daphne_url}/orchestration/templates/")
    expect(page.locator("#library-empty")).to_be_visible()
    page.fill("#item-name", "Summary")
    page.fill("#item-body", "Summarise {{ text }} in {{ style }} style.")
    page.click("#detect-variables")
    expect(page.locator("#spec-rows .spec-row")).to_have_count(2)
    page.locator("#spec-rows .spec-row").nth(1).locator(".spec-type").select_option("choice")
    page.click("#item-save")
    expect(page.locator("#spec-rows .spec-row").nth(1).locator(".field-error")).to_contain_text("choices")
    page.locator("#spec-rows .spec-row").nth(1).locator(".spec-choices").fill("short, formal")
    page.locator("#spec-rows .spec-row").nth(0).locator(".spec-type").select_option("text")
    page.click("#item-save")
    expect(page.locator("#item-status")).to_have_text("Saved.")
    template = Template.objects.get()
    assert [(v["name"], v["type"]) for v in template.variables] == [("text", "text"), ("style", "choice")]
    assert template.variables[1]["choices"] == ["short", "formal"]
    expect(page.locator("#item-list")).to_contain_text("Summary")
    shoot(page, artifacts_dir, "orchestration-templates")

    page.goto(f"{daphne_url}/orchestration/instructions/")
    page.fill("#item-name", "French")
    page.fill("#item-body", "Answer in French.")
    page.click("#item-save")
    expect(page.locator("#item-status")).to_have_text("Saved.")
    page.fill("#item-body", "Always answer in French.")
    page.click("#item-save")
    expect(page.locator("#item-status")).to_have_text("Saved.")
    assert Instruction.objects.get().content == "Always answer in French."
    shoot(page, artifacts_dir, "orchestration-instructions")
    page.click("#item-delete")
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("#library-empty")).to_be_visible()
    assert Instruction.objects.count() == 0
    assert page.csp_errors == []


def test_buttons_wait_for_their_page_module(page, daphne_url, alice):  # noqa: F811
    """A click that lands before the page's module has run must not be lost: the buttons only the module makes
    work are disabled until it has (the CI flake where "Add an input" was clicked too early)."""
    login(page, daphne_url)
    held = re.compile(r".*/static/orchestration/common\.js.*")
    page.route(held, lambda route: route.abort())
    page.goto(f"{daphne_url}/orchestration/workflows/new/")
    for selector in ("#inputs-add", "#step-add-button", "#wf-save"):
        expect(page.locator(selector)).to_be_disabled()
    page.goto(f"{daphne_url}/orchestration/templates/")
    for selector in ("#item-new", "#spec-add", "#detect-variables", "#item-save"):
        expect(page.locator(selector)).to_be_disabled()
    page.goto(f"{daphne_url}/orchestration/tasks/new/")
    for selector in ("#mode-prompt", "#mode-template", "#task-submit"):
        expect(page.locator(selector)).to_be_disabled()

    page.unroute(held)
    page.goto(f"{daphne_url}/orchestration/workflows/new/")
    page.click("#inputs-add")
    expect(page.locator("#input-rows .spec-name")).to_have_count(1)
    expect(page.locator("#step-add-button")).to_be_enabled()
    page.goto(f"{daphne_url}/orchestration/templates/")
    expect(page.locator("#detect-variables")).to_be_enabled()
    page.goto(f"{daphne_url}/orchestration/tasks/new/")
    page.click("#mode-template")
    expect(page.locator("#mode-template")).to_have_attribute("aria-selected", "true")


def test_another_users_task_workflow_and_run_are_404(page, daphne_url, alice, bob):  # noqa: F811
    task = Task.objects.create(user=bob, title="Bob's question", prompt="Secret?", model_names=["m"])
    workflow = Workflow.objects.create(
        user=bob, name="Bob's", steps=[{"name": "a", "type": "transform", "template": "x"}]
    )
    run = WorkflowRun.objects.create(user=bob, workflow=workflow, steps=workflow.steps)
    login(page, daphne_url)
    for path in (
        f"/orchestration/tasks/{task.pk}/",
        f"/orchestration/workflows/{workflow.pk}/",
        f"/orchestration/runs/{run.pk}/",
        f"/orchestration/tasks/new/?from={task.pk}",
    ):
        response = page.goto(f"{daphne_url}{path}")
        if "from=" in path:  # the form opens empty: nothing of Bob's is copied into it
            assert response.status == 200
            expect(page.locator("#task-prompt")).to_have_value("")
            continue
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("Secret?")
    page.goto(f"{daphne_url}/orchestration/")
    expect(page.locator("#tasks-empty")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Bob's question")
