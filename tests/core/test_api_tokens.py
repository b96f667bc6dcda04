"""Per-user API tokens: shown once, stored hashed, revocable, last-used time, Bearer auth."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.core.management import call_command

from core.models import ApiToken, AuditEvent
from core.services import api_token_create

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_created_in_the_ui_shown_once_and_stored_only_as_a_hash(alice_client, alice):
    created = alice_client.post("/account/tokens/", {"name": "backup script"})
    assert created.status_code == 302  # POST-redirect-GET: a reload of the page cannot create a second token
    assert created["Location"] == "/account/tokens/"
    assert b"orch_" not in created.content
    assert "orch_" not in str(dict(alice_client.session))  # held encrypted until it is shown
    response = alice_client.get("/account/tokens/")
    assert response.status_code == 200
    secret = re.search(rb'id="new-token"[^>]*value="(orch_[^"]+)"', response.content).group(1).decode()
    token = ApiToken.objects.get(user=alice)
    assert token.name == "backup script"
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert all(secret not in value for value in stored)
    assert response["Cache-Control"] == "no-store"
    again = alice_client.get("/account/tokens/")
    assert secret.encode() not in again.content
    assert token.prefix.encode() in again.content


def test_a_token_authenticates_the_json_api_and_records_last_use(client, alice):
    created = api_token_create(user=alice, name="cli")
    assert created.token.last_used_at is None
    response = client.get("/api/me", **bearer(created.secret))
    assert response.status_code == 200
    assert response.json() == {"id": alice.pk, "username": "alice", "is_staff": False, "auth": "token"}
    created.token.refresh_from_db()
    assert created.token.last_used_at is not None


def test_a_revoked_token_stops_working_at_once(alice_client, client, alice):
    created = api_token_create(user=alice, name="old")
    response = alice_client.post(f"/account/tokens/{created.token.pk}/revoke/")
    assert response.status_code == 302
    created.token.refresh_from_db()
    assert created.token.revoked_at is not None
    assert client.get("/api/me", **bearer(created.secret)).status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoke", user=alice).exists()


@pytest.mark.parametrize("header", ["Bearer orch_not-a-real-token", "Bearer  ", "Bearer nonsense"])
def test_a_wrong_token_is_401_on_any_path_never_a_login_page(client, header):
    for path in ("/api/me", "/"):
        response = client.get(path, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, (path, header)


def test_other_authorization_schemes_are_left_alone(client):
    """An auth proxy in front (Basic) must not turn every page into a 401."""
    assert client.get("/", HTTP_AUTHORIZATION="Basic YWxpY2U6eA==").status_code == 302


def test_bob_cannot_see_or_revoke_alices_token(client, alice, bob):
    created = api_token_create(user=alice, name="alice's")
    client.force_login(bob)
    assert created.token.prefix.encode() not in client.get("/account/tokens/").content
    assert client.post(f"/account/tokens/{created.token.pk}/revoke/").status_code == 404
    created.token.refresh_from_db()
    assert created.token.revoked_at is None


def test_a_token_of_a_deactivated_user_does_not_work(client, alice):
    created = api_token_create(user=alice, name="cli")
    alice.is_active = False
    alice.save()
    assert client.get("/api/me", **bearer(created.secret)).status_code == 401


def test_empty_name_gets_a_clear_error_and_creates_nothing(alice_client):
    response = alice_client.post("/account/tokens/", {"name": "  "})
    assert response.status_code == 200
    assert b"Give the token a name" in response.content
    assert ApiToken.objects.count() == 0


def test_tokens_need_no_csrf_but_sessions_do(client, alice):
    created = api_token_create(user=alice, name="cli")
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/account/tokens/", {"name": "x"}, **bearer(created.secret)).status_code == 201
    strict.force_login(alice)
    assert strict.post("/account/tokens/", {"name": "y"}).status_code == 403


def test_management_command_prints_the_token_alone_on_its_last_line(client, alice, capsys):
    call_command("create_api_token", "alice", "--name", "deploy")
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"orch_[A-Za-z0-9_-]{40,}", last_line)
    assert client.get("/api/me", **bearer(last_line)).json()["username"] == "alice"


def test_management_command_names_an_unknown_user(capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody")
