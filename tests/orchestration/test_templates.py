"""Templates: typed variables declared and checked before anything runs; a missing or wrong-typed value is
refused with an error naming the variable, and nothing is queued."""

from __future__ import annotations

import pytest

from core.models import Job
from orchestration import variables
from orchestration.models import Task
from tests.orchestration.conftest import API, stop_task

pytestmark = [pytest.mark.django_db(transaction=True)]

FACTS = {
    "name": "Facts",
    "body": "Write {{ count }} facts about {{topic}} in a {{ tone }} tone.{{ extra }}",
    "variables": [
        {"name": "topic", "type": "str", "description": "what the facts are about"},
        {"name": "count", "type": "int", "default": 3},
        {"name": "tone", "type": "choice", "choices": ["formal", "casual"], "default": "formal"},
        {"name": "extra", "type": "text", "required": False},
        {"name": "detailed", "type": "bool", "required": False},
    ],
}


def post(client, path: str, body: dict):
    return client.post(f"{API}{path}", body, content_type="application/json")


@pytest.fixture
def template_id(alice_client) -> int:
    response = post(alice_client, "/templates", FACTS)
    assert response.status_code == 201, response.content
    return response.json()["template"]["id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": "About {{ subject }}"}, "body: {{ subject }} is not a declared variable"),
        ({"variables": [{"name": "topic", "type": "date"}]}, "type must be one of str, text, int, float, bool, choice"),
        ({"variables": [{"name": "tone", "type": "choice"}]}, "a choice needs `choices`"),
        (
            {"variables": [{"name": "n", "type": "int", "default": "many"}]},
            "default of variable 'n': expected a whole number",
        ),
        ({"variables": [{"name": "topic"}, {"name": "topic"}]}, "variable 'topic' is declared twice"),
        ({"variables": [{"name": "2nd", "type": "str"}]}, "variables[0]: name must be letters"),
        ({"variables": [{"name": "x", "type": "str", "colour": "red"}]}, "unknown key 'colour'"),
        ({"name": ""}, "name: give a name"),
    ],
)
def test_bad_declarations_are_refused_naming_the_problem(alice_client, change, message):
    response = post(
        alice_client,
        "/templates",
        {**FACTS, **change} if "body" in change or "name" in change else {**FACTS, "body": "x", **change},
    )
    assert response.status_code == 400
    assert message in response.json()["error"], response.json()
    assert response.json()["code"] == "bad_request"


def test_a_name_is_unique_per_user(alice_client, template_id):
    response = post(alice_client, "/templates", FACTS)
    assert response.status_code == 400 and "already have one with this name" in response.json()["error"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "variable 'topic' is required (str: what the facts are about)"),
        ({"topic": "tides", "count": "many"}, "variable 'count': expected a whole number, got 'many'"),
        ({"topic": "tides", "count": 2.5}, "variable 'count': expected a whole number, got 2.5"),
        ({"topic": "tides", "tone": "angry"}, "variable 'tone': expected one of formal, casual, got 'angry'"),
        ({"topic": "tides", "detailed": "maybe"}, "variable 'detailed': expected true or false, got 'maybe'"),
        ({"topic": ["a", "list"]}, "variable 'topic': expected text, got a list"),
        ({"topic": "two\nlines"}, "variable 'topic': expected one line of text"),
        (
            {"topic": "tides", "colour": "red"},
            "unknown variable 'colour' (declared: topic, count, tone, extra, detailed)",
        ),
    ],
)
def test_a_task_with_missing_or_wrong_typed_variables_is_refused_and_nothing_is_queued(
    alice_client, scripted, template_id, values, message
):
    response = post(
        alice_client, "/tasks", {"template_id": template_id, "variables": values, "models": ["fake-agree-1"]}
    )
    assert response.status_code == 400
    assert message in response.json()["error"], response.json()
    assert not Task.objects.exists() and not Job.objects.exists()


def test_good_values_are_converted_and_the_prompt_rendered(alice_client, scripted, template_id):
    values = {"topic": "tides", "count": "5", "detailed": "true"}
    preview = post(alice_client, f"/templates/{template_id}/render", {"variables": values})
    assert preview.status_code == 200
    assert preview.json()["prompt"] == "Write 5 facts about tides in a formal tone."
    assert preview.json()["variables"] == {
        "topic": "tides",
        "count": 5,
        "tone": "formal",
        "extra": "",
        "detailed": True,
    }
    response = post(
        alice_client, "/tasks", {"template_id": template_id, "variables": values, "models": ["fake-agree-1"]}
    )
    assert response.status_code == 201, response.content
    task = response.json()["task"]
    assert task["prompt"] == "Write 5 facts about tides in a formal tone." and task["template_id"] == template_id
    assert task["variables"]["count"] == 5 and task["title"] == task["prompt"]
    stop_task(task["id"])  # not run: the point was the prompt


def test_prompt_and_template_together_are_refused(alice_client, template_id):
    response = post(alice_client, "/tasks", {"template_id": template_id, "prompt": "also this"})
    assert response.status_code == 400 and "either prompt or template_id" in response.json()["error"]


def test_editing_a_template_checks_it_again(alice_client, template_id):
    response = alice_client.patch(
        f"{API}/templates/{template_id}", {"body": "About {{ nothing }}"}, content_type="application/json"
    )
    assert response.status_code == 400 and "{{ nothing }}" in response.json()["error"]
    response = alice_client.patch(
        f"{API}/templates/{template_id}", {"body": "Tell me about {{ topic }}."}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["template"]["body"] == "Tell me about {{ topic }}."


def test_values_follow_the_declared_types():
    specs = variables.specs_validate(
        [
            {"name": "n", "type": "int"},
            {"name": "x", "type": "float", "required": False},
            {"name": "b", "type": "bool", "default": False},
            {"name": "t", "type": "text", "required": False},
        ]
    )
    assert variables.values_validate(specs, {"n": " 7 ", "x": "2.5", "t": "a\nb"}) == {
        "n": 7,
        "x": 2.5,
        "b": False,
        "t": "a\nb",
    }
    for bad, message in [
        ({"n": True}, "whole number"),
        ({"n": 1, "x": "nan"}, "finite"),
        ({"n": 1, "b": 3}, "true or false"),
    ]:
        with pytest.raises(variables.VariableError, match=message):
            variables.values_validate(specs, bad)
    with pytest.raises(variables.RenderError, match=r"nothing named 'steps\.later'"):
        variables.render("{{ steps.later.output }}", {"steps": {}})
