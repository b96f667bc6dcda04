"""Hybrid search over a user's knowledge bases: vector similarity and BM25 keywords, fused by rank.

Both rankings are computed in Python (numpy over the base's chunk matrix, rank_bm25 over its
tokenised chunks), so SQLite and MySQL behave the same. Each process keeps a base's matrix and BM25
index in memory, keyed by what changes when its chunks do (count, highest id, model, updated_at).
Past KNOWLEDGE_VECTOR_INDEX_MIN_CHUNKS embedded chunks, comparing the query with every chunk (and ranking
them all in Python) costs tens of milliseconds per query and grows with the base, so such a base also gets
an approximate nearest-neighbour index (faiss HNSW, inner product on the normalised vectors), built with
the matrix; the vector ranking then takes its top candidates, plus the exact cosine of the keyword ones.
Measured on 2 busy cores with 20,000 real all-MiniLM-L6-v2 vectors: built in 2.2 s, 0.2 ms a query, 99.4 %
of the exact top 100 found (100 % of the top 10); brute force is 1.5 ms for the product alone, and ranking
every chunk in Python adds ~40 ms at 50,000 chunks and ~180 ms at 200,000.

Fusion is reciprocal rank fusion (Cormack et al., k=60): a chunk scores Σ 1/(60 + rank) over the
rankings it appears in, scaled so that first place in both is 1.0. Ranks, unlike raw scores, need no
calibration between cosine similarity and BM25, and a weak embedding model cannot drown the keywords.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from knowledge import embedding
from knowledge.models import Chunk, KnowledgeBase

log = logging.getLogger(__name__)

RRF_K = 60
CANDIDATES = 100  # how deep each ranking goes into the fusion
K_MAX = 50
CACHE_SIZE = 32
# Words too common to say anything about a question; left out of the keyword query only.
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be but by can do does for from has have how i in is it its of on or that the their "
        "there these this to was were what when where which who whom why will with you your",
    )
)


class Citation(TypedDict):
    label: str
    source_title: str
    url: str
    chunk_index: int


class Hit(TypedDict):
    chunk_id: int
    source_id: int
    source_title: str
    kb_id: int
    kb_name: str
    index: int
    heading: str
    text: str
    score: float
    vector_score: float | None
    keyword_score: float
    citation: Citation


@dataclass
class SearchResult:
    hits: list[Hit]
    warnings: list[str]


def _stem(word: str) -> str:
    """A light plural/verb-suffix strip, so "alpacas" finds "alpaca" (no language data to download)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def keyword_tokens(text: str, *, query: bool = False) -> list[str]:
    words = [w.lower() for w in re.findall(r"\w+", text)]
    if query:
        kept = [w for w in words if w not in STOPWORDS]
        words = kept or words
    return [_stem(w) for w in words]


@dataclass
class _Index:
    ids: np.ndarray
    matrix: np.ndarray | None  # rows L2-normalised; zero rows for chunks without a usable vector
    bm25: object | None
    model: str
    ann: object | None = None  # faiss HNSW index over the non-zero rows of `matrix`, for big bases
    ann_rows: np.ndarray | None = None  # the matrix row of each vector in `ann`


_cache: OrderedDict[tuple, _Index] = OrderedDict()
_lock = threading.Lock()


def _index_for(kb: KnowledgeBase) -> _Index:
    stats = Chunk.objects.filter(kb=kb).aggregate(n=Count("id"), top=Max("id"))
    key = (kb.pk, stats["n"], stats["top"], kb.embedding_model, kb.updated_at)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    index = _build(kb)
    with _lock:
        for old in [k for k in _cache if k[0] == kb.pk]:
            del _cache[old]
        _cache[key] = index
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return index


def _bm25(corpus: list[list[str]]):
    from rank_bm25 import BM25Okapi

    class PositiveIdfBM25(BM25Okapi):
        """BM25Okapi with Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)), which is never negative: the
        classic idf goes below zero for a word in more than half the chunks, and in a small base (one
        source, a few chunks) that made every match score below nothing."""

        def _calc_idf(self, nd: dict) -> None:
            for word, freq in nd.items():
                self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))

    return PositiveIdfBM25(corpus)


def _build(kb: KnowledgeBase) -> _Index:
    rows = list(
        Chunk.objects.filter(kb=kb).order_by("id").values_list("id", "text", "heading", "embedding", "embedding_model")
    )
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    if not rows:
        return _Index(ids=ids, matrix=None, bm25=None, model=kb.embedding_model)
    corpus = [keyword_tokens(f"{heading}\n{text}") or ["∅"] for _id, text, heading, _e, _m in rows]
    bm25 = _bm25(corpus)
    vectors = [embedding.from_bytes(e) if e and m == kb.embedding_model else None for *_x, e, m in rows]
    widths = [len(v) for v in vectors if v is not None]
    matrix = None
    if widths:
        width = max(set(widths), key=widths.count)
        matrix = np.zeros((len(rows), width), dtype=np.float32)
        for i, vector in enumerate(vectors):
            if vector is not None and len(vector) == width:
                matrix[i] = vector
    index = _Index(ids=ids, matrix=matrix, bm25=bm25, model=kb.embedding_model)
    if matrix is not None:
        index.ann, index.ann_rows = _ann_build(matrix)
    return index


ANN_M = 32  # HNSW links per node: faiss's usual choice for a few hundred dimensions
ANN_EF_CONSTRUCTION = 80
ANN_EF_SEARCH = 2 * CANDIDATES  # must exceed the candidates asked for; more is better recall, slower


def _ann_build(matrix: np.ndarray) -> tuple[object | None, np.ndarray | None]:
    """An HNSW index of the matrix's non-zero rows when there are more than the threshold, else (None, None)."""
    threshold = settings.KNOWLEDGE_VECTOR_INDEX_MIN_CHUNKS
    rows = np.flatnonzero(matrix.any(axis=1))
    if threshold <= 0 or len(rows) <= threshold:
        return None, None
    import faiss

    started = time.perf_counter()
    ann = faiss.IndexHNSWFlat(matrix.shape[1], ANN_M, faiss.METRIC_INNER_PRODUCT)
    ann.hnsw.efConstruction = ANN_EF_CONSTRUCTION
    ann.add(np.ascontiguousarray(matrix[rows]))
    ann.hnsw.efSearch = ANN_EF_SEARCH
    log.info("vector index of %d chunks built in %.1f s", len(rows), time.perf_counter() - started)
    return ann, rows


def _vector_scores(index: _Index, qv: np.ndarray, keyword_rows: list[int]) -> dict[int, float]:
    """{chunk id: cosine} for the vector ranking: every chunk (brute force) for a base without an
    approximate index; else its top CANDIDATES plus the exact cosines of this base's keyword candidates."""
    if index.ann is None:
        sims = index.matrix @ qv
        # every chunk's cosine (hits show it); fuse() takes the top CANDIDATES of them
        return dict(zip(index.ids.tolist(), sims.tolist(), strict=True))
    found_sims, labels = index.ann.search(np.ascontiguousarray(qv[None, :], dtype=np.float32), CANDIDATES)
    found = labels[0] >= 0
    rows = index.ann_rows[labels[0][found]]
    scores = dict(zip(index.ids[rows].tolist(), found_sims[0][found].tolist(), strict=True))
    if keyword_rows:
        extra = np.asarray(keyword_rows, dtype=np.int64)
        scores.update(zip(index.ids[extra].tolist(), (index.matrix[extra] @ qv).tolist(), strict=True))
    return scores


def cache_clear() -> None:
    with _lock:
        _cache.clear()


def search(*, user, kb_ids: list[int], query: str, k: int = 5) -> list[Hit]:
    """The k best chunks of the user's own knowledge bases for `query` (others' ids are left out)."""
    return search_detailed(user=user, kb_ids=kb_ids, query=query, k=k).hits


async def asearch(*, user, kb_ids: list[int], query: str, k: int = 5) -> list[Hit]:
    """search() for async callers (consumers, the chat and the hallucination detector)."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(search)(user=user, kb_ids=kb_ids, query=query, k=k)


def search_detailed(*, user, kb_ids: list[int], query: str, k: int = 5) -> SearchResult:
    """search(), plus warnings (e.g. the vector half was skipped because no backend could embed the query)."""
    from knowledge.selectors import kb_list_owned

    k = max(1, min(int(k), K_MAX))
    query = (query or "").strip()
    warnings: list[str] = []
    if not query:
        return SearchResult([], warnings)
    kbs = list(kb_list_owned(user=user, ids=kb_ids))
    vector_scores: dict[int, float] = {}
    keyword_scores: dict[int, float] = {}
    query_vectors: dict[str, np.ndarray | None] = {}
    q_tokens = keyword_tokens(query, query=True)
    for kb in kbs:
        index = _index_for(kb)
        if not len(index.ids):
            continue
        keyword_rows: list[int] = []
        if index.bm25 is not None:
            scores = index.bm25.get_scores(q_tokens)
            for i in np.argsort(-scores)[:CANDIDATES]:
                if scores[i] > 0:
                    keyword_scores[int(index.ids[i])] = float(scores[i])
                    keyword_rows.append(int(i))
        if index.matrix is not None and index.model:
            if index.model not in query_vectors:
                try:
                    query_vectors[index.model] = embedding.embed_query(index.model, query)
                except embedding.EmbeddingError as exc:
                    query_vectors[index.model] = None
                    warnings.append(f"keyword search only for {kb.name!r}: {exc}")
            qv = query_vectors[index.model]
            if qv is not None and len(qv) == index.matrix.shape[1]:
                vector_scores.update(_vector_scores(index, qv, keyword_rows))
            elif qv is not None:
                warnings.append(f"keyword search only for {kb.name!r}: the query vector does not match its chunks")
    fused = fuse(vector_scores, keyword_scores)
    top = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
    return SearchResult(_hits(top, fused, vector_scores, keyword_scores), warnings)


def fuse(vector_scores: dict[int, float], keyword_scores: dict[int, float]) -> dict[int, float]:
    """Reciprocal rank fusion of two {chunk id: score} rankings, scaled to 0..1 (1 = first in both)."""
    fused: dict[int, float] = {}
    for scores in (vector_scores, keyword_scores):
        ranked = sorted(scores, key=lambda cid: (-scores[cid], cid))[:CANDIDATES]
        for rank, cid in enumerate(ranked, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    best = 2.0 / (RRF_K + 1)
    return {cid: score / best for cid, score in fused.items()}


def _hits(top: list[int], fused: dict, vector_scores: dict, keyword_scores: dict) -> list[Hit]:
    chunks = Chunk.objects.select_related("source", "kb").in_bulk(top)
    hits: list[Hit] = []
    for cid in top:
        chunk = chunks.get(cid)
        if chunk is None:  # deleted since the index was built
            continue
        source = chunk.source
        url = (
            source.url
            if source.kind == source.Kind.URL and source.url
            else (f"/knowledge/{chunk.kb_id}/sources/{source.pk}/#chunk-{chunk.index}")
        )
        title = source.display_title
        hits.append(
            Hit(
                chunk_id=chunk.pk,
                source_id=source.pk,
                source_title=title,
                kb_id=chunk.kb_id,
                kb_name=chunk.kb.name,
                index=chunk.index,
                heading=chunk.heading,
                text=chunk.text,
                score=round(fused[cid], 4),
                vector_score=round(vector_scores[cid], 4) if cid in vector_scores else None,
                keyword_score=round(keyword_scores.get(cid, 0.0), 4),
                citation=Citation(label=f"[{len(hits) + 1}]", source_title=title, url=url, chunk_index=chunk.index),
            )
        )
    return hits
