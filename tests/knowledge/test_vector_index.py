"""The approximate vector index (faiss HNSW) for bases past KNOWLEDGE_VECTOR_INDEX_MIN_CHUNKS: built only
past the threshold, it finds what comparing the query with every chunk finds, and keyword-only candidates
still get their exact cosine. The threshold is lowered here so that a base of a few hundred chunks (embedded
by the local model, quick on CPU) crosses it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core import jobs
from knowledge import embedding, retrieval, services
from knowledge.models import KnowledgeBase
from tests.fixtures.jobs import wait_job

pytestmark = [pytest.mark.django_db(transaction=True)]

ANIMALS = [
    "otter",
    "heron",
    "badger",
    "lynx",
    "walrus",
    "gecko",
    "puffin",
    "bison",
    "koala",
    "marmot",
    "ibex",
    "tapir",
    "manatee",
    "osprey",
    "wombat",
    "jackal",
    "newt",
    "beaver",
    "yak",
    "toucan",
]
PLACES = [
    "Norway",
    "Peru",
    "Kenya",
    "Japan",
    "Chile",
    "Iceland",
    "Mongolia",
    "Canada",
    "Borneo",
    "Morocco",
    "Alaska",
    "Patagonia",
    "Siberia",
    "Tasmania",
    "Greenland",
    "Nepal",
    "Ghana",
    "Scotland",
    "Vietnam",
    "Bolivia",
]
FOODS = ["crabs", "berries", "beetles", "grass", "clams", "moss", "fish", "roots", "seeds", "lichen", "frogs"]


def section(animal: str, place: str) -> str:
    food = FOODS[(ANIMALS.index(animal) * 7 + PLACES.index(place) * 3) % len(FOODS)]
    return f"# The {animal} of {place}\n\nThe {animal} that lives in {place} feeds mostly on {food}."


@pytest.fixture
def big_kb(alice, settings) -> KnowledgeBase:
    """400 one-section chunks, one per (animal, place), in one source."""
    kb = services.kb_create(user=alice, name="Field notes")
    KnowledgeBase.objects.filter(pk=kb.pk).update(embedding_model=embedding.LOCAL_MODEL_ID)
    text = "\n\n".join(section(a, p) for a, p in itertools.product(ANIMALS, PLACES))
    source = services.source_add_text(user=alice, kb=kb, title="Field notes", text=text)
    job = jobs.job_run(source.job_id) or wait_job(source.job_id, timeout=180)
    assert job.status == "succeeded", job.error
    assert kb.chunks.count() == len(ANIMALS) * len(PLACES)
    kb.refresh_from_db()
    return kb


QUESTIONS = [
    ("otter", "Peru"),
    ("walrus", "Greenland"),
    ("gecko", "Borneo"),
    ("yak", "Nepal"),
    ("puffin", "Iceland"),
    ("koala", "Tasmania"),
    ("bison", "Canada"),
    ("toucan", "Bolivia"),
]


def ranked(user, kb: KnowledgeBase, settings, threshold: int) -> dict[str, list[tuple[int, float | None]]]:
    settings.KNOWLEDGE_VECTOR_INDEX_MIN_CHUNKS = threshold
    retrieval.cache_clear()
    answers = {}
    for animal, place in QUESTIONS:
        hits = retrieval.search(user=user, kb_ids=[kb.pk], query=f"What does the {animal} in {place} eat?", k=10)
        answers[f"{animal}/{place}"] = [(h["chunk_id"], h["vector_score"]) for h in hits]
        assert hits[0]["heading"] == f"The {animal} of {place}", [h["heading"] for h in hits]
    return answers


def test_past_the_threshold_the_index_finds_what_brute_force_finds(alice, big_kb, settings):
    for threshold, built in [(0, False), (400, False), (399, True)]:
        settings.KNOWLEDGE_VECTOR_INDEX_MIN_CHUNKS = threshold
        retrieval.cache_clear()
        index = retrieval._index_for(big_kb)
        assert (index.ann is not None) is built, threshold
        if built:
            assert index.ann.ntotal == 400 and len(index.ann_rows) == 400
    exact = ranked(alice, big_kb, settings, threshold=0)
    assert retrieval._index_for(big_kb).ann is None
    approximate = ranked(alice, big_kb, settings, threshold=100)
    assert retrieval._index_for(big_kb).ann is not None
    for question, hits in exact.items():
        assert [cid for cid, _ in approximate[question]] == [cid for cid, _ in hits], question
        for (_, exact_score), (_, ann_score) in zip(hits, approximate[question], strict=True):
            assert ann_score is not None and abs(ann_score - exact_score) < 1e-3


def test_the_index_recalls_the_nearest_chunks_and_scores_keyword_candidates_exactly(big_kb, settings):
    settings.KNOWLEDGE_VECTOR_INDEX_MIN_CHUNKS = 100
    retrieval.cache_clear()
    index = retrieval._index_for(big_kb)
    queries = embedding.local_encode([f"{a} near {p}" for a, p in QUESTIONS] + ["animals that eat fish", "cold"])
    recalls = []
    for qv in queries:
        approximate = set(retrieval._vector_scores(index, qv, []))
        exact_rows = np.argsort(-(index.matrix @ qv))[: retrieval.CANDIDATES]
        recalls.append(len(approximate & set(index.ids[exact_rows].tolist())) / retrieval.CANDIDATES)
    assert min(recalls) >= 0.95, recalls
    # A keyword candidate far outside the vector top still gets its exact cosine (hits show it).
    qv = embedding.local_encode(["penguins on ice floes"])[0]
    far_rows = [int(r) for r in np.argsort(-(index.matrix @ qv))[-3:]]
    scores = retrieval._vector_scores(index, qv, far_rows)
    assert len(scores) == retrieval.CANDIDATES + 3
    for row in far_rows:
        assert abs(scores[int(index.ids[row])] - float(index.matrix[row] @ qv)) < 1e-5
