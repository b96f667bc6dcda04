"""The JSON shapes of knowledge bases, sources and chunks: one place, used by the API and the pages."""

from __future__ import annotations

from knowledge.models import Chunk, KnowledgeBase, Source


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def base_json(kb: KnowledgeBase) -> dict:
    return {
        "id": kb.pk,
        "name": kb.name,
        "description": kb.description,
        "embedding_model": kb.embedding_model,
        "source_count": getattr(kb, "source_count", None),
        "chunk_count": getattr(kb, "chunk_count", None),
        "created_at": _iso(kb.created_at),
        "updated_at": _iso(kb.updated_at),
        "url": f"/knowledge/{kb.pk}/",
    }


def source_json(source: Source) -> dict:
    return {
        "id": source.pk,
        "kb_id": source.kb_id,
        "kind": source.kind,
        "title": source.display_title,
        "original_name": source.original_name,
        "mime": source.mime,
        "size_bytes": source.size_bytes,
        "status": source.status,
        "error": source.error,
        "chunk_count": source.chunk_count,
        "url": source.url,
        "job_id": source.job_id,
        "created_at": _iso(source.created_at),
        "updated_at": _iso(source.updated_at),
        "page_url": f"/knowledge/{source.kb_id}/sources/{source.pk}/",
    }


def chunk_json(chunk: Chunk) -> dict:
    return {"index": chunk.index, "heading": chunk.heading, "text": chunk.text, "token_count": chunk.token_count}
