"""Reads of knowledge bases, sources and chunks. Every read takes the user: another user's base or source
is NotFound (a 404), exactly as if it did not exist."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from core.errors import NotFound
from knowledge.models import Chunk, KnowledgeBase, Source

SOURCE_CHUNKS_SHOWN = 200


def _with_counts(qs: QuerySet[KnowledgeBase]) -> QuerySet[KnowledgeBase]:
    # Subqueries, not two joined Counts: joining sources and chunks multiplies the rows counted.
    sources = Source.objects.filter(kb=OuterRef("pk")).order_by().values("kb")
    return qs.annotate(
        source_count=Coalesce(Subquery(sources.annotate(n=Count("pk")).values("n")[:1]), Value(0)),
        chunk_count=Coalesce(
            Subquery(sources.annotate(n=Sum("chunk_count")).values("n")[:1], output_field=IntegerField()), Value(0)
        ),
    )


def kb_list(*, user) -> QuerySet[KnowledgeBase]:
    """The user's knowledge bases, by name, each with `source_count` and `chunk_count`."""
    return _with_counts(KnowledgeBase.objects.filter(user=user))


def kb_list_owned(*, user, ids: Iterable[int]) -> QuerySet[KnowledgeBase]:
    """Those of `ids` that are the user's own (the others are silently left out)."""
    return KnowledgeBase.objects.filter(user=user, pk__in=list(ids))


def kb_get(*, user, pk: int) -> KnowledgeBase:
    kb = kb_list(user=user).filter(pk=pk).first()
    if kb is None:
        raise NotFound("No such knowledge base.")
    return kb


def source_list(*, user, kb: KnowledgeBase) -> QuerySet[Source]:
    return Source.objects.filter(kb=kb, kb__user=user).defer("text")


def source_get(*, user, pk: int) -> Source:
    source = Source.objects.select_related("kb").filter(pk=pk, kb__user=user).first()
    if source is None:
        raise NotFound("No such source.")
    return source


def chunk_list(*, user, source: Source, limit: int = SOURCE_CHUNKS_SHOWN) -> QuerySet[Chunk]:
    return Chunk.objects.filter(source=source, kb__user=user).order_by("index").defer("embedding")[:limit]
