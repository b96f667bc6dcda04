"""The combined score and verdict: a faithful answer is supported, a falsified one is flagged at the right
sentence; signals without material are left out and say so; bad input is refused with a clear error."""

from __future__ import annotations

import json

import pytest

from hallucination import VERDICTS, detect
from hallucination.detector import THRESHOLDS, combine, verdict_of, weights
from tests.fixtures.hallucination import FAITHFUL, FALSIFIED, QUESTION, SOURCE

SAMPLES = [
    "Gustave Eiffel's company completed the Eiffel Tower in 1889 for the World's Fair.",
    "It was completed in 1889 by the company of Gustave Eiffel, and it is 330 metres tall.",
]


async def test_a_faithful_answer_is_supported():
    report = await detect(FAITHFUL, prompt=QUESTION, sources=[SOURCE], samples=SAMPLES, judge_model="")
    assert report.verdict == "supported"
    assert report.mode == "sources"
    assert all(s.label == "supported" for s in report.sentences)


async def test_a_falsified_sentence_is_flagged_and_the_others_are_not():
    answer = f"{FAITHFUL} It is 330 metres tall. {FALSIFIED}"
    report = await detect(answer, prompt=QUESTION, sources=[SOURCE], samples=SAMPLES, judge_model="")
    assert report.verdict == "likely_hallucinated"
    assert [s.label for s in report.sentences] == ["supported", "supported", "likely_hallucinated"]
    assert report.score == max(s.score for s in report.sentences)
    flagged = report.sentences[2]
    assert answer[flagged.start : flagged.end] == FALSIFIED  # the page highlights exactly this
    assert "1925" in flagged.evidence["specifics"]
    assert [s.index for s in report.flagged] == [2]


async def test_an_invented_sentence_without_specifics_is_not_supported():
    answer = f"{FAITHFUL} Its lifts are powered by a hidden waterfall under the river."
    report = await detect(answer, prompt=QUESTION, sources=[SOURCE], samples=SAMPLES, judge_model="")
    assert report.sentences[0].label == "supported"
    assert report.sentences[1].label != "supported"


async def test_a_signal_without_material_is_left_out_and_its_weight_shared():
    report = await detect(FAITHFUL, prompt=QUESTION, judge_model="")  # no sources, no samples, no judge
    assert report.mode == "no_sources"
    left_out = {name: info for name, info in report.signals.items() if not info["used"]}
    assert set(left_out) == {"consistency", "support", "specifics", "judge", "nli"}
    assert "no extra samples" in left_out["consistency"]["evidence"]
    assert "no sources" in left_out["support"]["evidence"]
    assert "HALLUCINATION_JUDGE_MODEL" in left_out["judge"]["evidence"]
    assert all(info["score"] is None and info["weight"] == 0.0 for info in left_out.values())
    assert report.signals["uncertainty"]["weight"] == pytest.approx(1.0)
    assert report.sentences[0].signals == {"uncertainty": 0.0}  # never a 0 from a signal that did not run


async def test_used_weights_sum_to_one_and_follow_the_fitted_ratios():
    report = await detect(FAITHFUL, sources=[SOURCE], samples=SAMPLES, judge_model="")
    used = {n: i["weight"] for n, i in report.signals.items() if i["used"]}
    assert sum(used.values()) == pytest.approx(1.0)
    fitted = weights()
    assert used["support"] / used["consistency"] == pytest.approx(fitted["support"] / fitted["consistency"])


def test_the_combination_is_a_weighted_mean_of_the_signals_that_scored():
    assert combine({"support": 1.0, "specifics": 0.0}, {"support": 3.0, "specifics": 1.0}) == pytest.approx(0.75)
    assert combine({}, weights()) == 0.0
    for mode, (low, high) in THRESHOLDS.items():
        assert 0 < low <= high < 1
        assert verdict_of(low - 0.01, mode) == "supported"
        assert verdict_of(high, mode) == "likely_hallucinated"
        assert set(map(lambda s: verdict_of(s, mode), [0.0, 0.5, 1.0])) <= set(VERDICTS)


async def test_the_report_is_json_for_chat_done_and_storage():
    report = await detect(f"{FAITHFUL} {FALSIFIED}", prompt=QUESTION, sources=[SOURCE], samples=SAMPLES, judge_model="")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verdict"] in VERDICTS and 0 <= data["score"] <= 1 and data["ms"] >= 0
    assert data["sentences"][1]["label"] == "likely_hallucinated"
    assert set(data["sentences"][1]) >= {"index", "text", "start", "end", "score", "label", "signals", "evidence"}
    assert set(data["signals"]["specifics"]) >= {"score", "weight", "evidence", "used"}


async def test_an_empty_answer_is_supported_with_nothing_to_highlight():
    report = await detect("", sources=[SOURCE], judge_model="")
    assert report.sentences == [] and report.score == 0.0 and report.verdict == "supported"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"answer": None}, "answer: expected a string"),
        ({"answer": "x", "sources": "one long string"}, "sources: expected a list of strings"),
        ({"answer": "x", "samples": ["ok", 3]}, "samples[1]: expected a string"),
        ({"answer": "x", "signals": ["support", "vibes"]}, "unknown signal 'vibes'"),
        ({"answer": "x", "logprobs": [-0.5, 0.7]}, "logprobs: log-probabilities are at most 0"),
        ({"answer": "x", "prompt": 5}, "prompt: expected a string"),
    ],
)
async def test_bad_input_is_refused_with_an_error_naming_it(call, message):
    answer = call.pop("answer")
    with pytest.raises((TypeError, ValueError), match=message.replace("[", r"\[").replace("]", r"\]")):
        await detect(answer, judge_model="", **call)
