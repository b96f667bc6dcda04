"""Grounding an answer in the conversation's knowledge bases: retrieve, tell the model, keep the citations.

The best chunks for the user's question go before it, in the user turn, as numbered sources; the model is
asked to cite them as [1], [2], …; the message keeps the chunks it was given, so the page links each
marker to its source and the hallucination check measures the answer against the same text.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from django.conf import settings

log = logging.getLogger(__name__)

EXCERPT_CHARS = 400

INSTRUCTIONS = (
    "Answer from the numbered sources below. After each statement taken from a source, cite it as [n]. "
    "If the sources do not contain the answer, say so plainly instead of guessing."
)


@dataclass
class Grounding:
    """What an answer was grounded in; `sources` are the chunk texts, in citation order."""

    citations: list[dict] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    warning: str = ""

    @property
    def system_text(self) -> str:
        parts = [INSTRUCTIONS, ""]
        for citation, text in zip(self.citations, self.sources, strict=True):
            heading = f" — {citation['heading']}" if citation.get("heading") else ""
            parts.append(f"[{citation['n']}] {citation['source_title']}{heading}\n{text.strip()}\n")
        return "\n".join(parts).rstrip()


def citation_of(n: int, hit: dict) -> dict:
    """The part of a retrieval hit a message keeps and the page shows (no embeddings, a short excerpt)."""
    text = " ".join(hit["text"].split())
    return {
        "n": n,
        "kb_id": hit["kb_id"],
        "kb_name": hit["kb_name"],
        "source_id": hit["source_id"],
        "source_title": hit["source_title"],
        "chunk_id": hit["chunk_id"],
        "chunk_index": hit["index"],
        "heading": hit["heading"],
        "score": hit["score"],
        "url": hit["citation"]["url"],
        "page": f"/knowledge/{hit['kb_id']}/sources/{hit['source_id']}/#chunk-{hit['index']}",
        "excerpt": text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…",
    }


async def retrieve(*, user, kb_ids: list[int], query: str, k: int | None = None) -> Grounding:
    """The top-k chunks for `query`; a failure is a warning on the answer, never a failed answer."""
    from knowledge import retrieval

    if not kb_ids or not query.strip():
        return Grounding()
    k = k or settings.CHAT_GROUNDING_TOP_K
    try:
        hits = await asyncio.wait_for(
            retrieval.asearch(user=user, kb_ids=kb_ids, query=query, k=k), settings.CHAT_GROUNDING_TIMEOUT_S
        )
    except TimeoutError:
        return Grounding(warning=f"the knowledge bases did not answer within {settings.CHAT_GROUNDING_TIMEOUT_S:g} s")
    except Exception as exc:  # the answer goes on without sources, and says so
        log.warning("retrieval for chat failed", exc_info=True)
        return Grounding(warning=f"the knowledge bases could not be searched ({type(exc).__name__})")
    if not hits:
        return Grounding(warning="nothing in the attached knowledge bases matched the question")
    return Grounding(
        citations=[citation_of(n, hit) for n, hit in enumerate(hits, start=1)], sources=[h["text"] for h in hits]
    )


def grounded_messages(messages: list[dict], grounding: Grounding) -> list[dict]:
    """The conversation with the sources put before the last question, in the user turn.

    Not in the system prompt: some chat templates (Gemma's, in llama.cpp) drop system messages, and the
    sources belong to this question only. Stored history is untouched: this is the request alone."""
    if not grounding.citations:
        return messages
    last = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last is None:
        return [*messages, {"role": "user", "content": grounding.system_text}]
    question = messages[last]["content"]
    asked = {"role": "user", "content": f"{grounding.system_text}\n\nQuestion: {question}"}
    return [*messages[:last], asked, *messages[last + 1 :]]
