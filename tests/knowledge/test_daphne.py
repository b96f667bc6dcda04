"""The API served by a real daphne process (ASGI): an upload over HTTP with the size cap, ingestion by the
worker, and a search whose query is embedded inside a sync view (the asgiref thread that must not deadlock)."""

from __future__ import annotations

import httpx
import pytest

from core.services import api_token_create
from tests.fixtures.jobs import wait_job

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_upload_ingest_and_search_through_daphne(alice, kb, llama2, settings, daphne_url, celery_worker):
    token = api_token_create(user=alice, name="tests").secret
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{daphne_url}/knowledge/api/bases/{kb.pk}"
    with httpx.Client(headers=headers, timeout=60) as http:
        too_big = http.post(f"{url}/sources", files={"file": ("huge.txt", b"a" * (21 * 1024 * 1024))})
        assert too_big.status_code == 400 and too_big.json() == {
            "error": "huge.txt is larger than 20 MB",
            "code": "bad_request",
            "field": "file",
        }
        sent = http.post(f"{url}/sources", files={"file": ("../lynx.md", b"# Lynx\n\nThe lynx hunts snowshoe hares.")})
        assert sent.status_code == 201, sent.text
        source = sent.json()["sources"][0]
        assert source["original_name"] == "lynx.md"
        assert wait_job(sent.json()["jobs"][0]).status == "succeeded"
        found = http.get(f"{url}/search", params={"q": "what does the lynx hunt", "k": 3})
        assert found.status_code == 200, found.text
        hit = found.json()["hits"][0]
        assert hit["source_id"] == source["id"] and hit["vector_score"] is not None and "warnings" not in found.json()
