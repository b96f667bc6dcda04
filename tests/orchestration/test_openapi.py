"""The published OpenAPI schema: well-formed, every route described with its methods, every $ref resolved,
and real responses (a finished task, lists, templates, workflows, runs, errors) valid against it."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern

from orchestration import urls
from tests.orchestration.conftest import API, wait_job, wait_task

pytestmark = [pytest.mark.django_db(transaction=True)]

TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


class Invalid(AssertionError):
    pass


def resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        path = schema["$ref"].removeprefix("#/").split("/")
        node = doc
        for part in path:
            node = node[part]
        schema = node
    return schema


def check(doc: dict, schema: dict, value, where: str = "$") -> None:
    """The subset of JSON Schema 2020-12 the document uses: type, properties, required, items, enum, const,
    additionalProperties, allOf, anyOf, oneOf, minItems, pattern."""
    schema = resolve(doc, schema)
    if "allOf" in schema:
        for part in schema["allOf"]:
            check(doc, part, value, where)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passed = 0
            for option in schema[key]:
                try:
                    check(doc, option, value, where)
                    passed += 1
                except Invalid:
                    pass
            if passed == 0 or (key == "oneOf" and passed > 1):
                raise Invalid(f"{where}: {value!r:.80} matches {passed} of the {key} options")
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        ok = any(
            isinstance(value, TYPES[k]) and not (k in ("integer", "number") and isinstance(value, bool)) for k in kinds
        )
        if not ok:
            raise Invalid(f"{where}: expected {kinds}, got {value!r:.80}")
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        raise Invalid(f"{where}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        raise Invalid(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise Invalid(f"{where}: {name!r} is missing")
        for name, item in value.items():
            if name in properties:
                check(doc, properties[name], item, f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                raise Invalid(f"{where}: {name!r} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                check(doc, schema["additionalProperties"], item, f"{where}.{name}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise Invalid(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                check(doc, schema["items"], item, f"{where}[{i}]")


def refs(node) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


@pytest.fixture
def doc(alice_client) -> dict:
    response = alice_client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.json()


def response_schema(doc: dict, path: str, method: str, status: int) -> dict:
    return doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


def valid(doc: dict, response, path: str, method: str = "get") -> dict:
    check(doc, response_schema(doc, path, method, response.status_code), response.json())
    return response.json()


def test_the_schema_needs_a_login(client):
    assert client.get(f"{API}/openapi.json").status_code == 401


def test_every_route_is_described_with_its_methods_and_every_ref_resolves(doc):
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"]
    for ref in refs(doc):
        assert resolve(doc, {"$ref": ref}), ref
    described = {}
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        if not route.startswith("api/"):
            continue  # the pages
        path = "/orchestration/" + re.sub(r"<int:(\w+)>", r"{\1}", route)
        assert path in doc["paths"], f"{path} is not in the schema"
        described[path] = {m for m in doc["paths"][path] if m in ("get", "post", "patch", "delete", "put")}
        for operation in described[path]:
            op = doc["paths"][path][operation]
            assert op["summary"] and op["responses"], (path, operation)
            assert "401" in op["responses"]
    assert set(described) == {p for p in doc["paths"]}, "the schema describes routes that do not exist"


def test_the_methods_described_are_exactly_the_methods_served(alice_client, doc):
    for path, item in doc["paths"].items():
        concrete = path.replace("{pk}", "999999")
        for method in ("get", "post", "patch", "delete"):
            response = getattr(alice_client, method)(concrete, {}, content_type="application/json")
            if method in item:
                assert response.status_code != 405, (method, path)
            else:
                assert response.status_code == 405, (method, path, response.status_code)


def test_real_responses_match_the_schema(alice_client, doc, scripted, celery_worker):
    created_response = alice_client.post(
        f"{API}/tasks",
        {"prompt": "Capital of France?", "models": ["fake-agree-1", "fake-disagree"], "judge_model": "fake-orch-judge"},
        content_type="application/json",
    )
    created = valid(doc, created_response, f"{API}/tasks", "post")["task"]
    check(
        doc, doc["components"]["schemas"]["TaskCreate"], {"prompt": "q", "models": ["a"], "options": {"temperature": 1}}
    )
    wait_task(created["id"])
    task_path = f"{API}/tasks/{{pk}}"
    finished = valid(doc, alice_client.get(f"{API}/tasks/{created['id']}"), task_path)["task"]
    assert finished["status"] == "succeeded" and finished["decision"]["method"] == "judge"
    valid(doc, alice_client.get(f"{API}/tasks"), f"{API}/tasks")
    valid(doc, alice_client.get(f"{API}/tasks/999999"), task_path)
    valid(
        doc, alice_client.post(f"{API}/tasks", {"prompt": ""}, content_type="application/json"), f"{API}/tasks", "post"
    )
    valid(doc, alice_client.post(f"{API}/tasks/{created['id']}/cancel"), f"{API}/tasks/{{pk}}/cancel", "post")
    rerun = valid(doc, alice_client.post(f"{API}/tasks/{created['id']}/rerun"), f"{API}/tasks/{{pk}}/rerun", "post")
    wait_task(rerun["task"]["id"])
    valid(doc, alice_client.get(f"{API}/models"), f"{API}/models")

    template = valid(
        doc,
        alice_client.post(
            f"{API}/templates",
            {"name": "T", "body": "On {{ x }}", "variables": [{"name": "x", "type": "choice", "choices": ["a", "b"]}]},
            content_type="application/json",
        ),
        f"{API}/templates",
        "post",
    )["template"]
    valid(doc, alice_client.get(f"{API}/templates"), f"{API}/templates")
    valid(
        doc,
        alice_client.post(
            f"{API}/templates/{template['id']}/render", {"variables": {"x": "a"}}, content_type="application/json"
        ),
        f"{API}/templates/{{pk}}/render",
        "post",
    )
    valid(
        doc,
        alice_client.post(f"{API}/instructions", {"name": "I", "content": "c"}, content_type="application/json"),
        f"{API}/instructions",
        "post",
    )
    valid(doc, alice_client.get(f"{API}/instructions"), f"{API}/instructions")

    workflow = valid(
        doc,
        alice_client.post(
            f"{API}/workflows",
            {
                "name": "W",
                "steps": [
                    {"name": "say", "type": "prompt", "model": "fake-agree-1", "prompt": "Capital?"},
                    {"name": "sure", "type": "branch", "value": "1", "threshold": 0.5},
                ],
            },
            content_type="application/json",
        ),
        f"{API}/workflows",
        "post",
    )["workflow"]
    valid(doc, alice_client.get(f"{API}/workflows/{workflow['id']}"), f"{API}/workflows/{{pk}}")
    run = valid(
        doc,
        alice_client.post(f"{API}/workflows/{workflow['id']}/runs", {}, content_type="application/json"),
        f"{API}/workflows/{{pk}}/runs",
        "post",
    )["run"]
    wait_job(run["job_id"])
    done = valid(doc, alice_client.get(f"{API}/runs/{run['id']}"), f"{API}/runs/{{pk}}")["run"]
    assert done["status"] == "succeeded"
    valid(doc, alice_client.get(f"{API}/runs"), f"{API}/runs")
    valid(doc, alice_client.get(f"{API}/workflows/{workflow['id']}/runs"), f"{API}/workflows/{{pk}}/runs")
    valid(doc, alice_client.post(f"{API}/runs/{run['id']}/cancel"), f"{API}/runs/{{pk}}/cancel", "post")


def test_the_validator_catches_a_response_that_does_not_match(doc):
    with pytest.raises(Invalid, match="'job_id' is missing"):
        check(doc, {"$ref": "#/components/schemas/Task"}, {"id": 1})
    with pytest.raises(Invalid, match="not in"):
        check(doc, {"$ref": "#/components/schemas/Error"}, {"error": "x", "code": "teapot"})
