"""Embeddings through the LLM gateway (any backend with the model), stored as L2-normalised float32 bytes.

Normalised vectors make cosine similarity a plain dot product at search time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from asgiref.sync import async_to_sync
from django.conf import settings

from llm import gateway
from llm.catalogue import catalogue_get, models_by_id


class EmbeddingError(RuntimeError):
    """No vectors could be had; the message says which model and what to do."""


async def embedding_model_choose() -> str:
    """KNOWLEDGE_EMBEDDING_MODEL, else the first model a backend lists as an embedding model, else the
    default chat model (llama.cpp and LM Studio embed with a chat model too, less well)."""
    if settings.KNOWLEDGE_EMBEDDING_MODEL:
        return settings.KNOWLEDGE_EMBEDDING_MODEL
    try:
        by_id = models_by_id(await catalogue_get())
    except Exception as exc:  # noqa: BLE001 - Redis or discovery down: say so plainly
        raise EmbeddingError(f"the model catalogue could not be read ({exc})") from None
    embedders = sorted(m for m, infos in by_id.items() if any(i.kind == "embedding" for i in infos))
    if embedders:
        return embedders[0]
    try:
        return await gateway.default_model()
    except gateway.GatewayError as exc:
        raise EmbeddingError(f"no model to embed with: {exc.message}") from None


def normalise(vectors: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise EmbeddingError(f"the backend returned vectors of an unexpected shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype=np.float32)


async def _embed_batch(model: str, texts: list[str]) -> list[list[float]]:
    try:
        return await gateway.embeddings(model, texts)
    except gateway.GatewayError as exc:
        if exc.code == "not_found":
            raise EmbeddingError(
                f"no enabled backend serves the embedding model {model!r}: load it in LM Studio (or another "
                "backend), or re-embed this knowledge base with a model the backends list"
            ) from None
        tried = "; ".join(f"{a.backend}: {a.error}" for a in exc.attempts if a.error)
        raise EmbeddingError(
            f"embedding with {model!r} failed: {exc.message}{f' ({tried})' if tried else ''}"
        ) from None


def embed_texts(
    model: str, texts: list[str], *, batch_size: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[bytes]:  # fmt: skip
    """One normalised float32 vector (as bytes) per text, asked for in batches; `on_batch(done, total)`
    after each. Sync (Celery handlers, views): async_to_sync, not asyncio.run, so that under daphne the
    gateway's async ORM calls come back to this thread instead of deadlocking on asgiref's one sync thread."""
    batch_size = batch_size or settings.KNOWLEDGE_EMBED_BATCH
    out: list[bytes] = []
    width: int | None = None
    for start in range(0, len(texts), batch_size):
        batch = [t if t.strip() else "." for t in texts[start : start + batch_size]]
        vectors = async_to_sync(_embed_batch)(model, batch)
        if len(vectors) != len(batch):
            raise EmbeddingError(f"the backend returned {len(vectors)} vectors for {len(batch)} texts")
        matrix = normalise(vectors)
        if width is not None and matrix.shape[1] != width:
            raise EmbeddingError(f"the backend changed vector width mid-way ({width} → {matrix.shape[1]})")
        width = matrix.shape[1]
        out.extend(to_bytes(row) for row in matrix)
        if on_batch is not None:
            on_batch(min(start + batch_size, len(texts)), len(texts))
    return out


def embed_query(model: str, text: str) -> np.ndarray:
    """The normalised vector of a search query (sync)."""
    return normalise(async_to_sync(_embed_batch)(model, [text or "."]))[0]


async def aembed_query(model: str, text: str) -> np.ndarray:
    return normalise(await _embed_batch(model, [text or "."]))[0]
