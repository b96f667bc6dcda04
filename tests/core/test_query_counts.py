"""List pages and list APIs run the same number of queries for 2 rows as for 10: no query per row (N+1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import Conversation
from core.models import Job
from knowledge.models import KnowledgeBase, Source
from monitoring.models import AlertEvent, AlertRule
from orchestration.models import Instruction, Template, Workflow, WorkflowRun

pytestmark = [pytest.mark.django_db]


def _bases(user, start: int, n: int) -> None:
    for i in range(start, start + n):
        kb = KnowledgeBase.objects.create(user=user, name=f"Base {i}")
        Source.objects.create(kb=kb, kind="text", title=f"Doc {i}", text="Some text.", chunk_count=3)


def _sources(user, start: int, n: int) -> None:
    kb = KnowledgeBase.objects.get_or_create(user=user, name="Main")[0]
    for i in range(start, start + n):
        Source.objects.create(kb=kb, kind="text", title=f"Doc {i}", text="Some text.", chunk_count=i)


def _browser_jobs(user, start: int, n: int) -> None:
    for i in range(start, start + n):
        Job.objects.create(user=user, kind="browser.scrape", title=f"Scrape {i}", params={"url": "https://a.test"})


def _workflows(user, start: int, n: int) -> None:
    for i in range(start, start + n):
        workflow = Workflow.objects.create(user=user, name=f"Flow {i}", steps=[{"name": "a", "type": "prompt"}])
        WorkflowRun.objects.create(user=user, workflow=workflow, inputs={})


def _templates(user, start: int, n: int) -> None:
    for i in range(start, start + n):
        Template.objects.create(user=user, name=f"T{i}", body="Hi {{ x }}", variables=[{"name": "x", "type": "text"}])


def _instructions(user, start: int, n: int) -> None:
    for i in range(start, start + n):
        Instruction.objects.create(user=user, name=f"I{i}", content="Be brief.")


def _conversations(user, start: int, n: int) -> None:
    kb = KnowledgeBase.objects.get_or_create(user=user, name="Attached")[0]
    for i in range(start, start + n):
        Conversation.objects.create(user=user, title=f"Chat {i}").knowledge_bases.add(kb)


def _alerts(user, start: int, n: int) -> None:
    rule = AlertRule.objects.first() or AlertRule.objects.create(name="CPU", metric="cpu_percent")
    now = timezone.now()
    for i in range(start, start + n):
        AlertEvent.objects.create(
            rule=rule, host=f"h{i}", message="hot", breach_started_at=now, opened_at=now, open_key=f"qc:{i}"
        )


CASES: list[tuple[str, Callable]] = [
    ("/knowledge/", _bases),
    ("/knowledge/api/bases", _bases),
    ("/knowledge/{kb}/", _sources),
    ("/knowledge/api/bases/{kb}/sources", _sources),
    ("/browser/", _browser_jobs),
    ("/browser/api/jobs", _browser_jobs),
    ("/orchestration/workflows/", _workflows),
    ("/orchestration/templates/", _templates),
    ("/orchestration/instructions/", _instructions),
    ("/chat/", _conversations),
    ("/chat/api/conversations", _conversations),
    ("/monitoring/api/alerts?all=1", _alerts),
]


def _count(client, url: str) -> int:
    assert client.get(url).status_code == 200, url  # warms the per-process caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize(("url", "fill"), CASES, ids=[url for url, _ in CASES])
def test_a_list_costs_the_same_queries_for_2_rows_as_for_10(alice_client, alice, url, fill):
    fill(alice, 0, 2)
    kb = KnowledgeBase.objects.filter(user=alice, name="Main").first()
    url = url.format(kb=kb.pk if kb else 0)
    few = _count(alice_client, url)
    fill(alice, 2, 8)
    assert _count(alice_client, url) == few, f"{url}: a query per row"
