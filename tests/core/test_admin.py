"""Every model is in the admin, with list pages that load for staff."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from core.services import api_token_create

pytestmark = pytest.mark.django_db

OUR_APPS = {"core", "llm", "chat", "monitoring", "browser", "knowledge", "orchestration"}


def our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]


def test_every_model_of_ours_is_registered():
    missing = [m.__name__ for m in our_models() if not admin.site.is_registered(m)]
    assert missing == []


def test_changelists_load_with_search_and_filters(client, django_user_model, alice):
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123")
    client.force_login(superuser)
    api_token_create(user=alice, name="cli")
    for model in our_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url, {"q": "alice"}).status_code == 200, url


def test_first_admin_is_created_once_with_a_generated_password_printed(capsys, django_user_model, monkeypatch):
    monkeypatch.delenv("ORCH_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    out = capsys.readouterr().out
    assert "password" in out and "shown only once" in out
    password = out.split("password '")[1].split("'")[0]
    admin_user = django_user_model.objects.get(username="admin")
    assert admin_user.is_superuser and admin_user.check_password(password)
    call_command("ensure_admin")
    assert capsys.readouterr().out == ""
    assert django_user_model.objects.filter(is_superuser=True).count() == 1


def test_first_admin_takes_the_password_from_the_environment(capsys, django_user_model, monkeypatch):
    monkeypatch.setenv("ORCH_ADMIN_PASSWORD", "from-the-env-123")
    call_command("ensure_admin")
    assert "from-the-env-123" not in capsys.readouterr().out
    assert django_user_model.objects.get(username="admin").check_password("from-the-env-123")
