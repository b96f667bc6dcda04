"""One answer checked the same way wherever it was written (a chat reply, an orchestrator task's answer).

Both used to call the detector with different material: chat drew extra samples from the model and used the
local embedder whenever it was installed; the orchestrator used only the other models' answers as samples (so
a task with one model had none, and the consistency signal was left out) and the embedder only when
KNOWLEDGE_LOCAL_EMBEDDINGS allowed it. The same text then scored "0.00 supported" in one and "0.54 likely
hallucinated" in the other. Every caller now goes through `answer_check`, so the same text with the same
material gets the same score and verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hallucination.detector import Report, detect, sample_answers
from hallucination.signals import EmbedFn

log = logging.getLogger(__name__)


def _settings():
    from django.conf import settings

    return settings


def embedder() -> EmbedFn | None:
    """The local sentence embedder for the similarity signals when knowledge.embedding.local_embedder allows
    it; else None, and the detector compares words instead (what its weights were fitted with)."""
    if not getattr(_settings(), "KNOWLEDGE_LOCAL_EMBEDDINGS", False):
        return None  # not even imported: the detector also runs without Django's apps
    try:
        from knowledge.embedding import local_embedder

        return local_embedder()
    except Exception:  # optional: the detector falls back to lexical similarity
        log.debug("local embeddings unavailable", exc_info=True)
    return None


def question_of(messages: list[dict]) -> str:
    """The question an answer answers: the last user turn."""
    return next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")


async def answer_samples(
    messages: list[dict], *, model: str | None, other_answers: Sequence[str] = (), max_tokens: int | None = None
) -> list[str]:
    """The consistency signal's samples: the other models' answers to the same question when there are any,
    else HALLUCINATION_SAMPLES more answers drawn from the same model (never none just because one model
    answered)."""
    others = [a for a in other_answers if a and a.strip()]
    if others:
        return others
    settings = _settings()
    cap = settings.HALLUCINATION_SAMPLE_MAX_TOKENS
    return await sample_answers(
        messages, model=model or None, n=settings.HALLUCINATION_SAMPLES, max_tokens=min(max_tokens or cap, cap)
    )


async def answer_check(
    answer: str,
    *,
    messages: list[dict],
    model: str | None,
    sources: Sequence[str] = (),
    other_answers: Sequence[str] = (),
    max_tokens: int | None = None,
    embed: EmbedFn | None = None,
) -> Report:
    """The detector's report on `answer` to `messages` (written by `model`): the question, the sources, the
    samples of `answer_samples`, the configured judge and `embed` (pass `embedder()`). Raises what `detect`
    raises."""
    samples = await answer_samples(messages, model=model, other_answers=other_answers, max_tokens=max_tokens)
    return await detect(
        answer,
        prompt=question_of(messages),
        sources=list(sources),
        samples=list(samples),
        judge_model=_settings().HALLUCINATION_JUDGE_MODEL or None,
        embed=embed,
    )
