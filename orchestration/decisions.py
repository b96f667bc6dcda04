"""How one answer is chosen: the agreement matrix, the consensus rule, the votes and the confidence, as pure
functions over plain data (the runner gathers the reviews, ballots and rulings and stores what these return).

- Consensus: no readable review disagrees and at least CONSENSUS_MIN_READ of the reviews could be read; the
  best-reviewed answer is chosen.
- Vote by reviews (the `vote` tiebreaker): the answer with the most agreeing reviews.
- Vote by ballots (the `vote` strategy): the answer with the most ballots.
- Ties go to the lower hallucination score (an unscored answer counts as 1), then to the earlier model.
- Confidence: the mean of `support` (the share of the other models' readable judgements that back the chosen
  answer; a judge's ruling counts as one more) and 1 - its hallucination score, of those that exist. When no
  other model's judgement backs it (one answer, or no review, ballot or ruling could be read), nothing was
  compared: the confidence is 1 - the hallucination score alone, at most UNCHECKED_CONFIDENCE_MAX, so an
  answer nobody checked never reads as "high confidence".
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import mean

from orchestration.verdicts import AGREE, DISAGREE, label

CONSENSUS_MIN_READ = 0.5
# The most an unchecked answer can be trusted: the detector alone cannot tell a fluent invention from a fact
# (without sources it mostly reads hedging and how the samples agree), so it is never more than a coin toss.
UNCHECKED_CONFIDENCE_MAX = 0.5


def agreement_matrix(models: list[str], reviews: list[tuple[int, int, str]]) -> dict:
    """From (reviewer, answer, verdict or subtask status) triples: the matrix (row reviewer, column answer:
    1 agree, 0 disagree, None unknown), the verdicts as words, and each answer's score (mean of its column)."""
    n = len(models)
    words = [["self" if i == j else "skipped" for j in range(n)] for i in range(n)]
    for reviewer, target, verdict in reviews:
        words[reviewer][target] = verdict
    matrix = [[{AGREE: 1, DISAGREE: 0}.get(v) for v in line] for line in words]
    scores: list[float | None] = []
    for j in range(n):
        column = [matrix[i][j] for i in range(n) if i != j and matrix[i][j] is not None]
        scores.append(round(mean(column), 4) if column else None)
    return {
        "labels": [label(i) for i in range(n)],
        "models": models,
        "matrix": matrix,
        "verdicts": words,
        "scores": scores,
    }


def agreeing(agreement: dict, slot: int) -> int:
    """How many reviewers agree with the answer in `slot`."""
    return sum(1 for line in agreement["matrix"] if line[slot] == 1)


def rank(slots: list[int], count: Callable[[int], float], hallucination: dict[int, float | None]) -> int:
    """The slot with the highest count; ties to the lowest hallucination score, then to the earliest slot."""

    def risk(slot: int) -> float:
        score = hallucination.get(slot)
        return 1.0 if score is None else score

    return min(slots, key=lambda s: (-count(s), risk(s), s))


def consensus(ok: list[int], agreement: dict, read: list[str], reviews: int, hallucination: dict) -> dict | None:
    """The consensus decision when the readable reviews (`read`, of `reviews` in all) all agree, else None."""
    if not read or DISAGREE in read or len(read) < CONSENSUS_MIN_READ * reviews:
        return None
    scores = agreement["scores"]
    winner = rank(ok, lambda s: scores[s] if scores[s] is not None else -1, hallucination)
    return {
        "method": "consensus",
        "winner": winner,
        "support": scores[winner],
        "reasoning": f"All {len(read)} readable reviews agree.",
    }


def vote_by_reviews(ok: list[int], agreement: dict, read: list[str], reviews: int, hallucination: dict) -> dict:
    winner = rank(ok, lambda s: agreeing(agreement, s), hallucination)
    counts = {label(s): agreeing(agreement, s) for s in ok}
    if read:
        reasoning = (
            f"The reviews disagree; answer {label(winner)} has the most agreeing reviews ({counts[label(winner)]})."
        )
    else:
        reasoning = (
            f"None of the {reviews} reviews could be read; the answer with the fewest signs of "
            "hallucination was chosen."
        )
    return {
        "method": "vote",
        "winner": winner,
        "support": agreement["scores"][winner],
        "votes": counts,
        "reasoning": reasoning,
    }


def vote_by_ballots(ok: list[int], choices: list[int | None], hallucination: dict) -> dict:
    """`choices`: the slot each readable-or-not ballot named (None: unreadable)."""
    cast = [c for c in choices if c in ok]
    counts = {s: cast.count(s) for s in ok}
    winner = rank(ok, lambda s: counts[s], hallucination)
    if cast:
        reasoning = f"Answer {label(winner)} received {counts[winner]} of {len(cast)} readable ballots."
    else:
        reasoning = "No ballot could be read; the answer with the fewest signs of hallucination was chosen."
    return {
        "method": "vote",
        "winner": winner,
        "support": round(counts[winner] / len(cast), 4) if cast else None,
        "votes": {label(s): counts[s] for s in ok},
        "reasoning": reasoning,
    }


def support_with_ruling(agreement: dict | None, winner: int) -> float:
    """The judge's ruling counts as one more judgement backing the winner, beside the reviews of it."""
    column = [line[winner] for line in agreement["matrix"]] if agreement else []
    return round(mean([v for v in column if v is not None] + [1]), 4)


def is_checked(decision: dict) -> bool:
    """Whether another model's judgement (a review, a ballot or a ruling) backs the chosen answer."""
    return decision.get("support") is not None


def confidence(support: float | None, hallucination_score: float | None) -> float | None:
    """How sure the task is of its answer, 0..1 (see the module docstring); None when nothing says."""
    unscored = hallucination_score is None
    if support is None:
        return None if unscored else round(min(1 - hallucination_score, UNCHECKED_CONFIDENCE_MAX), 4)
    return round(mean([support] if unscored else [support, 1 - hallucination_score]), 4)
