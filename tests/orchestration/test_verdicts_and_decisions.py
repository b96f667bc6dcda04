"""Reading the models' replies robustly (a small base model rarely writes clean JSON) and the decision rules."""

from __future__ import annotations

import pytest

from orchestration import decisions, verdicts


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"verdict": "agree", "claims": [], "reasons": "fine"}', "agree"),
        ('```json\n{"verdict": "Disagree", "reasons": "wrong year"}\n```', "disagree"),
        ('Sure! Here is my review: {"verdict": "agrees"} Hope it helps.', "agree"),
        ('{"agree": false}', "disagree"),
        ('{"claims": [{"claim": "a", "verdict": "agree"}, {"claim": "b", "verdict": "incorrect"}]}', "disagree"),
        ("Agree. The answer is right.", "agree"),
        ("DISAGREE - the capital is Paris", "disagree"),
        ('{"verdict": "maybe"}', "unparsed"),
        ("lorem ipsum dolor sit amet", "unparsed"),
        ("", "unparsed"),
        ('{"verdict": "agree", "claims": [', "unparsed"),
        ("[1, 2, 3]", "unparsed"),
    ],
)
def test_reviews_are_read_wherever_the_verdict_is(reply, verdict):
    assert verdicts.review_parse(reply).verdict == verdict


def test_claims_are_kept_claim_by_claim():
    review = verdicts.review_parse(
        '{"verdict": "disagree", "claims": [{"claim": "Paris is in Spain", "verdict": "no", "reason": "France"},'
        ' "a bare string"], "reasons": ["one", "two"]}'
    )
    assert review.claims == [
        {"claim": "Paris is in Spain", "verdict": "disagree", "reason": "France"},
        {"claim": "a bare string", "verdict": "unparsed", "reason": ""},
    ]
    assert review.reasons == "one two"


@pytest.mark.parametrize(
    ("reply", "slot"),
    [
        ('{"winner": "B", "reasoning": "clearer"}', 1),
        ('{"best": "answer c"}', 2),
        ("B", 1),
        ("C: it is the only correct one", 2),
        ("I think the best answer is B because it is right.", 1),
        ('{"winner": "D"}', None),  # not one of the answers offered
        ("A careful reading shows nothing.", None),  # "A" as an article is not a ballot
        ("no idea", None),
    ],
)
def test_ballots_and_rulings_name_an_offered_answer_or_nothing(reply, slot):
    assert verdicts.choice_parse(reply, {0, 1, 2}).slot == slot


def test_labels_go_past_z():
    assert [verdicts.label(i) for i in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]
    assert all(verdicts.slot_of(verdicts.label(i)) == i for i in range(60))


def test_agreement_matrix_and_scores():
    agreement = decisions.agreement_matrix(
        ["m0", "m1", "m2"],
        [(0, 1, "agree"), (0, 2, "disagree"), (1, 0, "agree"), (1, 2, "unparsed"), (2, 0, "failed"), (2, 1, "agree")],
    )
    assert agreement["matrix"] == [[None, 1, 0], [1, None, None], [None, 1, None]]
    assert agreement["scores"] == [1.0, 1.0, 0.0]
    assert agreement["verdicts"][2][0] == "failed" and agreement["verdicts"][1][1] == "self"


def test_consensus_needs_no_disagreement_and_half_the_reviews_read():
    agreement = decisions.agreement_matrix(["a", "b"], [(0, 1, "agree"), (1, 0, "agree")])
    assert decisions.consensus([0, 1], agreement, ["agree", "agree"], 2, {})["method"] == "consensus"
    assert decisions.consensus([0, 1], agreement, ["agree"], 3, {}) is None  # a third of the reviews read
    assert decisions.consensus([0, 1], agreement, ["agree", "disagree"], 2, {}) is None
    assert decisions.consensus([0, 1], agreement, [], 2, {}) is None


def test_ties_go_to_the_lower_hallucination_score_then_the_earlier_model():
    assert decisions.rank([0, 1, 2], lambda s: 1, {0: 0.6, 1: 0.2, 2: 0.2}) == 1
    assert decisions.rank([0, 1], lambda s: 1, {0: None, 1: 0.9}) == 1  # unscored counts as 1
    assert decisions.rank([0, 1], lambda s: 1, {}) == 0


def test_ballots_and_confidence():
    vote = decisions.vote_by_ballots([0, 1, 2], [1, 0, 0, None], {})
    assert vote["winner"] == 0 and vote["votes"] == {"A": 2, "B": 1, "C": 0}
    assert vote["support"] == pytest.approx(2 / 3, abs=1e-3)
    assert decisions.vote_by_ballots([0, 1], [None], {0: 0.5, 1: 0.1})["winner"] == 1
    assert decisions.confidence(1.0, 0.2) == 0.9 and decisions.confidence(0.5, None) == 0.5
    assert decisions.confidence(None, None) is None


def test_an_answer_no_other_model_judged_is_never_more_than_a_coin_toss():
    """One answer (or no readable review, ballot or ruling): the hallucination score alone, capped."""
    assert decisions.confidence(None, 0.2) == 0.5  # was 0.8: "high confidence" with nothing compared
    assert decisions.confidence(None, 0.0) == decisions.UNCHECKED_CONFIDENCE_MAX == 0.5
    assert decisions.confidence(None, 0.7) == 0.3
    assert decisions.confidence(1.0, 0.0) == 1.0  # checked by the others: not capped
    agreement = decisions.agreement_matrix(["a", "b", "c"], [(1, 0, "agree"), (2, 0, "disagree")])
    assert decisions.support_with_ruling(agreement, 0) == pytest.approx(2 / 3, abs=1e-3)
