"""Recovery with the scripted fake server: a bad first answer leads to a grounded, a cooler or another
model's answer; every attempt is scored and recorded, the best is chosen, and the limit is kept."""

from __future__ import annotations

import pytest

from hallucination import Attempt, detect, recover, recovery_summary
from hallucination.detector import LOW_TEMPERATURE, grounded_messages
from tests.fixtures.hallucination import FAITHFUL, FALSIFIED, QUESTION, SOURCE

pytestmark = [pytest.mark.django_db(transaction=True)]

MESSAGES = [{"role": "user", "content": QUESTION}]
# The scripted fake-grounded model repeats source [1]: give it the faithful sentence as that source.
SOURCES = [FAITHFUL, SOURCE]


async def first_attempt(model: str, *, temperature: float | None = 0.8) -> Attempt:
    report = await detect(FALSIFIED, prompt=QUESTION, sources=SOURCES, judge_model="")
    assert report.verdict == "likely_hallucinated"
    return Attempt(content=FALSIFIED, model=model, temperature=temperature, strategy="first", report=report)


async def test_a_grounded_retry_that_is_supported_ends_the_loop_and_is_chosen(scripted):
    first = await first_attempt("fake-grounded")
    best, attempts = await recover(MESSAGES, first, model="fake-grounded", sources=SOURCES, max_attempts=2)
    assert [a.strategy for a in attempts] == ["first", "grounded"]
    assert best is attempts[1] and best.content == FAITHFUL
    assert best.report.verdict == "supported" and best.report.score < first.report.score
    assert scripted.state.chat_calls == ["fake-grounded"]  # stopped at the first supported answer


async def test_a_lower_temperature_comes_next_and_keeps_the_grounding(scripted):
    first = await first_attempt("fake-cool", temperature=0.9)
    best, attempts = await recover(MESSAGES, first, model="fake-cool", sources=SOURCES, max_attempts=2)
    assert [(a.strategy, a.temperature) for a in attempts] == [
        ("first", 0.9),
        ("grounded", 0.9),
        ("lower_temperature", LOW_TEMPERATURE),
    ]
    assert attempts[1].report.verdict == "likely_hallucinated"  # grounding alone did not help this model
    assert best is attempts[2] and best.content == FAITHFUL


async def test_another_model_is_tried_last(scripted):
    first = await first_attempt("fake-wrong")
    best, attempts = await recover(
        MESSAGES, first, model="fake-wrong", fallback_models=["fake-right"], sources=SOURCES, max_attempts=3
    )
    assert [(a.strategy, a.model) for a in attempts] == [
        ("first", "fake-wrong"),
        ("grounded", "fake-wrong"),
        ("lower_temperature", "fake-wrong"),
        ("other_model", "fake-right"),
    ]
    assert best is attempts[3] and best.report.verdict == "supported"
    assert scripted.state.chat_calls == ["fake-wrong", "fake-wrong", "fake-right"]


async def test_the_limit_is_kept_and_the_first_stays_best_when_nothing_helps(scripted):
    first = await first_attempt("fake-wrong")
    best, attempts = await recover(
        MESSAGES, first, model="fake-wrong", fallback_models=["fake-right"], sources=SOURCES, max_attempts=2
    )
    assert len(attempts) == 3 and len(scripted.state.chat_calls) == 2  # never the third remedy
    assert best is first  # equal scores: the first answer is kept
    assert all(a.report.verdict == "likely_hallucinated" for a in attempts)
    summary = recovery_summary(best, attempts)
    assert "none did better" in summary and "grounded" in summary


async def test_a_supported_first_answer_is_not_regenerated(scripted):
    report = await detect(FAITHFUL, prompt=QUESTION, sources=SOURCES, judge_model="")
    first = Attempt(content=FAITHFUL, model="fake-wrong", temperature=0.8, strategy="first", report=report)
    best, attempts = await recover(MESSAGES, first, model="fake-wrong", sources=SOURCES)
    assert best is first and attempts == [first] and scripted.state.chat_calls == []
    assert recovery_summary(best, attempts) == ""


async def test_a_failing_regeneration_is_noted_and_counts_against_the_limit(scripted):
    first = await first_attempt("fake-500", temperature=0.1)  # already cool: no lower-temperature step
    best, attempts = await recover(
        MESSAGES, first, model="fake-500", fallback_models=["fake-right"], sources=SOURCES, max_attempts=2
    )
    assert [a.strategy for a in attempts] == ["first", "other_model"]
    assert "grounded with fake-500 failed" in attempts[0].notes[0]
    assert best is attempts[1] and best.model == "fake-right"
    assert "showing attempt 2 of 2" in recovery_summary(best, attempts)


async def test_attempts_are_json_for_the_message_and_progress_is_reported(scripted):
    seen: list[str] = []

    async def on_attempt(attempt: Attempt) -> None:
        seen.append(attempt.strategy)

    first = await first_attempt("fake-cool")
    _best, attempts = await recover(
        MESSAGES, first, model="fake-cool", sources=SOURCES, max_attempts=2, on_attempt=on_attempt
    )
    assert seen == ["grounded", "lower_temperature"]
    data = [a.to_dict() for a in attempts]
    assert [d["verdict"] for d in data] == ["likely_hallucinated", "likely_hallucinated", "supported"]
    assert data[2]["report"]["sentences"][0]["text"] == FAITHFUL


def test_grounding_goes_before_the_question_in_the_user_turn():
    messages = grounded_messages([{"role": "system", "content": "Be brief."}, *MESSAGES], ["alpha", "beta"])
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert (
        messages[1]["role"] == "user" and "[1] alpha" in messages[1]["content"] and "[2] beta" in messages[1]["content"]
    )
    assert messages[1]["content"].endswith(f"Question: {MESSAGES[-1]['content']}") and len(messages) == 2
    assert [m["role"] for m in grounded_messages(MESSAGES, ["alpha"])] == ["user"]
