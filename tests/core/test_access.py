"""Login is required everywhere but the login pages and /healthz; staff pages are staff-only."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/chat/",
    "/monitoring/",
    "/models/",
    "/orchestration/",
    "/knowledge/",
    "/integrations/",
    "/training/",
    "/terminal/",
    "/account/tokens/",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={path}")


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"])
def test_login_pages_are_open(client, path):
    assert client.get(path).status_code == 200


def test_admin_needs_staff(client, alice):
    assert client.get("/admin/").status_code == 302
    client.force_login(alice)
    assert client.get("/admin/").status_code == 302  # logged in, but not staff


@pytest.mark.parametrize("path", [p for p in PAGES if p != "/terminal/"])
def test_signed_in_users_see_every_page(alice_client, path):
    response = alice_client.get(path)
    assert response.status_code == 200
    assert b'id="main"' in response.content


def test_terminal_is_staff_only(alice_client, client, staff):
    assert alice_client.get("/terminal/").status_code == 403
    client.force_login(staff)
    assert client.get("/terminal/").status_code == 200


def test_non_staff_do_not_see_the_terminal_in_the_navigation(alice_client):
    assert b'href="/terminal/"' not in alice_client.get("/").content


def test_json_api_answers_401_not_a_login_redirect(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_login_with_username_or_email(client, alice):
    from tests.fixtures.users import PASSWORD

    for login in ("alice", "alice@example.com"):
        client.logout()
        response = client.post("/accounts/login/", {"login": login, "password": PASSWORD})
        assert response.status_code == 302, login
        assert client.get("/api/me").json()["username"] == "alice"


def test_wrong_password_is_refused(client, alice):
    response = client.post("/accounts/login/", {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert client.get("/api/me").status_code == 401


def test_sign_up_creates_an_account_and_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "dora@example.com",
            "username": "dora",
            "password1": "a sturdy pass phrase",
            "password2": "a sturdy pass phrase",
        },
    )
    assert response.status_code == 302
    assert client.get("/api/me").json()["username"] == "dora"


def test_sign_up_can_be_closed(client, settings):
    settings.ORCH_SIGNUP_OPEN = False
    response = client.get("/accounts/signup/")
    assert b"closed" in response.content.lower()


def test_pages_send_a_content_security_policy_without_inline_scripts(alice_client):
    csp = alice_client.get("/")["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'self'" in script_src
    assert "unsafe-inline" not in script_src
