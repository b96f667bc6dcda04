"""The local embedding model (all-MiniLM-L6-v2 on CPU torch, shipped in a wheel): it loads from site-packages
with no network at all, gives normalised 384-d float32 vectors that know meaning (not just words), is loaded
once per process and keeps the event loop free; a base records it like any gateway model, ingests and
searches with it, and re-embeds between it and llama.cpp; it is chosen only when no backend lists an
embedding model (and, in these tests, only when asked for: the other tests keep embedding via llama.cpp)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import async_to_sync

from core import jobs, redis_clients
from knowledge import embedding, retrieval, services
from knowledge.models import Chunk, KnowledgeBase
from llm import catalogue
from llm.discovery import ModelInfo
from tests.fixtures.jobs import wait_job
from tests.fixtures.knowledge import CORPUS, EMBED_MODEL

pytestmark = [pytest.mark.django_db(transaction=True)]

LOCAL = embedding.LOCAL_MODEL_ID
ROOT = Path(__file__).resolve().parents[2]

CATS = (
    "Cats are small domesticated carnivores that have lived beside people for thousands of years. A cat sleeps "
    "for most of the day, grooms its fur with a rough tongue, purrs when content, and hunts mice and birds with "
    "sharp retractable claws. Kittens are born blind and open their eyes after a week. "
) * 3
VOLCANOES = (
    "Volcanoes form where molten rock called magma rises through the crust. An eruption throws out lava, ash and "
    "gases; lava flows can bury towns and ash clouds ground aircraft. Geologists watch seismic tremors and ground "
    "swelling to forecast eruptions of a volcano. "
) * 3


def ingest(source) -> None:
    job = jobs.job_run(source.job_id) or wait_job(source.job_id)
    assert job.status == "succeeded", (job.error, job.log)


@pytest.fixture
def local_kb(alice) -> KnowledgeBase:
    """A base set to the local model, as embedding_model_choose() picks it (tested on its own below): set on
    the row, so that whichever process runs the ingestion (this one or the pass's Celery worker) uses it."""
    kb = services.kb_create(user=alice, name="Local notes")
    KnowledgeBase.objects.filter(pk=kb.pk).update(embedding_model=LOCAL)
    kb.refresh_from_db()
    return kb


def catalogue_store(models: list[ModelInfo]) -> None:
    """The catalogue as discovery stores it, for backends whose listing a llama.cpp server cannot give."""
    entry = {
        "refreshed_at": time.time(),
        "backends": {"lms": {"ok": True, "error": "", "models": [m.to_dict() for m in models]}},
    }

    async def store() -> None:
        await redis_clients.client().set(catalogue.CACHE_KEY, json.dumps(entry), ex=60)

    async_to_sync(store)()
    catalogue.catalogue_forget_local()


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_the_local_model_gives_normalised_float32_vectors_that_know_meaning():
    assert embedding.local_available()
    vectors = embedding.local_encode(
        ["A kitten is sleeping on the sofa.", "A young cat naps on the couch.", "Interest rates rose again.", ""]
    )
    assert vectors.shape == (4, embedding.LOCAL_WIDTH) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Paraphrases with no word in common are close; an unrelated sentence is not.
    assert cos(vectors[0], vectors[1]) > 0.6 > 0.2 > cos(vectors[0], vectors[2])
    assert embedding.local_encode([]).shape == (0, embedding.LOCAL_WIDTH)


def test_a_chunk_longer_than_the_model_takes_is_embedded_whole():
    """The model reads 256 word pieces; a 300-token chunk is ~340. Its end must count, not be cut off."""
    whole, cats, volcanoes = embedding.local_encode([CATS + VOLCANOES, CATS, VOLCANOES])
    assert cos(whole, cats) > 0.55 and cos(whole, volcanoes) > 0.55
    truncated = embedding._local_model().encode([CATS + VOLCANOES], normalize_embeddings=True)[0]
    assert cos(whole, volcanoes) > cos(truncated, volcanoes) + 0.15


def no_network_prefix() -> list[str]:
    """`unshare -n`: a network namespace with no interface up, where it may be made (root, as in CI)."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


def test_the_local_model_loads_with_no_network_and_no_hub_cache(subprocess_env, tmp_path):
    """In a fresh process with no network at all (a namespace of its own), an empty Hugging Face cache and no
    offline variables set beforehand: loading and embedding work and make no network call of any kind
    (Python's audit hooks see every connect and name lookup)."""
    script = """
import json, os, sys
import django
django.setup()
from knowledge import embedding
from core import redis_clients
events = []
def hook(event, args):
    if event.startswith(("socket.", "urllib.", "http.")) and event != "socket.__new__":
        events.append(f"{event} {args!r}"[:200])
sys.addaudithook(hook)
vector = embedding.local_encode(["offline, from site-packages"])[0]
print(json.dumps({"events": events, "width": len(vector), "load_s": embedding.load_seconds,
                  "offline": [os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE")]}))
"""
    env = {k: v for k, v in subprocess_env.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_HOME=str(tmp_path / "hf-home"), DJANGO_SETTINGS_MODULE="orchestrator_site.settings")
    done = subprocess.run(
        [*no_network_prefix(), sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["events"] == [] and report["width"] == embedding.LOCAL_WIDTH
    assert report["offline"] == ["1", "1"] and report["load_s"] < 60
    assert not (tmp_path / "hf-home").exists() or not any((tmp_path / "hf-home").rglob("*.safetensors"))


def test_the_model_is_loaded_once_for_threads_that_ask_at_the_same_time(monkeypatch):
    loads: list[float] = []
    real_load = embedding._local_load

    def counted_load():
        loads.append(time.monotonic())
        return real_load()

    monkeypatch.setattr(embedding, "_model", None)
    monkeypatch.setattr(embedding, "_local_load", counted_load)
    texts = [[f"thread {i} sentence {j} about herons and rivers" for j in range(5)] for i in range(4)]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = embedding.local_encode(texts[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(loads) == 1 and sorted(results) == [0, 1, 2, 3]
    for i in range(4):  # concurrent callers get what a caller alone gets
        assert np.allclose(results[i], embedding.local_encode(texts[i]), atol=1e-5)


async def test_async_callers_embed_off_the_event_loop():
    await embedding.aembed_local(["warm up"])  # the load is not what this test measures
    texts = [f"Sentence {i} on the habits of otters, beavers and kingfishers along the river." for i in range(300)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    vectors = await embedding.aembed_local(texts)
    elapsed = time.monotonic() - started
    task.cancel()
    assert vectors.shape == (300, embedding.LOCAL_WIDTH)
    # The loop kept running all along (a blocked loop would tick a handful of times at most).
    assert ticks >= max(5, 0.3 * elapsed / 0.01), (ticks, elapsed)
    query = await embedding.aembed_query("LOCAL", "otters")
    assert np.allclose(query, embedding.local_encode(["otters"])[0], atol=1e-5)


def test_the_choice_prefers_a_listed_embedding_model_then_local_then_the_chat_model(settings, llama2, monkeypatch):
    choose = async_to_sync(embedding.embedding_model_choose)
    settings.KNOWLEDGE_LOCAL_EMBEDDINGS = True
    assert choose() == LOCAL  # llama.cpp lists only a chat model
    settings.KNOWLEDGE_LOCAL_EMBEDDINGS = False
    assert choose() == EMBED_MODEL  # the chat-model fallback, as before the local model existed
    settings.KNOWLEDGE_LOCAL_EMBEDDINGS = True
    catalogue_store(
        [
            ModelInfo(id="text-embedding-nomic", backend="lms", loaded=True, kind="embedding"),
            ModelInfo(id="some-chat-model", backend="lms", loaded=True, kind="llm"),
        ]
    )
    assert choose() == "text-embedding-nomic"
    for configured, chosen in [("local", LOCAL), (" Local:All-MiniLM-L6-v2 ", LOCAL), ("my-embedder", "my-embedder")]:
        settings.KNOWLEDGE_EMBEDDING_MODEL = configured
        assert choose() == chosen
    # Without the package: `local` says what to install; an empty setting falls through to the chat model.
    monkeypatch.setattr(embedding, "_installed", False)
    settings.KNOWLEDGE_EMBEDDING_MODEL = "local"
    with pytest.raises(embedding.EmbeddingError, match=r"local embedding model is not installed.*torch==2\.13\.0"):
        choose()
    settings.KNOWLEDGE_EMBEDDING_MODEL = ""
    catalogue.catalogue_forget_local()
    async_to_sync(catalogue.catalogue_invalidate)()
    assert choose() == EMBED_MODEL


def test_a_base_ingests_and_searches_with_the_local_model(alice, alice_client, local_kb):
    for title, text in CORPUS.items():
        ingest(services.source_add_text(user=alice, kb=local_kb, title=title, text=text))
    chunks = list(Chunk.objects.filter(kb=local_kb))
    assert len(chunks) == len(CORPUS)
    assert {c.embedding_model for c in chunks} == {LOCAL}
    assert all(len(bytes(c.embedding)) == embedding.LOCAL_WIDTH * 4 for c in chunks)
    # Questions that share no word with their document: only the vectors can find it.
    for question, expected in {
        "Which mountains spit molten rock?": "Volcanoes",
        "How is a loaf made?": "Bread",
        "Why does the sea go up and down along the coast?": "Tides",
        "How do trees feed on sunshine?": "Photosynthesis",
    }.items():
        answer = alice_client.get(f"/knowledge/api/bases/{local_kb.pk}/search", {"q": question}).json()
        assert "warnings" not in answer, answer
        top = answer["hits"][0]
        assert top["source_title"] == expected, (question, [h["source_title"] for h in answer["hits"]])
        assert top["vector_score"] > 0.3 and all(h["keyword_score"] == 0 for h in answer["hits"])
    listed = alice_client.get("/knowledge/api/bases").json()["bases"][0]
    assert listed["embedding_model"] == LOCAL


def test_reembedding_moves_a_base_between_llama_cpp_and_the_local_model(alice, alice_client, kb, llama2):
    KnowledgeBase.objects.filter(pk=kb.pk).update(embedding_model=EMBED_MODEL)
    ingest(services.source_add_text(user=alice, kb=kb, title="Tides", text=CORPUS["Tides"]))
    ingest(services.source_add_text(user=alice, kb=kb, title="Git", text=CORPUS["Git"]))
    assert {len(bytes(c.embedding)) for c in Chunk.objects.filter(kb=kb)} == {640 * 4}

    def reembed(model: str) -> dict:
        response = alice_client.post(
            f"/knowledge/api/bases/{kb.pk}/reembed", {"model": model}, content_type="application/json"
        )
        assert response.status_code == 201, response.json()
        job = jobs.job_run(response.json()["job_id"]) or wait_job(response.json()["job_id"])
        assert job.status == "succeeded", job.error
        return job.result

    result = reembed("local")
    assert result["model"] == LOCAL and result["previous_model"] == EMBED_MODEL and result["chunks"] == 2
    kb.refresh_from_db()
    assert kb.embedding_model == LOCAL
    assert {(c.embedding_model, len(bytes(c.embedding))) for c in Chunk.objects.filter(kb=kb)} == {(LOCAL, 384 * 4)}
    hits = retrieval.search(user=alice, kb_ids=[kb.pk], query="Why does the sea go up and down along the coast?")
    assert hits[0]["source_title"] == "Tides" and hits[0]["vector_score"] is not None

    result = reembed(EMBED_MODEL)
    assert result["previous_model"] == LOCAL
    assert {(c.embedding_model, len(bytes(c.embedding))) for c in Chunk.objects.filter(kb=kb)} == {
        (EMBED_MODEL, 640 * 4)
    }


def test_reembedding_with_the_local_model_when_it_is_missing_says_what_to_install(alice_client, kb, monkeypatch):
    monkeypatch.setattr(embedding, "_installed", False)
    response = alice_client.post(
        f"/knowledge/api/bases/{kb.pk}/reembed", {"model": "local"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "the local embedding model is not installed" in response.json()["error"]
