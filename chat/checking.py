"""The hallucination check of a chat answer (`validate: true` in chat:send), and recovery when it fails.

After the answer has streamed, the detector scores it (extra samples for consistency, the retrieved
sources, unsupported specifics, hedging, a judge model when one is set). A bad verdict starts the
recovery loop (grounded retry, lower temperature, another model); the best attempt is kept, every
attempt is recorded on the message, and `notice` tells the user in one sentence what happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings

from llm.validation import response_check

log = logging.getLogger(__name__)

Progress = Callable[[dict], Awaitable[None]]
PREVIEW_CHARS = 32_000


def _timeout_s() -> float:
    return float(settings.HALLUCINATION_TIMEOUT_S)


def _checks(content: str, finish_reason: str) -> list[dict]:
    flags = response_check(content, finish_reason)
    return [{"name": f.code, "passed": False, "detail": f.reason} for f in flags] or [
        {"name": "response_checks", "passed": True, "detail": "not empty, not truncated, not repetitive"}
    ]


def _signals(report) -> list[dict]:
    data = report.to_dict()
    signals = data.get("signals", {})
    return [{"name": name, **values} for name, values in signals.items()]


def _attempt_json(attempt) -> dict:
    return {
        "strategy": attempt.strategy,
        "model": attempt.model,
        "temperature": attempt.temperature,
        "score": round(attempt.report.score, 4),
        "verdict": attempt.report.verdict,
        "content": attempt.content[:PREVIEW_CHARS],
    }


def _notice(first, best, attempts: list) -> str:
    if len(attempts) <= 1:
        if first.report.verdict == "supported":
            return ""
        return "This answer may contain unsupported statements: check the highlighted sentences."
    if best is first:
        return (
            f"The answer looked unreliable (risk {first.report.score:.2f}); "
            f"{'another attempt' if len(attempts) == 2 else f'{len(attempts) - 1} more attempts'} "
            "did no better, so the first answer is shown with its doubtful sentences highlighted."
        )
    how = {
        "grounded": "with the sources in the prompt",
        "lower_temperature": "at a lower temperature",
        "other_model": f"with {best.model}",
    }.get(best.strategy, f"({best.strategy})")
    return (
        f"The first answer looked unreliable (risk {first.report.score:.2f}); it was written again {how} "
        f"and that answer (risk {best.report.score:.2f}) is shown instead."
    )


async def check_answer(
    *,
    messages: list[dict],
    content: str,
    finish_reason: str,
    model: str,
    temperature: float | None,
    fallbacks: list[str],
    sources: list[str],
    progress: Progress,
    max_tokens: int | None = None,
) -> tuple[str, str, dict]:
    """Score the answer and recover if needed: (content to keep, its model, the `validation` of chat:done).

    A check that fails or runs out of time keeps the streamed answer with verdict `unchecked`."""
    checks = _checks(content, finish_reason)
    try:
        return await asyncio.wait_for(
            _check(
                messages=messages,
                content=content,
                model=model,
                temperature=temperature,
                fallbacks=fallbacks,
                sources=sources,
                progress=progress,
                checks=checks,
                max_tokens=max_tokens,
            ),
            _timeout_s(),
        )
    except TimeoutError:
        error = f"the check did not finish within {_timeout_s():g} s"
    except Exception as exc:
        log.exception("hallucination check failed")
        error = f"the check failed ({type(exc).__name__}: {exc})"[:300]
    return (
        content,
        model,
        {
            "verdict": "unchecked",
            "score": None,
            "signals": [],
            "sentences": [],
            "checks": checks,
            "attempts": [],
            "chosen": None,
            "replaced": False,
            "error": error,
            "notice": f"This answer could not be checked: {error}.",
        },
    )


async def _check(
    *, messages, content, model, temperature, fallbacks, sources, progress, checks, max_tokens
) -> tuple[str, str, dict]:
    from hallucination import detector
    from hallucination.answer_check import answer_check, embedder, question_of

    await progress({"stage": "checking"})
    prompt = question_of(messages)
    embed = embedder()
    # The same call as the orchestrator's check of a task's answer: the same text scores the same in both.
    report = await answer_check(
        content, messages=messages, model=model, sources=sources, max_tokens=max_tokens, embed=embed
    )
    first = detector.Attempt(content=content, model=model, temperature=temperature, strategy="first", report=report)
    best, attempts = first, [first]
    if report.verdict != "supported" and settings.HALLUCINATION_MAX_RECOVERY > 0:
        await progress({"stage": "recovering", "attempt": 2})
        tried = [first]

        async def on_attempt(attempt) -> None:
            tried.append(attempt)
            if attempt.report.verdict != "supported" and len(tried) <= settings.HALLUCINATION_MAX_RECOVERY:
                await progress({"stage": "recovering", "attempt": len(tried) + 1})

        best, attempts = await detector.recover(
            messages,
            first,
            model=model or None,
            fallback_models=fallbacks,
            sources=sources,
            max_attempts=settings.HALLUCINATION_MAX_RECOVERY,
            prompt=prompt,
            judge_model=settings.HALLUCINATION_JUDGE_MODEL or None,
            embed=embed,
            max_tokens=max_tokens,
            on_attempt=on_attempt,
        )
    attempts = list(attempts)
    validation = {
        "verdict": best.report.verdict,
        "score": round(best.report.score, 4),
        "signals": _signals(best.report),
        "sentences": best.report.to_dict().get("sentences", []),
        "checks": checks if best is first else _checks(best.content, "stop"),
        "attempts": [_attempt_json(a) for a in attempts],
        "chosen": attempts.index(best),
        "replaced": best is not first,
        "notice": _notice(first, best, attempts),
        "ms": round(sum(a.report.ms for a in attempts), 1),
    }
    return best.content, best.model or model, validation
