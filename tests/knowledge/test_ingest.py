"""Ingestion end to end: files of every type go through a real Celery worker and the real llama.cpp
embedding server; progress is reported per step; a failure leaves the source failed with the reason;
re-embedding switches the base's model; web pages are scraped by the browser service and re-scraped."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core import jobs
from knowledge import embedding, services
from knowledge.models import Chunk, KnowledgeBase, Source
from tests.fixtures.jobs import wait_job
from tests.fixtures.knowledge import EMBED_MODEL, docx_bytes, pdf_bytes
from tests.fixtures.llm import make_backend
from tests.fixtures.web import Reply, html

pytestmark = [pytest.mark.django_db(transaction=True)]

WIDTH = 640  # the test model's embedding width


def test_embeddings_through_llama_cpp_are_normalised_float32(llama2):
    blobs = embedding.embed_texts(EMBED_MODEL, ["the heron waits", "volcanoes erupt", "x"], batch_size=2)
    vectors = [embedding.from_bytes(b) for b in blobs]
    assert [len(v) for v in vectors] == [WIDTH] * 3
    assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-4 for v in vectors)
    assert not np.allclose(vectors[0], vectors[1])


def test_without_an_embedding_backend_the_error_says_what_to_do(db):
    with pytest.raises(embedding.EmbeddingError, match="no enabled backend serves the embedding model 'nope'"):
        embedding.embed_texts("nope", ["text"])


def test_a_chat_only_backend_is_a_clear_error_and_its_circuit_stays_closed(db, fake):
    # LM Studio with only a chat model loaded answers 404 to /v1/embeddings.
    from asgiref.sync import async_to_sync

    from llm import breaker

    make_backend("lms", fake.url, "openai")
    for _ in range(4):
        with pytest.raises(embedding.EmbeddingError, match=r"'fake-ok' does not serve embeddings.*Re-embed"):
            embedding.embed_texts("fake-ok", ["text"])
    assert async_to_sync(breaker.states)(["lms"])["lms"].circuit == "closed"


def test_every_file_type_is_ingested_by_the_worker(alice_client, kb, llama2, celery_worker):
    files = [
        ("notes.txt", b"Otters hold hands while they sleep so that they do not drift apart."),
        ("guide.md", b"# Kayaking\n\n## Paddles\n\nA feathered paddle has blades set at an angle."),
        ("page.html", html("<h1>Lighthouses</h1><p>The Fresnel lens focuses the lamp into a beam.</p>").encode()),
        ("tides.pdf", pdf_bytes(["Spring tides happen at new and full moon."], title="Tides")),
        ("bees.docx", docx_bytes([("h1", "Bees"), ("p", "A hive has one queen and many workers.")])),
    ]
    response = alice_client.post(
        f"/knowledge/api/bases/{kb.pk}/sources", {"file": [SimpleUploadedFile(n, d) for n, d in files]}
    )
    assert response.status_code == 201, response.json()
    for job_id in response.json()["jobs"]:
        job = wait_job(job_id)
        assert job.status == "succeeded", (job.error, job.log)
        assert [s["id"] for s in job.subtasks] == ["extract", "chunk", "embed", "save"]
        assert all(s["status"] == "succeeded" for s in job.subtasks)
        assert job.progress == 1.0 and "embedded 1/1 chunks" in job.log
    sources = {s.original_name: s for s in Source.objects.all()}
    assert {s.status for s in sources.values()} == {"ready"}
    headings = {name: list(s.chunks.values_list("heading", flat=True)) for name, s in sources.items()}
    assert headings == {
        "notes.txt": [""],
        "guide.md": ["Kayaking > Paddles"],
        "page.html": ["Lighthouses"],
        "tides.pdf": [""],
        "bees.docx": ["Bees"],
    }
    assert "Fresnel lens" in sources["page.html"].text and "new and full moon" in sources["tides.pdf"].text
    assert "# Bees" in sources["bees.docx"].text
    kb.refresh_from_db()
    assert kb.embedding_model == EMBED_MODEL
    for chunk in Chunk.objects.all():
        assert chunk.embedding_model == EMBED_MODEL and len(bytes(chunk.embedding)) == WIDTH * 4
    detail = alice_client.get(f"/knowledge/api/sources/{sources['guide.md'].pk}").json()
    assert detail["source"]["status"] == "ready" and detail["source"]["chunk_count"] == 1
    assert detail["chunks"] == [
        {
            "index": 0,
            "heading": "Kayaking > Paddles",
            "token_count": 10,
            "text": "A feathered paddle has blades set at an angle.",
        }
    ]
    listed = alice_client.get("/knowledge/api/bases").json()["bases"][0]
    assert listed["source_count"] == 5 and listed["chunk_count"] == 5 and listed["embedding_model"] == EMBED_MODEL


def test_a_failed_ingestion_marks_the_source_failed_with_the_reason(alice, kb):
    # No backend at all: nothing to embed with.
    source = services.source_add_text(user=alice, kb=kb, title="Lonely", text="Nobody embeds me.")
    job = jobs.job_run(source.job_id) or wait_job(source.job_id)
    job.refresh_from_db()
    source.refresh_from_db()
    assert job.status == "failed" and source.status == "failed"
    assert "embed" in source.error and source.error in job.error
    assert [s["status"] for s in job.subtasks] == ["succeeded", "succeeded", "failed", "skipped"]
    assert not Chunk.objects.exists()


def test_reembed_switches_every_chunk_and_the_base_to_the_new_model(alice_client, alice, kb, llama2):
    source = services.source_add_text(user=alice, kb=kb, title="Moths", text="Moths navigate by the moon.\n\n" * 3)
    assert (jobs.job_run(source.job_id) or wait_job(source.job_id)).status == "succeeded"
    Chunk.objects.update(embedding_model="old-model", embedding=b"\x00" * 16)
    KnowledgeBase.objects.filter(pk=kb.pk).update(embedding_model="old-model")
    refused = alice_client.post(
        f"/knowledge/api/bases/{kb.pk}/reembed", {"model": "no-such-model"}, content_type="application/json"
    )
    assert refused.status_code == 400 and "no enabled backend lists 'no-such-model'" in refused.json()["error"]
    response = alice_client.post(
        f"/knowledge/api/bases/{kb.pk}/reembed", {"model": EMBED_MODEL}, content_type="application/json"
    )
    assert response.status_code == 201
    job = jobs.job_run(response.json()["job_id"]) or wait_job(response.json()["job_id"])
    assert job.status == "succeeded", job.error
    assert job.result["chunks"] == Chunk.objects.count() and job.result["previous_model"] == "old-model"
    kb.refresh_from_db()
    assert kb.embedding_model == EMBED_MODEL
    assert set(Chunk.objects.values_list("embedding_model", flat=True)) == {EMBED_MODEL}
    assert all(len(bytes(c.embedding)) == WIDTH * 4 for c in Chunk.objects.all())


@pytest.mark.browser
def test_a_web_page_is_scraped_indexed_and_rescraped(alice_client, kb, site, llama2, celery_worker):
    content = {"body": "<h1>Comets</h1><p>A comet's tail always points away from the sun.</p>"}
    site.routes["/comets"] = lambda h: Reply(body=html(content["body"], head="<title>All about comets</title>"))
    response = alice_client.post(
        f"/knowledge/api/bases/{kb.pk}/sources",
        {"kind": "url", "url": site.url("/comets")},
        content_type="application/json",
    )
    assert response.status_code == 201
    job = wait_job(response.json()["job_id"])
    assert job.status == "succeeded", (job.error, job.log)
    assert job.kind == "knowledge.ingest_url" and job.subtasks[0]["id"] == "scrape"
    source = Source.objects.get()
    assert source.status == "ready" and source.title == "All about comets" and "away from the sun" in source.text
    hits = alice_client.get(f"/knowledge/api/bases/{kb.pk}/search?q=comet+tail").json()["hits"]
    assert hits[0]["citation"]["url"] == site.url("/comets") and hits[0]["source_title"] == "All about comets"

    content["body"] = "<h1>Comets</h1><p>Halley's comet returns every 76 years.</p>"
    again = alice_client.post(f"/knowledge/api/sources/{source.pk}/rescrape")
    assert again.status_code == 201
    job = wait_job(again.json()["job_id"])
    assert job.status == "succeeded", (job.error, job.log)
    source.refresh_from_db()
    assert "76 years" in source.text and source.job_id == job.pk
    assert [c.text for c in source.chunks.all()] == [source.text]
    assert site.paths().count("/comets") >= 2
