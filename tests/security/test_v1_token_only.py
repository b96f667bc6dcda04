"""/v1/* (the OpenAI-compatible API) takes no CSRF token, so it must take no session cookie either: a form
auto-submitted from another port of the same host would otherwise spend the victim's models."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from core.services import api_token_create
from tests.fixtures.pages import browser_login
from tests.fixtures.web import Reply

pytestmark = [pytest.mark.django_db(transaction=True)]

COMPLETION = {"model": "fake-ok", "messages": [{"role": "user", "content": "Write me a long essay."}]}


def session_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)  # as a browser's cross-site form: no CSRF token
    client.force_login(user)
    return client


def assert_openai_401(response) -> None:
    assert response.status_code == 401, response.content
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_api_key"
    assert "API token" in error["message"]


def test_a_session_cookie_post_to_chat_completions_is_401_and_makes_no_completion(alice, fake_backend):
    # text/plain, as an HTML form can send it: the body is still JSON to a lenient parser.
    response = session_client(alice).post("/v1/chat/completions", json.dumps(COMPLETION), content_type="text/plain")
    assert_openai_401(response)
    assert fake_backend.state.calls == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("get", "/v1/models", None), ("post", "/v1/embeddings", {"model": "fake-ok", "input": "x"})],
)
def test_the_other_v1_endpoints_refuse_the_session_too(alice, fake_backend, method, path, body):
    client = session_client(alice)
    response = client.get(path) if method == "get" else client.post(path, body, content_type="application/json")
    assert_openai_401(response)


def test_a_bearer_token_still_gets_its_completion(alice, fake_backend):
    token = api_token_create(user=alice, name="openai client").secret
    response = Client().post(
        "/v1/chat/completions", COMPLETION, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200, response.content
    assert response.json()["choices"][0]["message"]["content"]
    assert fake_backend.state.calls == 1


def test_an_auto_submitted_form_from_another_port_spends_nothing_in_chromium(
    chromium, daphne_url, attacker_site, alice, fake_backend
):
    # enctype=text/plain writes `name=value`: the name opens the JSON, the value closes it.
    head = json.dumps(COMPLETION)[:-1] + ', "pad": "'
    attacker_site.routes["/"] = lambda h: Reply(
        body=(
            f'<!doctype html><form id="f" method="post" enctype="text/plain" action="{daphne_url}/v1/chat/completions">'
            f"<input type=\"hidden\" name='{head}' value='\"}}'></form>"
            '<script>document.getElementById("f").submit()</script>'
        )
    )
    browser_login(chromium, daphne_url, "alice")
    page = chromium.new_page()
    with page.expect_response(f"{daphne_url}/v1/chat/completions") as answered:
        page.goto(attacker_site.url("/"))
    response = answered.value
    assert response.status == 401, response.text()
    assert json.loads(response.text())["error"]["code"] == "invalid_api_key"
    assert fake_backend.state.calls == 0


def test_the_apps_own_pages_list_models_without_v1(alice, fake_backend):
    client = session_client(alice)
    page = client.get("/chat/").content.decode()
    assert 'data-models-api="/models/api/models"' in page
    listed = client.get("/models/api/models")
    assert listed.status_code == 200
    assert "fake-ok" in [m["id"] for m in listed.json()["data"]]
    assert Client().get("/models/api/models").status_code == 401


def test_no_page_script_calls_v1():
    """/v1 refuses the session, so a page's own script must use the pages' endpoints."""
    from tests.fixtures.stack import ROOT

    scripts = [p for p in ROOT.glob("*/static/**/*.js") if "vendor" not in p.parts]
    scripts += [p for p in ROOT.glob("*/templates/**/*.html")] + list(ROOT.glob("templates/**/*.html"))
    assert scripts
    offenders = [str(p.relative_to(ROOT)) for p in scripts if "/v1/" in p.read_text() or "v1_" in p.read_text()]
    assert offenders == []
