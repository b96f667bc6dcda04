"""Ownership: bob cannot list, read, search, change or delete alice's knowledge base or its sources;
every one of those is a 404, as if they did not exist."""

from __future__ import annotations

import pytest

from knowledge import retrieval, services
from knowledge.models import Chunk, KnowledgeBase, Source

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alices(alice):
    kb = services.kb_create(user=alice, name="Secret plans")
    source = services.source_add_text(user=alice, kb=kb, title="Plan", text="The treasure is under the oak tree.")
    Chunk.objects.create(source=source, kb=kb, index=0, text="The treasure is under the oak tree.", token_count=8)
    Source.objects.filter(pk=source.pk).update(status="ready", chunk_count=1)
    return kb, source


def test_bob_gets_404_for_everything_of_alices(client, bob, alices):
    kb, source = alices
    client.force_login(bob)
    assert client.get("/knowledge/api/bases").json()["bases"] == []
    for method, url in [
        ("get", f"/knowledge/api/bases/{kb.pk}"),
        ("patch", f"/knowledge/api/bases/{kb.pk}"),
        ("delete", f"/knowledge/api/bases/{kb.pk}"),
        ("get", f"/knowledge/api/bases/{kb.pk}/sources"),
        ("post", f"/knowledge/api/bases/{kb.pk}/sources"),
        ("post", f"/knowledge/api/bases/{kb.pk}/reembed"),
        ("get", f"/knowledge/api/bases/{kb.pk}/search?q=treasure"),
        ("get", f"/knowledge/api/sources/{source.pk}"),
        ("delete", f"/knowledge/api/sources/{source.pk}"),
        ("post", f"/knowledge/api/sources/{source.pk}/rescrape"),
        ("post", f"/knowledge/api/sources/{source.pk}/reingest"),
        ("get", f"/knowledge/{kb.pk}/"),
        ("get", f"/knowledge/{kb.pk}/sources/{source.pk}/"),
    ]:
        response = getattr(client, method)(
            url, {"name": "mine now", "kind": "text", "text": "x", "model": "m"}, content_type="application/json"
        )
        assert response.status_code == 404, (method, url, response.status_code)
    assert KnowledgeBase.objects.get(pk=kb.pk).name == "Secret plans"
    assert Source.objects.filter(pk=source.pk).exists() and Source.objects.count() == 1


def test_bob_searching_with_alices_base_id_finds_nothing(client, bob, alice, alices):
    kb, _source = alices
    client.force_login(bob)
    answer = client.get(f"/knowledge/api/search?q=treasure&kb={kb.pk}").json()
    assert answer["hits"] == []
    assert retrieval.search(user=bob, kb_ids=[kb.pk], query="treasure") == []
    assert retrieval.search(user=alice, kb_ids=[kb.pk], query="treasure")[0]["text"].startswith("The treasure")


def test_the_index_page_lists_only_ones_own_bases(client, bob, alices):
    services.kb_create(user=bob, name="Bob's cookbook")
    client.force_login(bob)
    page = client.get("/knowledge/")
    assert [kb.name for kb in page.context["bases"]] == ["Bob's cookbook"]
