"""Against the real llama.cpp server with the small test model: extra samples, token log-probabilities through
the gateway, and the model as a judge. Mechanics only: the model is too small for its wording to mean much."""

from __future__ import annotations

import math

import pytest

from hallucination import detect, sample_answers
from llm import gateway
from tests.fixtures.hallucination import FAITHFUL, FALSIFIED, SOURCE
from tests.fixtures.llm import MODEL

pytestmark = [pytest.mark.django_db(transaction=True)]

MESSAGES = [{"role": "user", "content": "Name one famous tower in Paris."}]


async def test_sample_answers_draws_extra_answers_through_the_gateway(llama):
    samples = await sample_answers(MESSAGES, model=MODEL, n=2, temperature=1.0, max_tokens=24)
    assert 1 <= len(samples) <= 2  # an empty reply is skipped, never returned
    assert all(isinstance(s, str) and s.strip() for s in samples)


async def test_samples_that_fail_are_skipped(llama):
    assert await sample_answers(MESSAGES, model="no-such-model", n=2, max_tokens=8) == []
    assert await sample_answers(MESSAGES, model=MODEL, n=0) == []


async def test_the_gateway_returns_token_log_probabilities_when_asked(llama):
    asked = await gateway.chat(
        gateway.ChatRequest(messages=MESSAGES, model=MODEL, max_tokens=12, extra={"logprobs": True, "top_logprobs": 3})
    )
    assert asked.logprobs and len(asked.logprobs) == len(asked.logprob_tokens) == len(asked.top_logprobs)
    assert all(v <= 0 and math.isfinite(v) for v in asked.logprobs)
    assert "".join(asked.logprob_tokens) == asked.content
    assert all(1 <= len(top) <= 4 for top in asked.top_logprobs)  # the 3 likeliest, and the chosen one
    plain = await gateway.chat(gateway.ChatRequest(messages=MESSAGES, model=MODEL, max_tokens=4))
    assert plain.logprobs is None and plain.logprob_tokens is None


async def test_real_log_probabilities_feed_the_uncertainty_signal(llama):
    request = gateway.ChatRequest(messages=MESSAGES, model=MODEL, max_tokens=24, extra={"logprobs": True})
    request.extra["top_logprobs"] = 1
    result = await gateway.chat(request)
    report = await detect(
        result.content, logprobs=result.logprobs, logprob_tokens=result.logprob_tokens, signals=["uncertainty"]
    )
    assert report.signals["uncertainty"]["note"] == "hedging phrases and token log-probabilities"
    for sentence in report.sentences:
        assert 0.0 <= sentence.signals["uncertainty"] <= 1.0
        assert "token probability" in sentence.evidence["uncertainty"]


async def test_the_test_model_can_serve_as_judge(llama):
    report = await detect(f"{FAITHFUL} {FALSIFIED}", sources=[SOURCE], signals=["judge"], judge_model=MODEL)
    judge = report.signals["judge"]
    if judge["used"]:  # its first token's yes/no odds, or its words
        for sentence in report.sentences:
            if "judge" in sentence.signals:
                assert 0.0 <= sentence.signals["judge"] <= 1.0
                assert MODEL in sentence.evidence["judge"]
    else:  # a base model may give neither: then the signal says so instead of scoring
        assert "no verdict" in judge["evidence"]
