"""Each signal on constructed cases: an answer with a changed number, name or date against its source is
flagged; a faithful one is not. The judge runs against the scripted judge; the rest needs no server."""

from __future__ import annotations

import math

import pytest

from hallucination import detect
from hallucination.signals import judge_odds, judge_parse, judge_score
from tests.fixtures.hallucination import FAITHFUL, FALSIFIED, QUESTION, SOURCE, bag_of_words_embedder


async def one(signal: str, answer: str, **material) -> list[float | None]:
    """The signal's score for each sentence of `answer` (None: no opinion on it)."""
    report = await detect(answer, signals=[signal], judge_model=material.pop("judge_model", ""), **material)
    assert report.signals[signal]["used"], report.signals[signal]["evidence"]
    return [s.signals.get(signal) for s in report.sentences]


# --- specifics ---
@pytest.mark.parametrize(
    ("answer", "what"),
    [
        ("The Eiffel Tower was completed in 1925 by the company of Gustave Eiffel.", "year 1925"),
        ("The Eiffel Tower was completed in 1889 by the company of Gustave Martin.", "name Gustave Martin"),
        ("The Eiffel Tower is 350 metres tall.", "number 350"),
        ("The Eiffel Tower was completed on 31 March 1889.", "date March"),
        ("More at https://eiffel.example/history and in [4].", "URL and citation"),
    ],
)
async def test_a_changed_specific_is_flagged(answer, what):
    scores = await one("specifics", answer, sources=[SOURCE], prompt=QUESTION)
    assert scores[0] is not None and scores[0] >= 0.7, what


async def test_faithful_specifics_are_not_flagged_and_the_reason_names_the_changed_one():
    report = await detect(FAITHFUL + " " + FALSIFIED, sources=[SOURCE], signals=["specifics"], judge_model="")
    faithful, falsified = report.sentences
    assert faithful.signals["specifics"] == 0.0
    assert falsified.signals["specifics"] > 0.9
    assert "1925" in falsified.evidence["specifics"] and "Gustave Martin" in falsified.evidence["specifics"]


async def test_specifics_from_the_prompt_count_as_given():
    scores = await one(
        "specifics", "The tower was repainted in 1968.", sources=[SOURCE], prompt="Was it repainted in 1968?"
    )
    assert scores == [0.0]


async def test_a_sentence_without_specifics_gets_no_opinion_from_that_signal():
    assert await one("specifics", "It is a famous tower. It was completed in 1889.", sources=[SOURCE]) == [None, 0.0]


# --- support ---
async def test_a_sentence_the_sources_do_not_contain_is_unsupported_and_a_faithful_one_is_supported():
    answer = f"{FAITHFUL} The tower is painted gold every spring by volunteers from Lyon."
    faithful, invented = await one("support", answer, sources=[SOURCE])
    assert faithful < 0.15
    assert invented > 0.8


async def test_support_uses_an_injected_embedder_and_falls_back_to_words_when_it_fails():
    embedded = await detect(FAITHFUL, sources=[SOURCE], signals=["support"], embed=bag_of_words_embedder())
    assert "embedding" in embedded.sentences[0].evidence["support"]
    assert embedded.signals["support"]["note"] == "lexical + embedding similarity"

    async def broken(texts: list[str]):
        raise ConnectionError("embedding backend down")

    fallback = await detect(FAITHFUL, sources=[SOURCE], signals=["support"], embed=broken)
    assert fallback.signals["support"]["used"]
    assert "embedding failed" in fallback.signals["support"]["note"]
    assert "ConnectionError" in fallback.signals["support"]["note"]


# --- consistency ---
async def test_consistency_is_low_when_samples_agree_and_high_when_they_contradict():
    agreeing = [
        "Gustave Eiffel's company completed the Eiffel Tower in 1889.",
        "It was completed in 1889, built by the company of Gustave Eiffel.",
    ]
    contradicting = [
        "The Eiffel Tower was completed in 1887 by the company of Gustave Eiffel.",
        "The Eiffel Tower was completed in 1891 by the firm of Alexandre Dumas.",
    ]
    [agreed] = await one("consistency", FAITHFUL, samples=agreeing)
    [contradicted] = await one("consistency", FAITHFUL, samples=contradicting)
    assert agreed < 0.3
    assert contradicted > 0.6
    report = await detect(FAITHFUL, samples=contradicting, signals=["consistency"], judge_model="")
    assert "1889" in report.sentences[0].evidence["consistency"]  # the detail no sample repeats


# --- uncertainty ---
@pytest.mark.parametrize(
    ("sentence", "least"),
    [
        ("I'm not sure, but it was probably finished in 1889.", 0.8),
        ("I think it was finished in 1889.", 0.5),
        ("It was reportedly finished in 1889.", 0.4),
    ],
)
async def test_hedging_phrases_raise_uncertainty(sentence, least):
    [score] = await one("uncertainty", sentence)
    assert score >= least


async def test_a_plain_statement_is_not_uncertain():
    assert await one("uncertainty", FAITHFUL) == [0.0]


async def test_log_probabilities_mark_the_sentence_the_model_was_unsure_of():
    answer = "It was completed in 1889. It was built by Gustave Martin."
    tokens = ["It", " was", " completed", " in", " 1889.", " It", " was", " built", " by", " Gustave", " Martin."]
    sure = [-0.01, -0.02, -0.05, -0.01, -0.1]
    unsure = [-0.01, -0.02, -0.3, -0.2, -2.5, -7.5]
    confident, hesitant = await one("uncertainty", answer, logprobs=sure + unsure, logprob_tokens=tokens)
    assert confident < 0.1
    assert hesitant > 0.5
    report = await detect(answer, logprobs=sure + unsure, logprob_tokens=tokens, signals=["uncertainty"])
    assert "least 0.001" in report.sentences[1].evidence["uncertainty"]  # exp(-7.5)


async def test_log_probabilities_without_tokens_are_spread_over_the_answer():
    answer = "It was completed in 1889. It was built by Gustave Martin."
    first, second = await one("uncertainty", answer, logprobs=[-0.01] * 6 + [-6.0] * 6)
    assert first < 0.1 < 0.5 < second


# --- judge (scripted) ---
@pytest.mark.django_db(transaction=True)
async def test_the_judge_flags_the_falsified_sentence_and_passes_the_faithful_one(scripted):
    report = await detect(f"{FAITHFUL} {FALSIFIED}", sources=[SOURCE], signals=["judge"], judge_model="fake-judge")
    faithful, falsified = report.sentences
    assert faithful.signals["judge"] == 0.0 and "says supported" in faithful.evidence["judge"]
    assert falsified.signals["judge"] == 1.0 and "says not supported" in falsified.evidence["judge"]
    assert scripted.state.chat_calls.count("fake-judge") == 2  # one question per sentence


@pytest.mark.django_db(transaction=True)
async def test_a_judge_that_fails_is_left_out_with_the_reason(scripted):
    report = await detect(FAITHFUL, sources=[SOURCE], signals=["judge", "specifics"], judge_model="fake-500")
    judge = report.signals["judge"]
    assert judge["used"] is False and judge["weight"] == 0.0 and judge["score"] is None
    assert "fake-500" in judge["evidence"] and "failed" in judge["evidence"]
    assert report.signals["specifics"]["weight"] == 1.0


def test_judge_replies_are_read_robustly():
    assert judge_parse("Yes.") is True
    assert judge_parse("  no, the year differs") is False
    assert judge_parse("The sentence is not supported by the sources.") is False
    assert judge_parse("Supported: the sources say so") is True
    assert judge_parse("SOURCES: [1]") is None
    assert judge_parse("") is None


def test_the_judge_s_yes_no_odds_grade_its_verdict():
    assert judge_odds({"Yes": math.log(0.6), "No": math.log(0.2), "The": math.log(0.1)}) == pytest.approx(0.25)
    assert judge_odds({"Answer": -0.1}) is None
    # A reply that starts with its verdict is graded by the odds; one that rambles first by its words.
    assert judge_score("No", {"No": math.log(0.9), "Yes": math.log(0.1)})[0] == pytest.approx(0.9)
    assert judge_score("Well, it is not supported", {"Well": -0.1, "Yes": -3.0})[0] == 1.0
    assert judge_score("Hmm", None) == (None, "gave no yes or no")


# --- NLI, pluggable ---
async def test_the_nli_signal_is_left_out_unless_a_local_model_is_configured(tmp_path):
    unset = await detect(FAITHFUL, sources=[SOURCE], nli_model_path="", judge_model="")
    assert unset.signals["nli"]["used"] is False
    assert "HALLUCINATION_NLI_MODEL_PATH" in unset.signals["nli"]["evidence"]
    missing = await detect(FAITHFUL, sources=[SOURCE], nli_model_path=str(tmp_path / "nope"), judge_model="")
    assert "does not exist" in missing.signals["nli"]["evidence"]
    present = await detect(FAITHFUL, sources=[SOURCE], nli_model_path=str(tmp_path), judge_model="")
    try:
        import transformers  # noqa: F401

        assert present.signals["nli"]["used"] or "failed" in present.signals["nli"]["evidence"]
    except ImportError:
        assert "transformers" in present.signals["nli"]["evidence"]
