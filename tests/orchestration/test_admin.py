"""Every orchestrator model is in the admin; the list pages and a task with its subtasks load for staff."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from orchestration import services
from orchestration.models import Subtask

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_model_is_registered_and_its_pages_load(client, django_user_model, alice, scripted):
    models = list(apps.get_app_config("orchestration").get_models())
    assert [m.__name__ for m in models if not admin.site.is_registered(m)] == []
    task = services.task_create(user=alice, prompt="Capital?", models=["fake-agree-1"], enqueue=False)
    Subtask.objects.create(task=task, key="answer-0", kind="answer", title="Answer A", model="fake-agree-1")
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123"))
    for model in models:
        url = reverse(f"admin:orchestration_{model._meta.model_name}_changelist")
        assert client.get(url, {"q": "alice"}).status_code == 200, url
    page = client.get(reverse("admin:orchestration_task_change", args=[task.pk]))
    assert page.status_code == 200 and b"answer-0" in page.content
