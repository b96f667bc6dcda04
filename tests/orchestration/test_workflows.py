"""Workflows: ordered steps checked when saved, run as a job on the real worker with each step's output
available to the later ones, branches on a score, run history, and a scrape step in real Chromium."""

from __future__ import annotations

import time

import pytest

from orchestration.models import Task
from tests.orchestration.conftest import API, ORCH_RIGHT, wait_job

pytestmark = [pytest.mark.django_db(transaction=True)]


def post(client, path: str, body: dict):
    return client.post(f"{API}{path}", body, content_type="application/json")


def steps(kb_id: int, template_id: int) -> list[dict]:
    return [
        {
            "name": "facts",
            "type": "retrieve",
            "query": "capital of {{ inputs.country }}",
            "knowledge_base_ids": [kb_id],
            "k": 1,
        },
        {
            "name": "draft",
            "type": "prompt",
            "model": "fake-agree-1",
            "prompt": "Using these notes:\n{{ steps.facts.output }}\nWhat is the capital of {{ inputs.country }}?",
        },
        {
            "name": "check",
            "type": "cross_validate",
            "models": ["fake-agree-1", "fake-agree-2"],
            "prompt": "Is this right? {{ steps.draft.output }}",
        },
        {
            "name": "sure",
            "type": "branch",
            "value": "{{ steps.check.confidence }}",
            "op": ">=",
            "threshold": 0.5,
            "then": "report",
            "else": "end",
        },
        {"name": "doubt", "type": "transform", "template": "Not sure about {{ steps.draft.output }}"},
        {
            "name": "report",
            "type": "transform",
            "template_id": template_id,
            "variables": {"answer": "{{ steps.check.output }}", "confidence": "{{ steps.check.confidence }}"},
        },
    ]


@pytest.fixture
def workflow(alice_client, kb) -> dict:
    template = post(
        alice_client,
        "/templates",
        {
            "name": "Report",
            "body": "Answer: {{ answer }} (confidence {{ confidence }})",
            "variables": [{"name": "answer", "type": "text"}, {"name": "confidence", "type": "float"}],
        },
    ).json()["template"]

    def make(threshold: float) -> dict:
        body = steps(kb.pk, template["id"])
        body[3]["threshold"] = threshold
        response = post(
            alice_client,
            "/workflows",
            {
                "name": f"Capital check {threshold}",
                "inputs": [{"name": "country", "type": "str"}],
                "steps": body,
            },
        )
        assert response.status_code == 201, response.content
        return response.json()["workflow"]

    return make


def run(client, workflow_id: int, inputs: dict) -> dict:
    response = post(client, f"/workflows/{workflow_id}/runs", {"inputs": inputs})
    assert response.status_code == 201, response.content
    started = response.json()["run"]
    wait_job(started["job_id"])
    return client.get(f"{API}/runs/{started['id']}").json()["run"]


def test_a_workflow_passes_each_steps_output_on_and_branches_on_the_score(
    alice_client, scripted, workflow, celery_worker
):
    saved = workflow(0.5)
    done = run(alice_client, saved["id"], {"country": "France"})
    assert done["status"] == "succeeded", (done["error"], done["outputs"])
    outputs = done["outputs"]
    assert outputs["facts"]["count"] == 1 and "Paris is the capital" in outputs["facts"]["output"]
    assert outputs["facts"]["hits"][0]["source_title"] == "France"
    asked = next(body for kind, body in scripted.state.requests if kind == "chat")
    assert "Paris is the capital of France, on the Seine." in asked["messages"][-1]["content"]
    assert asked["messages"][-1]["content"].endswith("What is the capital of France?")
    assert outputs["draft"]["output"] == ORCH_RIGHT
    assert outputs["check"]["method"] == "consensus" and outputs["check"]["output"] == ORCH_RIGHT
    confidence = outputs["check"]["confidence"]
    assert 0.5 <= confidence <= 1
    assert outputs["sure"]["output"] == "then" and outputs["sure"]["jump"] == "report"
    assert outputs["doubt"]["status"] == "skipped"
    assert outputs["report"]["output"] == f"Answer: {ORCH_RIGHT} (confidence {confidence})"
    assert done["result"]["output"] == outputs["report"]["output"]
    assert [t["step_name"] for t in done["tasks"]] == ["check"]
    step_task = Task.objects.get(pk=done["tasks"][0]["id"])
    assert step_task.workflow_run_id == done["id"] and step_task.job_id == done["job_id"]
    assert alice_client.get(f"{API}/tasks").json()["total"] == 0  # step tasks are not in the task history
    # The job behind task:update has one subtask per step.
    from core.models import Job

    job = Job.objects.get(pk=done["job_id"])
    assert [(s["id"], s["status"]) for s in job.subtasks] == [
        ("facts", "succeeded"),
        ("draft", "succeeded"),
        ("check", "succeeded"),
        ("sure", "succeeded"),
        ("doubt", "skipped"),
        ("report", "succeeded"),
    ]

    # Saved, so it runs again; each run is kept in the history.
    again = run(alice_client, saved["id"], {"country": "France"})
    assert again["status"] == "succeeded" and again["id"] != done["id"]
    history = alice_client.get(f"{API}/workflows/{saved['id']}/runs").json()
    assert [r["id"] for r in history["items"]] == [again["id"], done["id"]]


def test_the_else_branch_ends_the_run_and_skips_the_rest(alice_client, scripted, workflow, celery_worker):
    saved = workflow(1.5)  # no confidence reaches it
    done = run(alice_client, saved["id"], {"country": "France"})
    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"]["sure"]["output"] == "else"
    assert done["outputs"]["doubt"]["status"] == done["outputs"]["report"]["status"] == "skipped"
    assert done["result"]["output"] == "else"


def test_a_failing_step_fails_the_run_naming_the_step(alice_client, scripted, celery_worker):
    saved = post(
        alice_client,
        "/workflows",
        {
            "name": "Broken",
            "steps": [
                {"name": "ask", "type": "prompt", "model": "fake-500", "prompt": "hello"},
                {"name": "after", "type": "transform", "template": "{{ steps.ask.output }}"},
            ],
        },
    ).json()["workflow"]
    done = run(alice_client, saved["id"], {})
    assert done["status"] == "failed" and done["error"].startswith("step 'ask' (prompt):")
    assert done["outputs"]["ask"]["status"] == "failed" and done["outputs"]["after"]["status"] == "skipped"


@pytest.mark.parametrize(
    ("bad_steps", "message"),
    [
        ([{"name": "a", "type": "teleport"}], "step 'a': type: one of prompt, cross_validate, scrape"),
        ([{"name": "a", "type": "prompt"}], "step 'a': prompt is required for a prompt step"),
        (
            [
                {"name": "a", "type": "prompt", "prompt": "{{ steps.b.output }}"},
                {"name": "b", "type": "transform", "template": "x"},
            ],
            "step 'a': prompt: {{ steps.b.output }} names no earlier step",
        ),
        (
            [{"name": "a", "type": "prompt", "prompt": "{{ inputs.missing }}"}],
            "{{ inputs.missing }} is not a declared input",
        ),
        ([{"name": "a", "type": "prompt", "prompt": "{{ bare }}"}], "use {{ inputs.NAME }} or {{ steps.NAME.output }}"),
        (
            [
                {"name": "a", "type": "transform", "template": "x"},
                {"name": "b", "type": "branch", "value": "1", "threshold": 0, "then": "a"},
            ],
            'step \'b\': then: "next", "end" or the name of a later step',
        ),
        (
            [{"name": "a", "type": "transform", "template_id": 99999}],
            "step 'a': template_id: you have no template 99999",
        ),
        (
            [{"name": "a", "type": "retrieve", "query": "q", "knowledge_base_ids": [99999]}],
            "you have no knowledge base 99999",
        ),
        ([{"name": "a", "type": "prompt", "prompt": "x", "colour": 1}], "unknown field 'colour' for a prompt step"),
        ([{"name": "A b", "type": "prompt", "prompt": "x"}], "steps[0]: name: lower-case letters"),
        ([{"name": "a", "type": "transform", "template": "x"}] * 2, "the name 'a' is used twice"),
        ([], "steps: a list of steps"),
    ],
)
def test_bad_workflows_are_refused_when_saved_naming_the_step(alice_client, bad_steps, message):
    response = post(alice_client, "/workflows", {"name": "W", "steps": bad_steps})
    assert response.status_code == 400
    assert message in response.json()["error"], response.json()


def test_run_inputs_are_checked_before_anything_runs(alice_client):
    saved = post(
        alice_client,
        "/workflows",
        {
            "name": "W",
            "inputs": [{"name": "n", "type": "int"}],
            "steps": [{"name": "a", "type": "transform", "template": "{{ inputs.n }}"}],
        },
    ).json()
    response = post(alice_client, f"/workflows/{saved['workflow']['id']}/runs", {"inputs": {"n": "ten"}})
    assert response.status_code == 400 and "inputs: variable 'n': expected a whole number" in response.json()["error"]


@pytest.mark.browser
def test_a_scrape_step_reads_a_page_in_chromium(alice_client, site, celery_worker):
    from tests.scrape.conftest import Reply, html

    site.routes["/tides"] = lambda h: Reply(
        body=html("<h1>Tides</h1><p>The moon pulls the sea twice a day.</p>", head="<title>About tides</title>")
    )
    saved = post(
        alice_client,
        "/workflows",
        {
            "name": "Read",
            "inputs": [{"name": "page", "type": "str"}],
            "steps": [
                {"name": "page", "type": "scrape", "url": "{{ inputs.page }}"},
                {"name": "quote", "type": "transform", "template": "{{ steps.page.title }}: {{ steps.page.output }}"},
            ],
        },
    ).json()["workflow"]
    done = run(alice_client, saved["id"], {"page": site.url("/tides")})
    assert done["status"] == "succeeded", (done["error"], done["outputs"])
    assert done["outputs"]["page"]["title"] == "About tides"
    assert "The moon pulls the sea twice a day." in done["outputs"]["quote"]["output"]


def test_cancel_stops_a_running_workflow_and_its_model_call(alice_client, scripted, celery_worker):
    saved = post(
        alice_client,
        "/workflows",
        {
            "name": "Slow",
            "steps": [
                {"name": "first", "type": "transform", "template": "go"},
                {"name": "ask", "type": "prompt", "model": "fake-stall", "prompt": "hello"},
                {"name": "after", "type": "transform", "template": "{{ steps.ask.output }}"},
            ],
        },
    ).json()["workflow"]
    started = post(alice_client, f"/workflows/{saved['id']}/runs", {}).json()["run"]
    deadline = time.monotonic() + 30
    while (
        alice_client.get(f"{API}/runs/{started['id']}").json()["run"]["outputs"].get("ask", {}).get("status")
        != "running"
    ):
        assert time.monotonic() < deadline, "the prompt step never started"
        time.sleep(0.05)
    time.sleep(0.5)  # the stalled call is in flight
    asked = time.monotonic()
    assert post(alice_client, f"/runs/{started['id']}/cancel", {}).status_code == 200
    wait_job(started["job_id"], timeout=10)
    assert time.monotonic() - asked < 2.5
    done = alice_client.get(f"{API}/runs/{started['id']}").json()["run"]
    assert done["status"] == "cancelled"
    assert [done["outputs"][n]["status"] for n in ("first", "ask")] == ["succeeded", "cancelled"]
    assert "after" not in done["outputs"]
    assert post(alice_client, f"/runs/{started['id']}/cancel", {}).status_code == 409
