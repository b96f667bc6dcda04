"""The admin's login is the site's login: its failed-login limits apply (5 per login name in 5 minutes),
the right password is refused too while locked out, and the lockout is in the audit log."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from core.models import AuditEvent
from tests.fixtures.users import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("login_limits_clean")]

WRONG = "not-the-password-0"
TOO_MANY = "Too many failed login attempts"


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)


def attacker() -> Client:
    # An address of its own, so the per-IP limit of other tests' logins from 127.0.0.1 plays no part.
    return Client(REMOTE_ADDR="203.0.113.7")


def admin_login(client: Client, password: str):
    """Log in the way /admin/login/ leads a browser: open it, then submit the form it ends up showing."""
    form = client.get("/admin/login/?next=/admin/", follow=True)
    assert form.status_code == 200
    path = form.request["PATH_INFO"]
    query = form.request.get("QUERY_STRING", "")
    field = "login" if 'name="login"' in form.content.decode() else "username"
    return client.post(f"{path}?{query}" if query else path, {field: "admin", "password": password, "next": "/admin/"})


def is_admin(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_thirty_wrong_passwords_on_the_admin_login_lock_it_even_for_the_right_one(admin_user):
    client = attacker()
    refused_at = None
    for attempt in range(1, 31):
        response = admin_login(client, f"{WRONG}{attempt}")
        assert response.status_code == 200  # the form again, never a login
        if TOO_MANY in response.content.decode():
            refused_at = attempt
            break
    assert refused_at is not None, "30 wrong passwords for admin and no throttle"
    assert refused_at <= 6

    response = admin_login(client, PASSWORD)
    assert TOO_MANY in response.content.decode()
    assert not is_admin(client)

    # From another address too: the limit is on the login name as well.
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    assert TOO_MANY in admin_login(elsewhere, PASSWORD).content.decode()
    assert not is_admin(elsewhere)

    locked = AuditEvent.objects.filter(action="account.login_locked")
    assert locked.count() == 2  # once per login name and address, not once per refused attempt
    event = locked.order_by("created_at").first()
    assert event.user == admin_user and event.detail["login"] == "admin" and event.ip_address == "203.0.113.7"


def test_the_admin_form_itself_no_longer_checks_passwords(admin_user):
    """A POST straight to /admin/login/ (bypassing the form it redirects to) authenticates nobody."""
    client = attacker()
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    assert not is_admin(client)


def test_the_admin_still_logs_in_through_the_site_login_and_lands_in_the_admin(admin_user):
    client = attacker()
    response = admin_login(client, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert is_admin(client)
    assert not AuditEvent.objects.filter(action="account.login_locked").exists()


def test_a_signed_in_user_who_is_not_staff_is_refused_by_the_admin(alice):
    client = attacker()
    client.force_login(alice)
    assert client.get("/admin/login/").status_code == 403
    assert not is_admin(client)
